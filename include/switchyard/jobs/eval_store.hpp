#pragma once

// Evaluation results kept in data_dir/evals.db (SQLite in WAL mode through the shared helper
// src/experiments/sqlite_db.hpp, docs/evaluations.md): one row per evaluation with its summary
// (listed next to the live experiment) and its full report; the newest `evaluations.keep` are
// kept. Thread-safe (one connection behind a mutex); called from job threads and the admin
// executor.

#include "switchyard/core/error.hpp"
#include "switchyard/jobs/eval_report.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

class eval_store {
 public:
  /// Opens (creating) the database at `path`.
  static result<std::unique_ptr<eval_store>> open(const std::string& path);
  ~eval_store();
  eval_store(const eval_store&) = delete;
  eval_store& operator=(const eval_store&) = delete;

  /// Inserts or replaces the evaluation `r.id` (summary and full report), then deletes all but
  /// the newest `keep` (at least 1) evaluations, in one transaction.
  result<void> save(const eval_report& r, std::size_t keep);

  /// Summaries (report_summary_json), newest first; `experiment` "" = every experiment.
  result<std::vector<boost::json::value>> list(const std::string& experiment, std::size_t limit);

  /// The full report (report_json with cases) of `id`, or nullopt when there is none.
  result<std::optional<boost::json::value>> get(const std::string& id);

 private:
  struct impl;  // the connection and its prepared statements (SQLite stays out of this header)
  eval_store();
  std::mutex mu_;
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard
