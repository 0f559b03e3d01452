#include "sqlite_schema.hpp"

#include <bit>
#include <initializer_list>

namespace switchyard::store_schema {

using sqlite::query;

namespace {

// The five moments of a stats row, in column order.
constexpr std::array<const char*, 5> moment_columns = {"latency", "ttft", "input", "output",
                                                       "cost"};
constexpr int stats_column_count = 6 + 3 * 5 + 2 + 1;

// Columns of variant_hours in the order bind_stats binds and read_stats_row reads them.
std::string stats_columns() {
  std::string s = "experiment, variant, prompt_version, hour, requests, errors";
  for (const char* m : moment_columns) {
    for (const char* part : {"_n", "_sum", "_sum_sq"}) {
      s.append(", ").append(m).append(part);
    }
  }
  return s + ", latency_sketch, ttft_sketch, phase";
}

// Adds the sums into an existing row; sketches go through the caller's merge (sy_sketch_merge).
std::string upsert_stats_sql() {
  std::string s = "INSERT INTO variant_hours (" + stats_columns() + ") VALUES (?";
  for (int i = 1; i < stats_column_count; ++i) {
    s += ", ?";
  }
  s += ") ON CONFLICT (experiment, phase, hour, variant, prompt_version) DO UPDATE SET ";
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
// small rows). The key is ordered for read_stats: experiment, then the hour range. Units are keyed
// by fingerprint first, so that a unit's earlier phases are found by the key's prefix.
#define SY_VARIANT_HOURS_TABLE                                                            \
  "CREATE TABLE variant_hours (\n"                                                        \
  "  experiment TEXT NOT NULL, variant TEXT NOT NULL, prompt_version TEXT NOT NULL,\n"    \
  "  hour INTEGER NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,\n"        \
  "  latency_n REAL NOT NULL, latency_sum REAL NOT NULL, latency_sum_sq REAL NOT NULL,\n" \
  "  ttft_n REAL NOT NULL, ttft_sum REAL NOT NULL, ttft_sum_sq REAL NOT NULL,\n"          \
  "  input_n REAL NOT NULL, input_sum REAL NOT NULL, input_sum_sq REAL NOT NULL,\n"       \
  "  output_n REAL NOT NULL, output_sum REAL NOT NULL, output_sum_sq REAL NOT NULL,\n"    \
  "  cost_n REAL NOT NULL, cost_sum REAL NOT NULL, cost_sum_sq REAL NOT NULL,\n"          \
  "  latency_sketch BLOB NOT NULL, ttft_sketch BLOB NOT NULL, phase INTEGER NOT NULL,\n"  \
  "  PRIMARY KEY (experiment, phase, hour, variant, prompt_version));\n"                  \
  "CREATE INDEX variant_hours_by_prompt ON variant_hours (prompt_version);\n"
#define SY_UNITS_TABLES                                                                  \
  "CREATE TABLE units (\n"                                                               \
  "  experiment TEXT NOT NULL, fingerprint INTEGER NOT NULL, phase INTEGER NOT NULL,\n"  \
  "  variant TEXT NOT NULL, hour INTEGER NOT NULL, requests REAL NOT NULL DEFAULT 0,\n"  \
  "  ttft_n REAL NOT NULL DEFAULT 0, errors REAL NOT NULL DEFAULT 0,\n"                  \
  "  latency REAL NOT NULL DEFAULT 0, ttft REAL NOT NULL DEFAULT 0,\n"                   \
  "  cost REAL NOT NULL DEFAULT 0, output REAL NOT NULL DEFAULT 0,\n"                    \
  "  mixed INTEGER NOT NULL DEFAULT 0,\n"                                                \
  "  PRIMARY KEY (experiment, fingerprint, phase)) WITHOUT ROWID;\n"                     \
  "CREATE TABLE unit_counts (\n"                                                         \
  "  experiment TEXT NOT NULL, phase INTEGER NOT NULL, variant TEXT NOT NULL,\n"         \
  "  units INTEGER NOT NULL, PRIMARY KEY (experiment, phase, variant)) WITHOUT ROWID;\n" \
  "CREATE TABLE phases (\n"                                                              \
  "  experiment TEXT NOT NULL, phase INTEGER NOT NULL, start_unix INTEGER NOT NULL,\n"   \
  "  variants TEXT NOT NULL, weights TEXT NOT NULL, reason TEXT NOT NULL,\n"             \
  "  PRIMARY KEY (experiment, phase)) WITHOUT ROWID;\n"

// Prompt versions created through the API (experiments/prompt_registry.hpp); `body` is the
// canonical document `hash` was computed over.
#define SY_PROMPT_VERSIONS_TABLE                                                           \
  "CREATE TABLE prompt_versions (\n"                                                       \
  "  name TEXT NOT NULL, version TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL,\n" \
  "  created_unix INTEGER NOT NULL, PRIMARY KEY (name, version)) WITHOUT ROWID;\n"

const char* const schema_sql = SY_VARIANT_HOURS_TABLE SY_UNITS_TABLES R"sql(
CREATE TABLE feedback (
  request_id TEXT NOT NULL, event TEXT NOT NULL, experiment TEXT NOT NULL,
  variant TEXT NOT NULL, prompt_version TEXT NOT NULL, value REAL,
  unix_seconds INTEGER NOT NULL, unit INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, event)) WITHOUT ROWID;
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
)sql" SY_PROMPT_VERSIONS_TABLE "PRAGMA user_version = 4;\n";

// Version 1 had no phases and no per-unit sums: everything recorded so far becomes phase 1.
const char* const migrate_v1_sql =
    "ALTER TABLE variant_hours RENAME TO variant_hours_v1;\n"
    "DROP INDEX variant_hours_by_prompt;\n"
    "ALTER TABLE units RENAME TO units_v1;\n"
    "ALTER TABLE unit_counts RENAME TO unit_counts_v1;\n" SY_VARIANT_HOURS_TABLE SY_UNITS_TABLES
    "INSERT INTO variant_hours SELECT *, 1 FROM variant_hours_v1;\n"
    "INSERT INTO units (experiment, fingerprint, phase, variant, hour)\n"
    "  SELECT experiment, fingerprint, 1, variant, hour FROM units_v1;\n"
    "INSERT INTO unit_counts SELECT experiment, 1, variant, units FROM unit_counts_v1;\n"
    "DROP TABLE variant_hours_v1;\n"
    "DROP TABLE units_v1;\n"
    "DROP TABLE unit_counts_v1;\n"
    "PRAGMA user_version = 2;\n";

// Version 2 had no unit on feedback: older feedback counts per event only.
const char* const migrate_v2_sql =
    "ALTER TABLE feedback ADD COLUMN unit INTEGER NOT NULL DEFAULT 0;\n"
    "PRAGMA user_version = 3;\n";

// Version 3 had no prompt registry: an empty one.
const char* const migrate_v3_sql = SY_PROMPT_VERSIONS_TABLE "PRAGMA user_version = 4;\n";

#undef SY_PROMPT_VERSIONS_TABLE
#undef SY_VARIANT_HOURS_TABLE
#undef SY_UNITS_TABLES

namespace {

// Σx, Σx², Σx·d over the units of a group, for each ratio metric (read_units_row's order).
std::string unit_aggregates() {
  // numerator, denominator
  static constexpr std::array<std::pair<const char*, const char*>, 5> ratios = {{
      {"errors", "requests"},
      {"latency", "requests"},
      {"ttft", "ttft_n"},
      {"cost", "requests"},
      {"output", "requests"},
  }};
  std::string s = "COUNT(*)";
  for (const auto& [m, d] : ratios) {
    s += std::string(", TOTAL(") + m + "), TOTAL(" + m + " * " + m + "), TOTAL(" + d + "), TOTAL(" +
         d + " * " + d + "), TOTAL(" + m + " * " + d + ")";
  }
  return s;
}

}  // namespace

std::array<std::string, stmt_count> statement_sql() {
  const std::string cols = stats_columns();
  const std::string agg = feedback_aggregates;
  return {
      upsert_stats_sql(),
      // A new unit of this phase, unless the phase is full; mixed when an earlier phase saw it
      // with another variant.
      "INSERT INTO units (experiment, fingerprint, phase, variant, hour, requests, ttft_n, "
      "errors, latency, ttft, cost, output, mixed) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, EXISTS (SELECT 1 FROM units "
      "WHERE experiment = ?1 AND fingerprint = ?2 AND variant != ?4) "
      "WHERE (SELECT TOTAL(units) FROM unit_counts WHERE experiment = ?1 AND phase = ?3) < ?13 "
      "ON CONFLICT (experiment, fingerprint, phase) DO NOTHING",
      "UPDATE units SET requests = requests + ?6, ttft_n = ttft_n + ?7, errors = errors + ?8, "
      "latency = latency + ?9, ttft = ttft + ?10, cost = cost + ?11, output = output + ?12, "
      "mixed = mixed OR variant != ?4 WHERE experiment = ?1 AND fingerprint = ?2 AND phase = ?3",
      "INSERT INTO unit_counts (experiment, phase, variant, units) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (experiment, phase, variant) DO UPDATE SET units = units + excluded.units",
      "INSERT INTO feedback (request_id, event, experiment, variant, prompt_version, value, "
      "unix_seconds, unit) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (request_id, event) DO NOTHING",
      "SELECT " + cols +
          " FROM variant_hours WHERE experiment = ?1 AND hour >= ?2 AND hour < ?3 "
          "ORDER BY hour, variant, prompt_version",
      "SELECT " + cols +
          " FROM variant_hours WHERE prompt_version >= ?1 AND prompt_version < ?2 "
          "ORDER BY prompt_version, hour, experiment, variant",
      "SELECT variant, SUM(units) FROM unit_counts WHERE experiment = ? GROUP BY variant",
      "SELECT variant, mixed, " + unit_aggregates() +
          " FROM units WHERE experiment = ?1 AND phase = ?2 GROUP BY variant, mixed",
      "SELECT experiment, phase, start_unix, variants, weights, reason FROM phases "
      "WHERE experiment = ? ORDER BY phase",
      "INSERT OR REPLACE INTO phases (experiment, phase, start_unix, variants, weights, reason) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      "SELECT variant, prompt_version, event, "
      "CASE WHEN ?2 THEN unix_seconds / 3600 * 3600 ELSE 0 END AS h, " +
          agg +
          " FROM feedback WHERE experiment = ?1 GROUP BY h, variant, prompt_version, event "
          "ORDER BY h, variant, prompt_version, event",
      "SELECT variant, prompt_version, event, 0, " + agg +
          " FROM feedback WHERE experiment = ?1 AND unix_seconds >= ?2 AND unix_seconds < ?3 "
          "GROUP BY variant, prompt_version, event ORDER BY variant, prompt_version, event",
      // Per unit first (its successes s of j judged events, its values' sum v of vn), then the
      // sums over units per variant; units with no such event add zeros.
      "SELECT variant, COUNT(CASE WHEN j > 0 THEN 1 END), TOTAL(s), TOTAL(s * s), TOTAL(j), "
      "TOTAL(j * j), TOTAL(s * j), COUNT(CASE WHEN vn > 0 THEN 1 END), TOTAL(v), TOTAL(v * v), "
      "TOTAL(vn), TOTAL(vn * vn), TOTAL(v * vn) FROM (SELECT variant, unit, "
      "SUM(event = 'success') AS s, SUM(event IN ('success', 'failure')) AS j, "
      "TOTAL(value) AS v, COUNT(value) AS vn FROM feedback WHERE experiment = ?1 AND unit != 0 "
      "AND unix_seconds >= ?3 AND unix_seconds < ?4 AND unit NOT IN (SELECT fingerprint FROM "
      "units WHERE experiment = ?1 AND phase = ?2 AND mixed = 1) GROUP BY variant, unit) "
      "GROUP BY variant",
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
      "SELECT name, version, hash, body, created_unix FROM prompt_versions "
      "ORDER BY name, created_unix, version",
      "SELECT hash FROM prompt_versions WHERE name = ? AND version = ?",
      "INSERT INTO prompt_versions (name, version, hash, body, created_unix) "
      "VALUES (?, ?, ?, ?, ?)",
      "DELETE FROM prompt_versions WHERE name = ? AND version = ?",
      "DELETE FROM prompt_versions WHERE name = ?",
  };
}

void bind_stats(query& q, const variant_hour_stats& s) {
  q.text(s.experiment).text(s.variant).text(s.prompt_version).integer(s.hour);
  q.integer(static_cast<std::int64_t>(s.requests)).integer(static_cast<std::int64_t>(s.errors));
  for (const moments* m :
       {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
    q.real(m->n).real(m->sum).real(m->sum_sq);
  }
  q.blob(s.latency_sketch).blob(s.ttft_sketch).integer(s.phase);
}

void bind_unit(query& q, const unit_record& u, std::uint64_t limit) {
  q.text(u.experiment).integer(std::bit_cast<std::int64_t>(u.fingerprint)).integer(u.phase);
  q.text(u.variant).integer(u.hour);
  const unit_sums& s = u.sums;
  q.real(s.requests).real(s.ttft_n).real(s.errors).real(s.latency_ms).real(s.ttft_ms);
  q.real(s.cost_usd).real(s.output_tokens);
  if (limit > 0) {
    q.integer(static_cast<std::int64_t>(limit));
  }
}

void read_units_row(const query& q, unit_summary& out) {
  const std::string variant = q.text_at(0);
  const bool mixed = q.int_at(1) != 0;
  const std::uint64_t n = q.count_at(2);
  if (mixed) {
    out.mixed += n;
    return;
  }
  out.units[variant] += n;
  unit_aggregate& a = out.variants[variant];
  int col = 3;
  for (ratio_moments* r : {&a.errors, &a.latency_ms, &a.ttft_ms, &a.cost_usd, &a.output_tokens}) {
    r->units = static_cast<double>(n);
    r->m_sum = q.real_at(col++);
    r->m_sq = q.real_at(col++);
    r->d_sum = q.real_at(col++);
    r->d_sq = q.real_at(col++);
    r->md_sum = q.real_at(col++);
  }
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
  s.ttft_sketch = q.blob_at(col++);
  s.phase = q.int_at(col);
  return s;
}

void read_feedback_units_row(const query& q, std::map<std::string, unit_aggregate>& out) {
  unit_aggregate& a = out[q.text_at(0)];
  int col = 1;
  for (ratio_moments* r : {&a.success, &a.score}) {
    r->units = static_cast<double>(q.count_at(col++));
    r->m_sum = q.real_at(col++);
    r->m_sq = q.real_at(col++);
    r->d_sum = q.real_at(col++);
    r->d_sq = q.real_at(col++);
    r->md_sum = q.real_at(col++);
  }
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
