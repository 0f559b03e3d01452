#pragma once

#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/experiments/store.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace switchyard {

/// What a finished request contributes to its variant's statistics.
struct experiment_outcome {
  bool error = false;     // 5xx, 429 or a gateway error
  double latency_ms = 0;  // whole request
  double ttft_ms = -1;    // first content; < 0 = none (not a stream, or no content)
  double input_tokens = 0;
  double output_tokens = 0;
  double cost_usd = 0;
  std::int64_t unix_seconds = 0;
};

/// The experiment plane at run time: the current plan (config + operator controls, swapped
/// atomically), per-worker statistics shards flushed to the store off the request path, feedback,
/// guardrails and hot reload. Thread-safe; `record` is the only call on the request path.
class experiment_engine {
 public:
  /// Opens the store in `cfg->data_dir`, loads the operator controls and builds the first plan.
  /// `config_path` is what a reload re-reads ("" = reload unsupported).
  static result<std::unique_ptr<experiment_engine>> open(std::shared_ptr<const config> cfg,
                                                         std::string config_path,
                                                         std::size_t shards);
  ~experiment_engine();
  experiment_engine(const experiment_engine&) = delete;
  experiment_engine& operator=(const experiment_engine&) = delete;

  /// The snapshot requests use; in-flight requests keep theirs alive.
  std::shared_ptr<const plan> current() const { return plan_.load(std::memory_order_acquire); }

  /// Adds a counted request to shard `shard` (the worker's own: no contention but the flush).
  void record(std::size_t shard, const plan& p, const assignment& a, const experiment_outcome& o);

  /// Writes every shard to the store now (also done every `stats_flush` and on `stop`).
  result<void> flush();

  /// Starts the background flusher (and guardrail checks); `stop` flushes one last time.
  void start();
  void stop();

  /// Re-reads the config file: applied atomically when valid and nothing that needs a restart
  /// changed; otherwise the old one stays and the error says why.
  result<void> reload();

  /// Applies an operator's change (pause, resume, weights, conclude) now and keeps it.
  result<void> apply_control(const experiment_control& c);

  /// The stored control of `name` (empty fields = as configured).
  experiment_control control(std::string_view name);

  /// The key feedback ids are signed with.
  const std::string& feedback_key() const noexcept { return feedback_key_; }

  /// Runs guardrail checks now (also after every flush of the background thread).
  void check_guardrails();

  /// Called for every guardrail trip (the metric); set before `start`.
  std::function<void(const std::string& experiment, const std::string& variant,
                     const std::string& reason)>
      on_guardrail;

  experiment_store& store() noexcept { return *store_; }

 private:
  experiment_engine() = default;
  result<void> rebuild(std::shared_ptr<const config> cfg);

  struct cell_key {
    std::uint64_t generation;
    const variant_plan* variant;
    std::int64_t hour;
    bool operator==(const cell_key&) const = default;
  };
  struct cell_hash {
    std::size_t operator()(const cell_key& k) const noexcept;
  };
  struct cell {
    variant_hour_stats sums;  // names filled at creation; sketches below
    latency_sketch latency, ttft;
    std::unordered_map<std::uint64_t, unit_sums> units;  // by unit fingerprint
  };
  struct shard {
    std::mutex mutex;  // the worker's own; the flusher takes it once per flush
    std::unordered_map<cell_key, cell, cell_hash> cells;
  };

  std::atomic<std::shared_ptr<const plan>> plan_;
  std::string config_path_;
  std::unique_ptr<experiment_store> store_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::string feedback_key_;
  std::mutex admin_mutex_;  // reload, controls, flush: one at a time
  std::mutex flush_mutex_;
  std::uint64_t generation_ = 0;
  std::thread flusher_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

/// Cost in USD of `usage` at `price`.
double cost_usd(const price_config& price, double input_tokens, double output_tokens) noexcept;

}  // namespace switchyard
