#pragma once
// Private to src/experiments: the tables of the experiment store (sqlite_store.cpp), the
// statements it prepares once, and the row codecs that follow their column order.

#include "sqlite_db.hpp"
#include "switchyard/experiments/store.hpp"

#include <array>
#include <cstddef>
#include <string>

namespace switchyard::store_schema {

/// The schema version this build creates and reads (`PRAGMA user_version`).
inline constexpr int schema_version = 4;

/// Creates every table and index of schema_version in an empty database, and sets user_version.
extern const char* const schema_sql;

/// Upgrades a version 1 database (no phases, no per-unit sums) to version 2 in place.
extern const char* const migrate_v1_sql;

/// Upgrades a version 2 database (feedback without units) to version 3 in place.
extern const char* const migrate_v2_sql;

/// Upgrades a version 3 database (no prompt registry) to version 4 in place.
extern const char* const migrate_v3_sql;

/// The prepared statements, indexing statement_sql() and the store's statement array.
enum stmt_id : std::size_t {
  upsert_stats,
  insert_unit,
  update_unit,
  bump_unit_count,
  insert_feedback,
  select_stats,
  select_prompt_stats,
  select_unit_counts,
  select_units,
  select_phases,
  replace_phase,
  select_feedback,
  select_feedback_between,
  select_feedback_units,
  select_prompt_feedback,
  select_controls,
  replace_control,
  insert_guardrail,
  select_guardrails,
  select_prompt_versions,
  select_prompt_hash,
  insert_prompt_version,
  delete_prompt_version,
  delete_prompt,
  stmt_count,
};

/// The SQL of each statement. upsert_stats adds into an existing row and merges the sketches
/// with the SQL function sy_sketch_merge, which the store registers before preparing it.
std::array<std::string, stmt_count> statement_sql();

/// Binds a row in upsert_stats's column order.
void bind_stats(sqlite::query& q, const variant_hour_stats& s);

/// Binds a unit in insert_unit's parameter order with `limit` (the phase's bound), or in
/// update_unit's with limit 0.
void bind_unit(sqlite::query& q, const unit_record& u, std::uint64_t limit);

/// Adds the current row of select_units to `out`.
void read_units_row(const sqlite::query& q, unit_summary& out);

/// The current row of select_stats or select_prompt_stats.
variant_hour_stats read_stats_row(const sqlite::query& q);

/// Adds the current row of select_feedback_units to `out`.
void read_feedback_units_row(const sqlite::query& q, std::map<std::string, unit_aggregate>& out);

/// The current row of select_feedback or select_prompt_feedback.
feedback_summary read_feedback_row(const sqlite::query& q);

}  // namespace switchyard::store_schema
