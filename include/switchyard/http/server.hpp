#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"

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

/// The gateway: N worker threads, each with its own io_context and SO_REUSEPORT acceptor on
/// the same port, sharing only the immutable config snapshot and the draining flag.
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

  /// Number of worker threads.
  std::size_t workers() const noexcept { return workers_.size(); }

  /// Graceful shutdown, from any thread: /readyz turns 503, acceptors close, idle client
  /// connections close, in-flight requests and streams run to their end.
  void drain();

  /// Waits until every worker has finished, or until `deadline`, after which the rest is
  /// stopped hard. Returns true when everything finished by itself.
  bool wait(steady_clock::time_point deadline);

  bool draining() const noexcept { return draining_.load(); }

  /// Re-reads the config file and applies it atomically, or keeps the running one (logged).
  result<void> reload();

  experiment_engine& experiments() noexcept { return *experiments_; }

 private:
  std::shared_ptr<const config> cfg_;
  std::shared_ptr<spdlog::logger> access_log_;
  std::shared_ptr<spdlog::logger> trace_log_;
  std::unique_ptr<shared_state> shared_;  // outlives the workers (declared before them)
  std::unique_ptr<experiment_engine> experiments_;
  std::unique_ptr<gateway_metrics> metrics_;
  std::atomic<bool> draining_{false};
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex mutex_;  // guards running_ (startup/shutdown only, never the request path)
  std::condition_variable done_;
  std::size_t running_ = 0;
};

}  // namespace switchyard
