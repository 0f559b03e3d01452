#pragma once

#include "switchyard/alerts/alert_store.hpp"
#include "switchyard/alerts/rules.hpp"
#include "switchyard/alerts/sampler.hpp"
#include "switchyard/alerts/traffic.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace switchyard {

class config_snapshot;
class experiment_engine;
struct gateway_metrics;
struct plan;

/// The alert engine (docs/alerts.md): on its own thread ("sy-alerts"), every
/// `alerts.evaluation_interval` of the current snapshot, it samples the gateway's metrics into
/// the traffic history, evaluates the configured rules over their windows and the always-on
/// ones (SRM and guardrail trips of every experiment, from the experiment store), and keeps the
/// alerts — one per (rule, scope) while active — in `data_dir/alerts.db`. Never on a worker: the
/// API handlers (admin executor) only read its state under a short lock. Thread-safe.
class alert_engine {
 public:
  /// Opens `data_dir/alerts.db` and loads the alerts kept there. `experiments` and `metrics` may
  /// be null (then no always-on rules, or no traffic); both must outlive the engine.
  static result<std::unique_ptr<alert_engine>> open(const boot_config& boot,
                                                    const config_snapshot& snapshot,
                                                    experiment_engine* experiments,
                                                    const gateway_metrics* metrics);
  ~alert_engine();
  alert_engine(const alert_engine&) = delete;
  alert_engine& operator=(const alert_engine&) = delete;

  /// Starts the evaluation thread; `stop` ends it (idempotent; the destructor calls it).
  void start();
  void stop();

  /// One evaluation round now (the thread's; also for tests): sample, evaluate, persist.
  void evaluate_now();

  /// Samples the metrics into the traffic history now, so that a traffic answer is current.
  void sample_now();

  /// The alerts in `state` (active = firing, or acknowledged, resolved, all), newest first, at
  /// most `limit`; and the counts per state over every alert kept.
  struct listing {
    std::vector<alert> alerts;
    std::size_t firing = 0, acknowledged = 0, resolved = 0;
  };
  listing list(std::string_view state, std::size_t limit) const;

  /// Acknowledges alert `id` (see `acknowledge` in rules.hpp) and persists it; errc::not_found
  /// for an unknown id.
  result<alert> acknowledge(std::int64_t id);

  /// When the last round ran (unix seconds), if one did.
  std::optional<std::int64_t> last_evaluation() const;

  /// Runs `fn(history)` under the engine's lock (the traffic API, the series' health).
  template <class F>
  auto with_history(F&& fn) const {
    std::lock_guard lock(mutex_);
    return fn(history_);
  }

  /// Resolved alerts kept (the oldest beyond it are deleted).
  static constexpr std::size_t max_history = 10000;

 private:
  alert_engine(const boot_config& boot, const config_snapshot& snapshot,
               experiment_engine* experiments, const gateway_metrics* metrics,
               std::unique_ptr<alert_store> store, std::vector<alert> kept);
  void sample_locked(std::int64_t now);
  /// The SRM and guardrail breaches of every experiment of `p` (store reads, no lock held).
  std::vector<breach> experiment_breaches(const plan& p, const alerts_config& a);

  const config_snapshot& snapshot_;
  experiment_engine* experiments_;
  const gateway_metrics* metrics_;
  std::unique_ptr<alert_store> store_;

  mutable std::mutex mutex_;  // guards everything below (short holds only)
  traffic_history history_;
  metrics_sampler sampler_;
  std::vector<alert> alerts_;  // oldest id first
  std::int64_t next_id_ = 1;
  std::optional<std::int64_t> last_evaluation_;
  std::size_t rounds_ = 0;

  std::mutex round_mutex_;  // one evaluation round at a time
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard
