#pragma once

// Evaluation results kept in data_dir/evals.db (SQLite, docs/evaluations.md): one row per
// evaluation with its summary (listed next to the live experiment) and its full report.
// Thread-safe (one connection behind a mutex); called from job threads and the admin executor.

#include "switchyard/core/error.hpp"
#include "switchyard/jobs/eval_report.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace switchyard {

class eval_store {
 public:
  /// Opens (creating) the database at `path`.
  static result<std::unique_ptr<eval_store>> open(const std::string& path);
  ~eval_store();
  eval_store(const eval_store&) = delete;
  eval_store& operator=(const eval_store&) = delete;

  /// Inserts or replaces the evaluation `r.id` (summary and full report).
  result<void> save(const eval_report& r);

  /// Summaries (report_summary_json), newest first; `experiment` "" = every experiment.
  result<std::vector<boost::json::value>> list(const std::string& experiment, std::size_t limit);

  /// The full report (report_json with cases) of `id`, or nullopt when there is none.
  result<std::optional<boost::json::value>> get(const std::string& id);

 private:
  explicit eval_store(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace switchyard
