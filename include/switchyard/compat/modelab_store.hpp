#pragma once

#include "switchyard/compat/modelab_ingest.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/experiments/moments.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace switchyard {

/// What one ingest call did: records stored, records already stored (a retried flush), and of
/// the stored executions/events those whose assignment_id is not (yet) known.
struct modelab_ingest_counts {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t orphans = 0;
};

/// One variant of a flag, summed over everything ingested (or over one timeline bucket).
struct modelab_variant_stats {
  std::string variant;
  std::uint64_t assignments = 0;
  std::uint64_t users = 0;  // distinct user_id
  std::uint64_t executions = 0;
  std::uint64_t errors = 0;            // executions with a non-empty `error`
  moments latency_ms;                  // over executions that carried latency_ms
  moments cost;                        // over executions that carried cost
  std::uint64_t token_executions = 0;  // executions that carried input or output tokens
  std::uint64_t input_tokens = 0, output_tokens = 0;
  std::uint64_t success = 0, failure = 0;
  std::map<std::string, std::uint64_t> custom;  // custom event name → count
};

/// A flag: its variants by name (sorted), and when it was first and last assigned.
struct modelab_flag_stats {
  std::string flag;
  std::vector<modelab_variant_stats> variants;
  std::int64_t first_unix = 0, last_unix = 0;
};

/// One bucket of a flag's timeline.
struct modelab_timeline_bucket {
  std::int64_t start_unix = 0;
  std::vector<modelab_variant_stats> variants;
};

/// Executions and events stored without a known assignment (yet): counted, kept, and joined to
/// their flag as soon as the assignment arrives (the SDK flushes its three buffers separately).
struct modelab_orphan_counts {
  std::uint64_t executions = 0;
  std::uint64_t events = 0;
};

/// modelab's records in their own SQLite file (data_dir/modelab.db, WAL), whatever the
/// experiment store's type. Idempotent: assignments by assignment_id, events by event_id,
/// executions by their content key; a batch is stored in one transaction. Thread-safe (one
/// mutex: the admin executor is its only caller in the gateway).
class modelab_store {
 public:
  /// Opens (creating) the file and its tables; an error names the file and SQLite's message.
  static result<std::unique_ptr<modelab_store>> open(const std::string& path);
  ~modelab_store();
  modelab_store(const modelab_store&) = delete;
  modelab_store& operator=(const modelab_store&) = delete;

  result<modelab_ingest_counts> add(const modelab_batch& batch, std::int64_t now_unix);

  /// Every flag with assignments, by name.
  result<std::vector<std::string>> flags();
  /// One flag's statistics; nullopt-like empty `variants` when the flag has no assignments.
  result<modelab_flag_stats> flag(std::string_view name);
  /// One flag's records in buckets of `bucket_seconds` (aligned to the epoch), oldest first:
  /// assignments by assigned_at, executions by recorded_at, events by created_at.
  result<std::vector<modelab_timeline_bucket>> timeline(std::string_view name,
                                                        std::int64_t bucket_seconds);
  result<modelab_orphan_counts> orphans();

 private:
  struct statements;
  modelab_store(sqlite3* db, std::string path);
  result<modelab_ingest_counts> add_locked(const modelab_batch& batch, std::int64_t now_unix);
  result<void> fill(std::string_view name, std::int64_t bucket_seconds,
                    std::map<std::pair<std::int64_t, std::string>, modelab_variant_stats>& out);
  error failure(const std::string& what) const;

  std::mutex mu_;
  sqlite3* db_;
  std::string path_;
  std::unique_ptr<statements> st_;
};

}  // namespace switchyard
