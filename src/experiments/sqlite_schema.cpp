#include "sqlite_schema.hpp"

#include <initializer_list>

namespace switchyard::store_schema {

using sqlite::query;

namespace {

// The five moments of a stats row, in column order.
constexpr std::array<const char*, 5> moment_columns = {"latency", "ttft", "input", "output",
                                                       "cost"};
constexpr int stats_column_count = 6 + 3 * 5 + 2;

// Columns of variant_hours in the order bind_stats binds and read_stats_row reads them.
std::string stats_columns() {
  std::string s = "experiment, variant, prompt_version, hour, requests, errors";
  for (const char* m : moment_columns) {
    for (const char* part : {"_n", "_sum", "_sum_sq"}) {
      s.append(", ").append(m).append(part);
    }
  }
  return s + ", latency_sketch, ttft_sketch";
}

// Adds the sums into an existing row; sketches go through the caller's merge (sy_sketch_merge).
std::string upsert_stats_sql() {
  std::string s = "INSERT INTO variant_hours (" + stats_columns() + ") VALUES (?";
  for (int i = 1; i < stats_column_count; ++i) {
    s += ", ?";
  }
  s += ") ON CONFLICT (experiment, hour, variant, prompt_version) DO UPDATE SET ";
  s += "requests = requests + excluded.requests, errors = errors + excluded.errors";
  for (const char* m : moment_columns) {
    for (const char* part : {"_n", "_sum", "_sum_sq"}) {
      const std::string c = std::string(m) + part;
      s += ", " + c + " = " + c + " + excluded." + c;
    }
  }
  return s +
         ", latency_sketch = sy_sketch_merge(latency_sketch, excluded.latency_sketch)"
         ", ttft_sketch = sy_sketch_merge(ttft_sketch, excluded.ttft_sketch)";
}

// Feedback aggregate columns shared by both feedback reads (read_feedback_row's order).
constexpr const char* feedback_aggregates =
    "COUNT(*), COUNT(value), TOTAL(value), TOTAL(value * value)";

}  // namespace

// Sketches are rewritten on every flush, so variant_hours keeps a rowid (WITHOUT ROWID suits only
// small rows). The key is ordered for read_stats: experiment, then the hour range.
const char* const schema_sql = R"sql(
CREATE TABLE variant_hours (
  experiment TEXT NOT NULL, variant TEXT NOT NULL, prompt_version TEXT NOT NULL,
  hour INTEGER NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
  latency_n REAL NOT NULL, latency_sum REAL NOT NULL, latency_sum_sq REAL NOT NULL,
  ttft_n REAL NOT NULL, ttft_sum REAL NOT NULL, ttft_sum_sq REAL NOT NULL,
  input_n REAL NOT NULL, input_sum REAL NOT NULL, input_sum_sq REAL NOT NULL,
  output_n REAL NOT NULL, output_sum REAL NOT NULL, output_sum_sq REAL NOT NULL,
  cost_n REAL NOT NULL, cost_sum REAL NOT NULL, cost_sum_sq REAL NOT NULL,
  latency_sketch BLOB NOT NULL, ttft_sketch BLOB NOT NULL,
  PRIMARY KEY (experiment, hour, variant, prompt_version));
CREATE INDEX variant_hours_by_prompt ON variant_hours (prompt_version);
CREATE TABLE units (
  experiment TEXT NOT NULL, fingerprint INTEGER NOT NULL, variant TEXT NOT NULL,
  hour INTEGER NOT NULL, PRIMARY KEY (experiment, fingerprint)) WITHOUT ROWID;
CREATE TABLE unit_counts (
  experiment TEXT NOT NULL, variant TEXT NOT NULL, units INTEGER NOT NULL,
  PRIMARY KEY (experiment, variant)) WITHOUT ROWID;
CREATE TABLE feedback (
  request_id TEXT NOT NULL, event TEXT NOT NULL, experiment TEXT NOT NULL,
  variant TEXT NOT NULL, prompt_version TEXT NOT NULL, value REAL,
  unix_seconds INTEGER NOT NULL, PRIMARY KEY (request_id, event)) WITHOUT ROWID;
CREATE INDEX feedback_by_experiment ON feedback (experiment);
CREATE INDEX feedback_by_prompt ON feedback (prompt_version);
CREATE TABLE controls (
  experiment TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, weights TEXT NOT NULL,
  winner TEXT NOT NULL, paused_variants TEXT NOT NULL, updated_unix INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE guardrail_events (
  id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, unix_seconds INTEGER NOT NULL);
CREATE INDEX guardrail_events_by_experiment ON guardrail_events (experiment, unix_seconds);
PRAGMA user_version = 1;
)sql";

std::array<std::string, stmt_count> statement_sql() {
  const std::string cols = stats_columns();
  const std::string agg = feedback_aggregates;
  return {
      upsert_stats_sql(),
      "INSERT INTO units (experiment, fingerprint, variant, hour) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (experiment, fingerprint) DO NOTHING",
      "INSERT INTO unit_counts (experiment, variant, units) VALUES (?, ?, ?) "
      "ON CONFLICT (experiment, variant) DO UPDATE SET units = units + excluded.units",
      "INSERT INTO feedback (request_id, event, experiment, variant, prompt_version, value, "
      "unix_seconds) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, event) DO NOTHING",
      "SELECT " + cols +
          " FROM variant_hours WHERE experiment = ?1 AND hour >= ?2 AND hour < ?3 "
          "ORDER BY hour, variant, prompt_version",
      "SELECT " + cols +
          " FROM variant_hours WHERE prompt_version >= ?1 AND prompt_version < ?2 "
          "ORDER BY prompt_version, hour, experiment, variant",
      "SELECT variant, units FROM unit_counts WHERE experiment = ?",
      "SELECT variant, prompt_version, event, "
      "CASE WHEN ?2 THEN unix_seconds / 3600 * 3600 ELSE 0 END AS h, " +
          agg +
          " FROM feedback WHERE experiment = ?1 GROUP BY h, variant, prompt_version, event "
          "ORDER BY h, variant, prompt_version, event",
      "SELECT '', prompt_version, event, 0, " + agg +
          " FROM feedback WHERE prompt_version >= ?1 AND prompt_version < ?2 "
          "GROUP BY prompt_version, event ORDER BY prompt_version, event",
      "SELECT experiment, status, weights, winner, paused_variants, updated_unix FROM controls "
      "ORDER BY experiment",
      "INSERT OR REPLACE INTO controls (experiment, status, weights, winner, paused_variants, "
      "updated_unix) VALUES (?, ?, ?, ?, ?, ?)",
      "INSERT INTO guardrail_events (experiment, variant, reason, detail, unix_seconds) "
      "VALUES (?, ?, ?, ?, ?)",
      "SELECT experiment, variant, reason, detail, unix_seconds FROM guardrail_events "
      "WHERE experiment = ? ORDER BY unix_seconds, id",
  };
}

void bind_stats(query& q, const variant_hour_stats& s) {
  q.text(s.experiment).text(s.variant).text(s.prompt_version).integer(s.hour);
  q.integer(static_cast<std::int64_t>(s.requests)).integer(static_cast<std::int64_t>(s.errors));
  for (const moments* m :
       {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
    q.real(m->n).real(m->sum).real(m->sum_sq);
  }
  q.blob(s.latency_sketch).blob(s.ttft_sketch);
}

variant_hour_stats read_stats_row(const query& q) {
  variant_hour_stats s;
  s.experiment = q.text_at(0);
  s.variant = q.text_at(1);
  s.prompt_version = q.text_at(2);
  s.hour = q.int_at(3);
  s.requests = q.count_at(4);
  s.errors = q.count_at(5);
  int col = 6;
  for (moments* m : {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
    m->n = q.real_at(col++);
    m->sum = q.real_at(col++);
    m->sum_sq = q.real_at(col++);
  }
  s.latency_sketch = q.blob_at(col++);
  s.ttft_sketch = q.blob_at(col);
  return s;
}

feedback_summary read_feedback_row(const query& q) {
  feedback_summary f;
  f.variant = q.text_at(0);
  f.prompt_version = q.text_at(1);
  f.event = q.text_at(2);
  f.hour = q.int_at(3);
  f.count = q.count_at(4);
  f.value = moments{q.real_at(5), q.real_at(6), q.real_at(7)};
  return f;
}

}  // namespace switchyard::store_schema
