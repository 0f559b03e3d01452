#include "switchyard/alerts/alert_store.hpp"

#include "switchyard/alerts/alert_json.hpp"

#include <sqlite3.h>
#include <boost/json.hpp>

#include <cstdint>

namespace switchyard {

namespace {

namespace json = boost::json;

error store_error(sqlite3* db, const std::string& what) {
  return make_error(errc::internal,
                    "alert store: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// Owns a prepared statement; finalised on every path.
struct statement {
  sqlite3_stmt* s = nullptr;
  ~statement() { sqlite3_finalize(s); }
};

// SQLITE_TRANSIENT (copy the text) without the macro's old-style cast.
sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

int bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), transient());
}

int bind_opt(sqlite3_stmt* s, int i, const std::optional<double>& v) {
  return v ? sqlite3_bind_double(s, i, *v) : sqlite3_bind_null(s, i);
}

int bind_opt(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
  return v ? sqlite3_bind_int64(s, i, *v) : sqlite3_bind_null(s, i);
}

std::string text_at(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : "";
}

std::optional<double> real_at(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_double(s, col);
}

std::optional<std::int64_t> int_at(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(s, col);
}

alert_scope_value scope_from(const std::string& text) {
  alert_scope_value s;
  json::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return s;
  }
  const auto& o = v.as_object();
  const auto get = [&](const char* k, std::string& out) {
    if (const auto* x = o.if_contains(k); x && x->is_string()) {
      out = std::string(x->as_string());
    }
  };
  get("model", s.model);
  get("upstream", s.upstream);
  get("prompt_version", s.prompt_version);
  get("experiment", s.experiment);
  get("variant", s.variant);
  return s;
}

constexpr const char* schema = R"(
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  rule TEXT NOT NULL,
  kind TEXT NOT NULL,
  metric TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  scope TEXT NOT NULL,
  value REAL,
  threshold REAL,
  comparison TEXT NOT NULL,
  window_seconds INTEGER,
  message TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  resolved_at INTEGER,
  acknowledged_at INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, id);
)";

}  // namespace

result<std::unique_ptr<alert_store>> alert_store::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    auto e = store_error(db, "open " + path);
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_busy_timeout(db, 2000);
  if (sqlite3_exec(db, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto e = store_error(db, "create the table in " + path);
    sqlite3_close_v2(db);
    return e;
  }
  return std::unique_ptr<alert_store>(new alert_store(db));
}

alert_store::~alert_store() {
  sqlite3_close_v2(db_);
}

result<std::vector<alert>> alert_store::load() {
  statement st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, rule, kind, metric, severity, state, scope, value, threshold, "
                         "comparison, window_seconds, message, started_at, updated_at, "
                         "resolved_at, acknowledged_at FROM alerts ORDER BY id",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return store_error(db_, "read alerts");
  }
  std::vector<alert> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    alert a;
    a.id = sqlite3_column_int64(st.s, 0);
    a.rule = text_at(st.s, 1);
    a.kind = text_at(st.s, 2);
    a.metric = text_at(st.s, 3);
    a.severity = text_at(st.s, 4);
    a.state = text_at(st.s, 5);
    a.scope = scope_from(text_at(st.s, 6));
    a.value = real_at(st.s, 7);
    a.threshold = real_at(st.s, 8);
    a.comparison = text_at(st.s, 9);
    a.window_seconds = int_at(st.s, 10);
    a.message = text_at(st.s, 11);
    a.started_at = sqlite3_column_int64(st.s, 12);
    a.updated_at = sqlite3_column_int64(st.s, 13);
    a.resolved_at = int_at(st.s, 14);
    a.acknowledged_at = int_at(st.s, 15);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) {
    return store_error(db_, "read alerts");
  }
  return out;
}

result<void> alert_store::save(const alert& a) {
  statement st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO alerts (id, rule, kind, metric, severity, state, "
                         "scope, value, threshold, comparison, window_seconds, message, "
                         "started_at, updated_at, resolved_at, acknowledged_at) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return store_error(db_, "save alert");
  }
  int rc = sqlite3_bind_int64(st.s, 1, a.id);
  rc |= bind_text(st.s, 2, a.rule);
  rc |= bind_text(st.s, 3, a.kind);
  rc |= bind_text(st.s, 4, a.metric);
  rc |= bind_text(st.s, 5, a.severity);
  rc |= bind_text(st.s, 6, a.state);
  rc |= bind_text(st.s, 7, json::serialize(scope_json(a.scope)));
  rc |= bind_opt(st.s, 8, a.value);
  rc |= bind_opt(st.s, 9, a.threshold);
  rc |= bind_text(st.s, 10, a.comparison);
  rc |= bind_opt(st.s, 11, a.window_seconds);
  rc |= bind_text(st.s, 12, a.message);
  rc |= sqlite3_bind_int64(st.s, 13, a.started_at);
  rc |= sqlite3_bind_int64(st.s, 14, a.updated_at);
  rc |= bind_opt(st.s, 15, a.resolved_at);
  rc |= bind_opt(st.s, 16, a.acknowledged_at);
  if (rc != SQLITE_OK || sqlite3_step(st.s) != SQLITE_DONE) {
    return store_error(db_, "save alert " + std::to_string(a.id));
  }
  return {};
}

result<std::size_t> alert_store::prune(std::size_t keep) {
  statement st;
  if (sqlite3_prepare_v2(db_,
                         "DELETE FROM alerts WHERE state = 'resolved' AND id NOT IN (SELECT id "
                         "FROM alerts WHERE state = 'resolved' ORDER BY id DESC LIMIT ?1)",
                         -1, &st.s, nullptr) != SQLITE_OK ||
      sqlite3_bind_int64(st.s, 1, static_cast<std::int64_t>(keep)) != SQLITE_OK ||
      sqlite3_step(st.s) != SQLITE_DONE) {
    return store_error(db_, "prune resolved alerts");
  }
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

}  // namespace switchyard
