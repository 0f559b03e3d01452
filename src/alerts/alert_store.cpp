#include "switchyard/alerts/alert_store.hpp"

#include "switchyard/alerts/alert_json.hpp"

#include "../experiments/sqlite_db.hpp"

#include <sqlite3.h>
#include <boost/json.hpp>

#include <array>
#include <cstdint>

namespace switchyard {

namespace {

namespace json = boost::json;

constexpr std::string_view store_name = "alert store";

// NULL for an empty optional.
sqlite::query& bind_opt(sqlite::query& q, const std::optional<double>& v) {
  return q.optional_real(v);
}

sqlite::query& bind_opt(sqlite::query& q, const std::optional<std::int64_t>& v) {
  return v ? q.integer(*v) : q.null();
}

std::optional<double> real_at(const sqlite::query& q, int col) {
  if (q.is_null(col)) {
    return std::nullopt;
  }
  return q.real_at(col);
}

std::optional<std::int64_t> int_at(const sqlite::query& q, int col) {
  if (q.is_null(col)) {
    return std::nullopt;
  }
  return q.int_at(col);
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

enum stmt_id { load_s, save_s, prune_s, stmt_count };

// In stmt_id order.
constexpr std::array<const char*, stmt_count> statements = {
    "SELECT id, rule, kind, metric, severity, state, scope, value, threshold, comparison, "
    "window_seconds, message, started_at, updated_at, resolved_at, acknowledged_at FROM alerts "
    "ORDER BY id",
    "INSERT OR REPLACE INTO alerts (id, rule, kind, metric, severity, state, scope, value, "
    "threshold, comparison, window_seconds, message, started_at, updated_at, resolved_at, "
    "acknowledged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
    "?16)",
    "DELETE FROM alerts WHERE state = 'resolved' AND id NOT IN (SELECT id FROM alerts WHERE "
    "state = 'resolved' ORDER BY id DESC LIMIT ?1)",
};

}  // namespace

struct alert_store::impl {
  sqlite::prepared_db<stmt_count> db;
  sqlite3_stmt* operator[](stmt_id i) const { return db[i]; }
};

alert_store::alert_store() = default;
alert_store::~alert_store() = default;

result<std::unique_ptr<alert_store>> alert_store::open(const std::string& path) {
  // SQLite's default rollback journal, as before this store used the shared helper.
  std::unique_ptr<alert_store> st(new alert_store());
  st->impl_ = std::make_unique<impl>();
  if (auto r = sqlite::setup(sqlite::open(path, store_name), schema, statements, st->impl_->db,
                             path, store_name);
      !r) {
    return r.error();
  }
  return st;
}

result<std::vector<alert>> alert_store::load() {
  sqlite::query q((*impl_)[load_s]);
  std::vector<alert> out;
  const bool ok = sqlite::for_each_row(q, [&](const sqlite::query& row) {
    alert a;
    a.id = row.int_at(0);
    a.rule = row.text_at(1);
    a.kind = row.text_at(2);
    a.metric = row.text_at(3);
    a.severity = row.text_at(4);
    a.state = row.text_at(5);
    a.scope = scope_from(row.text_at(6));
    a.value = real_at(row, 7);
    a.threshold = real_at(row, 8);
    a.comparison = row.text_at(9);
    a.window_seconds = int_at(row, 10);
    a.message = row.text_at(11);
    a.started_at = row.int_at(12);
    a.updated_at = row.int_at(13);
    a.resolved_at = int_at(row, 14);
    a.acknowledged_at = int_at(row, 15);
    out.push_back(std::move(a));
  });
  if (!ok) {
    return sqlite::db_error(impl_->db.db.get(), "read alerts", store_name);
  }
  return out;
}

result<void> alert_store::save(const alert& a) {
  const std::string scope = json::serialize(scope_json(a.scope));  // bound without a copy
  sqlite::query q((*impl_)[save_s]);
  q.integer(a.id)
      .text(a.rule)
      .text(a.kind)
      .text(a.metric)
      .text(a.severity)
      .text(a.state)
      .text(scope);
  bind_opt(q, a.value);
  bind_opt(q, a.threshold);
  q.text(a.comparison);
  bind_opt(q, a.window_seconds);
  q.text(a.message).integer(a.started_at).integer(a.updated_at);
  bind_opt(q, a.resolved_at);
  bind_opt(q, a.acknowledged_at);
  if (q.step() != SQLITE_DONE) {
    return sqlite::db_error(impl_->db.db.get(), "save alert " + std::to_string(a.id), store_name);
  }
  return {};
}

result<std::size_t> alert_store::prune(std::size_t keep) {
  sqlite::query q((*impl_)[prune_s]);
  q.integer(static_cast<std::int64_t>(keep));
  if (q.step() != SQLITE_DONE) {
    return sqlite::db_error(impl_->db.db.get(), "prune resolved alerts", store_name);
  }
  return static_cast<std::size_t>(sqlite3_changes(impl_->db.db.get()));
}

}  // namespace switchyard
