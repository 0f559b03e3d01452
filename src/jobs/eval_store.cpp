#include "switchyard/jobs/eval_store.hpp"

#include <sqlite3.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace switchyard {

namespace {

namespace json = boost::json;

error store_error(sqlite3* db, const std::string& what) {
  return make_error(errc::internal, "evaluation store: " + what + ": " +
                                        (db ? sqlite3_errmsg(db) : "out of memory"));
}

struct statement {
  sqlite3_stmt* s = nullptr;
  ~statement() { sqlite3_finalize(s); }
};

sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

int bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), transient());
}

std::string text_at(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : "";
}

constexpr const char* schema = R"(
CREATE TABLE IF NOT EXISTS evaluations (
  id TEXT PRIMARY KEY,
  experiment TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  summary TEXT NOT NULL,
  report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_experiment ON evaluations (experiment, created_at);
)";

}  // namespace

result<std::unique_ptr<eval_store>> eval_store::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    auto e = store_error(db, "open " + path);
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_busy_timeout(db, 2000);
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto e = store_error(db, "create the table in " + path);
    sqlite3_close_v2(db);
    return e;
  }
  return std::unique_ptr<eval_store>(new eval_store(db));
}

eval_store::~eval_store() {
  sqlite3_close_v2(db_);
}

result<void> eval_store::save(const eval_report& r) {
  const std::string summary = json::serialize(report_summary_json(r));
  const std::string full = json::serialize(report_json(r, true));
  std::lock_guard lock(mu_);
  statement st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO evaluations (id, experiment, status, created_at, "
                         "finished_at, summary, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return store_error(db_, "save an evaluation");
  }
  bind_text(st.s, 1, r.id);
  bind_text(st.s, 2, r.experiment);
  bind_text(st.s, 3, r.status);
  sqlite3_bind_int64(st.s, 4, r.created_at);
  sqlite3_bind_int64(st.s, 5, r.finished_at);
  bind_text(st.s, 6, summary);
  bind_text(st.s, 7, full);
  if (sqlite3_step(st.s) != SQLITE_DONE) {
    return store_error(db_, "save evaluation " + r.id);
  }
  return {};
}

result<std::vector<json::value>> eval_store::list(const std::string& experiment,
                                                  std::size_t limit) {
  std::lock_guard lock(mu_);
  statement st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT summary FROM evaluations WHERE (?1 = '' OR experiment = ?1) "
                         "ORDER BY created_at DESC, id DESC LIMIT ?2",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return store_error(db_, "list evaluations");
  }
  bind_text(st.s, 1, experiment);
  sqlite3_bind_int64(st.s, 2,
                     static_cast<sqlite3_int64>(std::min<std::size_t>(
                         limit, static_cast<std::size_t>(std::numeric_limits<int>::max()))));
  std::vector<json::value> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    json::error_code ec;
    auto v = json::parse(text_at(st.s, 0), ec);
    if (!ec) {
      out.push_back(std::move(v));
    }
  }
  if (rc != SQLITE_DONE) {
    return store_error(db_, "list evaluations");
  }
  return out;
}

result<std::optional<json::value>> eval_store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  statement st;
  if (sqlite3_prepare_v2(db_, "SELECT report FROM evaluations WHERE id = ?", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return store_error(db_, "read an evaluation");
  }
  bind_text(st.s, 1, id);
  const int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) {
    return std::optional<json::value>();
  }
  if (rc != SQLITE_ROW) {
    return store_error(db_, "read evaluation " + id);
  }
  json::error_code ec;
  auto v = json::parse(text_at(st.s, 0), ec);
  if (ec) {
    return store_error(db_, "evaluation " + id + " is stored damaged");
  }
  return std::optional<json::value>(std::move(v));
}

}  // namespace switchyard
