#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/experiments/snapshot.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace spdlog {
class logger;
}

namespace switchyard {

struct worker;
struct shared_state;
class experiment_engine;
struct gateway_metrics;
class admin_executor;
class redis_control_sync;
class redis_experiment_store;
class alert_engine;
class prompt_registry;
class eval_service;
class modelab_store;
class batch_service;

/// The gateway: N worker threads, each with its own io_context and SO_REUSEPORT acceptor on
/// the same port, sharing only the immutable config snapshot and the draining flag. The server
/// owns that snapshot: the boot part of the config it started with stays for its life, the hot
/// part (with the experiment plan) is replaced by `reload`.
class server {
 public:
  /// Opens the experiment store (throws std::runtime_error when it cannot). `config_path` is
  /// what a reload (SIGHUP, POST /api/v1/reload) re-reads; "" = no reload.
  explicit server(std::shared_ptr<const config> cfg, std::string config_path = "");
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds every acceptor (throws std::system_error if it cannot) and starts the workers.
  void start();

  /// The bound port (useful with `listen: ...:0`).
  std::uint16_t port() const noexcept { return port_; }

  /// The admin listener's bound port (admin_listen), 0 when there is none.
  std::uint16_t admin_port() const noexcept { return admin_port_; }

  /// Number of worker threads.
  std::size_t workers() const noexcept { return workers_.size(); }

  /// Graceful shutdown, from any thread: /readyz turns 503 and idle keep-alive connections
  /// close; the listeners keep accepting (and serving) until `wait` ends the grace period.
  void drain();

  /// After `drain`: keeps accepting until `timeouts.drain_grace` after the drain began (or
  /// `deadline`), then closes the listeners and lets in-flight requests and streams run to
  /// their end until `deadline`. At `deadline` every stream still running gets a final SSE error
  /// event (`server_shutdown`, retryable) and its closing chunk, a request that sent nothing yet
  /// a 503; after a short write budget whatever is left stops hard. Returns true when everything
  /// finished by itself before `deadline`.
  bool wait(steady_clock::time_point deadline);

  bool draining() const noexcept { return draining_.load(); }

  /// Re-reads the config file: read → validate → compare the boot parts → build the plan → swap
  /// the snapshot atomically. Any failure keeps the running config (logged), and the error says
  /// why; a changed boot key is named by its path (`limits.max_body_bytes` changed: that needs
  /// a restart).
  result<void> reload();

  /// What requests see now: the hot config and the plan.
  const config_snapshot& snapshot() const noexcept { return snapshot_; }

  experiment_engine& experiments() noexcept { return *experiments_; }

  /// Evaluation jobs and their store (data_dir/evals.db).
  eval_service& evaluations() noexcept { return *evals_; }

 private:
  std::shared_ptr<const config> cfg_;  // as started: its boot part is the running one
  std::string config_path_;
  config_snapshot snapshot_;  // before experiments_, which publishes into it
  std::shared_ptr<spdlog::logger> access_log_;
  std::shared_ptr<spdlog::logger> trace_log_;
  std::unique_ptr<shared_state> shared_;  // outlives the workers (declared before them)
  std::unique_ptr<experiment_engine> experiments_;
  redis_experiment_store* redis_store_ = nullptr;     // owned by experiments_; null = SQLite
  std::unique_ptr<redis_control_sync> control_sync_;  // after experiments_: stopped before it
  std::unique_ptr<gateway_metrics> metrics_;
  std::unique_ptr<alert_engine> alerts_;      // after metrics_ and experiments_, which it reads
  std::unique_ptr<prompt_registry> prompts_;  // after experiments_, whose store and plan it uses
  std::unique_ptr<eval_service> evals_;       // evaluation jobs (docs/evaluations.md)
  std::unique_ptr<modelab_store> modelab_;    // data_dir/modelab.db (docs/compat-modelab.md)
  std::unique_ptr<admin_executor> admin_;     // stopped in wait(), after the workers
  /// The Batch API; its runner calls our listener (stopped first in wait()).
  std::unique_ptr<batch_service> batches_;
  std::atomic<bool> draining_{false};
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  steady_clock::time_point drain_started_{};  // guarded by mutex_
  /// After the drain deadline: time for the final events to be written before a hard stop.
  static constexpr std::chrono::milliseconds final_write_budget{1000};
  void stop_accepting();
  std::mutex mutex_;  // guards running_ (startup/shutdown only, never the request path)
  std::condition_variable done_;
  std::size_t running_ = 0;
};

}  // namespace switchyard
