#include "switchyard/jobs/eval_store.hpp"

#include "../experiments/sqlite_db.hpp"

#include <sqlite3.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace switchyard {

namespace {

namespace json = boost::json;

constexpr std::string_view store_name = "evaluation store";

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
CREATE INDEX IF NOT EXISTS evaluations_created ON evaluations (created_at, id);
)";

enum stmt_id { save_s, prune_s, list_s, get_s, stmt_count };

// In stmt_id order.
constexpr std::array<const char*, stmt_count> statements = {
    "INSERT OR REPLACE INTO evaluations (id, experiment, status, created_at, finished_at, "
    "summary, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
    // The newest `keep` stay (the order of list()); everything older goes.
    "DELETE FROM evaluations WHERE id NOT IN (SELECT id FROM evaluations ORDER BY created_at "
    "DESC, id DESC LIMIT ?)",
    "SELECT summary FROM evaluations WHERE (?1 = '' OR experiment = ?1) ORDER BY created_at "
    "DESC, id DESC LIMIT ?2",
    "SELECT report FROM evaluations WHERE id = ?",
};

std::int64_t clamp_count(std::size_t n) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

}  // namespace

struct eval_store::impl {
  sqlite::prepared_db<stmt_count> db;
  sqlite3_stmt* operator[](stmt_id i) const { return db[i]; }
};

eval_store::eval_store() = default;
eval_store::~eval_store() = default;

result<std::unique_ptr<eval_store>> eval_store::open(const std::string& path) {
  std::unique_ptr<eval_store> st(new eval_store());
  st->impl_ = std::make_unique<impl>();
  if (auto r = sqlite::setup(sqlite::open_wal(path, store_name), schema, statements, st->impl_->db,
                             path, store_name);
      !r) {
    return r.error();
  }
  return st;
}

result<void> eval_store::save(const eval_report& r, std::size_t keep) {
  const std::string summary = json::serialize(report_summary_json(r));
  const std::string full = json::serialize(report_json(r, true));
  std::lock_guard lock(mu_);
  sqlite3* db = impl_->db.db.get();
  sqlite::transaction tx(db);
  if (auto b = tx.begin("save evaluation " + r.id); !b) {
    return sqlite::db_error(db, "save evaluation " + r.id, store_name);
  }
  {
    sqlite::query q((*impl_)[save_s]);
    q.text(r.id)
        .text(r.experiment)
        .text(r.status)
        .integer(r.created_at)
        .integer(r.finished_at)
        .text(summary)
        .text(full);
    if (q.step() != SQLITE_DONE) {
      return sqlite::db_error(db, "save evaluation " + r.id, store_name);
    }
  }
  {
    sqlite::query q((*impl_)[prune_s]);
    q.integer(clamp_count(std::max<std::size_t>(keep, 1)));
    if (q.step() != SQLITE_DONE) {
      return sqlite::db_error(db, "delete evaluations beyond the newest " + std::to_string(keep),
                              store_name);
    }
  }
  if (auto c = tx.commit("save evaluation " + r.id); !c) {
    return sqlite::db_error(db, "save evaluation " + r.id, store_name);
  }
  return {};
}

result<std::vector<json::value>> eval_store::list(const std::string& experiment,
                                                  std::size_t limit) {
  std::lock_guard lock(mu_);
  sqlite::query q((*impl_)[list_s]);
  q.text(experiment).integer(clamp_count(limit));
  std::vector<json::value> out;
  const bool ok = sqlite::for_each_row(q, [&](const sqlite::query& row) {
    json::error_code ec;
    auto v = json::parse(row.text_at(0), ec);
    if (!ec) {
      out.push_back(std::move(v));
    }
  });
  if (!ok) {
    return sqlite::db_error(impl_->db.db.get(), "list evaluations", store_name);
  }
  return out;
}

result<std::optional<json::value>> eval_store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  sqlite::query q((*impl_)[get_s]);
  q.text(id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) {
    return std::optional<json::value>();
  }
  if (rc != SQLITE_ROW) {
    return sqlite::db_error(impl_->db.db.get(), "read evaluation " + id, store_name);
  }
  json::error_code ec;
  auto v = json::parse(q.text_at(0), ec);
  if (ec) {
    // Appended: GCC 12 warns falsely (-Warray-bounds) on `std::string(..) + ..` chains here.
    std::string why(store_name);
    why += ": evaluation ";
    why += id;
    why += " is stored damaged";
    return make_error(errc::internal, std::move(why));
  }
  return std::optional<json::value>(std::move(v));
}

}  // namespace switchyard
