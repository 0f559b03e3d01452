#pragma once

// Evaluations started through the API (POST /api/v1/evaluations, docs/evaluations.md): each
// runs on a job thread of its own (never on a worker or the admin executor) against the
// gateway's client port; results go to data_dir/evals.db.

#include "switchyard/core/error.hpp"
#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/jobs/eval_runner.hpp"
#include "switchyard/jobs/eval_store.hpp"

#include <boost/json/value.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchyard {

class eval_service {
 public:
  /// Opens data_dir/evals.db.
  static result<std::unique_ptr<eval_service>> open(const std::string& data_dir,
                                                    const config_snapshot& snapshot);
  ~eval_service();  // stops
  eval_service(const eval_service&) = delete;
  eval_service& operator=(const eval_service&) = delete;

  /// Where evaluation requests go: the gateway's client port (set once it listens).
  void set_target(eval_target t);

  /// Checks `o` and `cases` against the current plan and starts a job; the id, or the problems
  /// (invalid_request, one line each), or overloaded when `evaluations.max_running` jobs run.
  result<std::string> start(eval_options o, std::vector<eval_case> cases);

  /// One evaluation: running (with progress) or finished (the stored report); nullopt = unknown.
  result<std::optional<boost::json::value>> status(const std::string& id);

  /// Running ones first, then stored summaries, newest first; `experiment` "" = all.
  result<boost::json::value> list(const std::string& experiment, std::size_t limit);

  /// Cancels running jobs and waits for them (each request has its own deadline).
  void stop();

  /// Stores a finished report, keeping the newest `evaluations.keep` of the current snapshot.
  result<void> save(const eval_report& r);

  eval_store& store() noexcept { return *store_; }

 private:
  struct job {
    std::string id, experiment, dataset, judge_model, embedding_model;
    std::int64_t created_at = 0;
    std::atomic<std::size_t> done{0}, total{0};
    std::atomic<bool> finished{false};
    std::thread thread;
  };
  eval_service(std::unique_ptr<eval_store> store, const config_snapshot& snapshot)
      : store_(std::move(store)), snapshot_(snapshot) {}
  boost::json::value running_json(const job& j) const;
  void reap();  // joins finished jobs; mu_ held

  std::unique_ptr<eval_store> store_;
  const config_snapshot& snapshot_;
  std::mutex mu_;
  eval_target target_;
  std::map<std::string, std::unique_ptr<job>> jobs_;
  std::atomic<bool> cancel_{false};
};

/// A fresh evaluation id: `eval_` and 24 hex digits.
std::string new_eval_id();

}  // namespace switchyard
