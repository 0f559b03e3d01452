#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/deadlines.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/ratelimit/feedback_guard.hpp"
#include "switchyard/ratelimit/limiter.hpp"
#include "switchyard/upstream/breaker.hpp"
#include "switchyard/upstream/pool.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace spdlog {
class logger;
}

namespace switchyard {

class experiment_engine;
class config_snapshot;
struct gateway_metrics;
class admin_executor;

/// A client connection as the worker sees it, so that draining can close idle ones.
struct session_state {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for the next request
};

/// State every worker shares: lock-free (atomics), so the hot path takes no lock.
struct shared_state {
  explicit shared_state(const boot_config& cfg);
  rate_limiter limiter;
  retry_budget budget;
  std::vector<std::unique_ptr<circuit_breaker>> breakers;  // per upstream, same index
  std::string user_header;                    // where the `user` rate-limit scope reads the user id
  const config_snapshot* snapshot = nullptr;  // the hot config and plan requests start with
  experiment_engine* experiments = nullptr;   // statistics, controls, feedback
  gateway_metrics* metrics = nullptr;         // /metrics
  std::function<result<void>()> reload;       // POST /api/v1/reload
  admin_executor* admin = nullptr;            // API, feedback, reloads, /metrics: off the workers
  std::unique_ptr<feedback_guard> feedback_limits;
  /// Request bytes buffered by every session of the process (limits.max_buffered_bytes).
  std::atomic<std::uint64_t> buffered_bytes{0};
  std::atomic<std::uint64_t> buffered_refusals{0};  // requests refused for it, for /metrics
};

/// A proxied request as the drain sees it: at `timeouts.drain` the drain calls `shut` (on the
/// worker's thread), which makes the request end with the retryable shutdown error, as a final
/// SSE event when a stream is under way or as a 503 when nothing was sent yet.
struct proxy_handle {
  std::function<void()> shut;
};

/// Everything one worker thread owns. Only that thread touches it (shared-nothing hot path);
/// `draining` is the one cross-thread flag.
struct worker {
  worker(std::size_t index, const boot_config& c, shared_state& sh,
         const std::atomic<bool>& drain_flag, spdlog::logger* access, spdlog::logger* trace);
  /// Destroys pending coroutines (after a hard stop) while the pools and the session set they
  /// refer to still exist.
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

 private:
  // Concurrency hint 1: single-threaded, so Asio can skip its internal locking.
  std::unique_ptr<net::io_context> io_owner_ = std::make_unique<net::io_context>(1);

 public:
  net::io_context& io = *io_owner_;
  std::size_t index;  // this worker's statistics and metrics shard
  /// The boot part only: listeners, limits, timeouts, upstreams. Anything a reload may change is
  /// read from the request's snapshot (`shared.snapshot`), never from here.
  const boot_config& cfg;
  /// Closes this worker's sockets whose deadline passed, every timeouts.resolution: one timer
  /// for all of them (core/deadlines.hpp). Sockets find it through their executor.
  deadline_sweeper& deadlines = deadline_sweeper::of(io, cfg.timeouts.resolution);
  shared_state& shared;
  const std::atomic<bool>& draining;
  access_batcher access_log;
  access_batcher trace_log;                           // trace.path; no logger = off
  std::vector<std::unique_ptr<ssl::context>> tls;     // per upstream; null for plain HTTP
  std::vector<std::unique_ptr<upstream_pool>> pools;  // per upstream, same index as cfg.upstreams
  simdjson::ondemand::parser json;                    // reused for every request on this thread
  std::unordered_set<session_state*> sessions;
  std::unordered_set<proxy_handle*> proxies;  // in flight, for the drain deadline
  std::unique_ptr<tcp::acceptor> acceptor;
  /// The admin listener's worker (admin_listen): local routes only, no proxying.
  bool admin_only = false;
};

}  // namespace switchyard
