#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/ratelimit/limiter.hpp"
#include "switchyard/upstream/breaker.hpp"
#include "switchyard/upstream/pool.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <simdjson.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace spdlog {
class logger;
}

namespace switchyard {

/// A client connection as the worker sees it, so that draining can close idle ones.
struct session_state {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for the next request
};

/// State every worker shares: lock-free (atomics), so the hot path takes no lock.
struct shared_state {
  explicit shared_state(const config& cfg);
  rate_limiter limiter;
  retry_budget budget;
  std::vector<std::unique_ptr<circuit_breaker>> breakers;  // per upstream, same index
  std::string user_header;  // where the `user` rate-limit scope reads the user id
};

/// Everything one worker thread owns. Only that thread touches it (shared-nothing hot path);
/// `draining` is the one cross-thread flag.
struct worker {
  worker(const config& c, shared_state& sh, const std::atomic<bool>& drain_flag,
         spdlog::logger* access, const std::string& models);
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
  const config& cfg;
  shared_state& shared;
  const std::atomic<bool>& draining;
  access_batcher access_log;
  const std::string& models_json;                     // GET /v1/models, built once
  std::vector<std::unique_ptr<ssl::context>> tls;     // per upstream; null for plain HTTP
  std::vector<std::unique_ptr<upstream_pool>> pools;  // per upstream, same index as cfg.upstreams
  simdjson::ondemand::parser json;                    // reused for every request on this thread
  std::unordered_set<session_state*> sessions;
  std::unique_ptr<tcp::acceptor> acceptor;
};

}  // namespace switchyard
