#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/deadlines.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/ratelimit/feedback_guard.hpp"
#include "switchyard/ratelimit/limiter.hpp"
#include "switchyard/ratelimit/shared_limiter.hpp"
#include "switchyard/upstream/breaker.hpp"
#include "switchyard/upstream/pool.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <simdjson.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
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
class redis_client;
class alert_engine;
class prompt_registry;
class eval_service;
class modelab_store;
class batch_service;

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
  /// The shared store's connection (store.type: redis), null with SQLite; the experiment store
  /// and the rate limiter share it.
  std::shared_ptr<redis_client> redis;
  alert_engine* alerts = nullptr;      // alert rules, GET /api/v1/alerts and /api/v1/traffic
  prompt_registry* prompts = nullptr;  // writable prompt registry (POST /api/v1/prompts/…)
  eval_service* evals = nullptr;       // evaluations: /api/v1/evaluations (jobs/eval_service.hpp)
  modelab_store* modelab = nullptr;    // compat.modelab: /api/v1/ingest/*, /api/v1/flags*
  /// Rate limits shared across replicas (mode leased/exact), null when every limit is local.
  std::unique_ptr<shared_limiter> shared_limits;
  /// /v1/files and /v1/batches (docs/batches.md).
  batch_service* batches = nullptr;
};

/// A proxied request as the drain sees it: at `timeouts.drain` the drain calls `shut` (on the
/// worker's thread), which makes the request end with the retryable shutdown error, as a final
/// SSE event when a stream is under way or as a 503 when nothing was sent yet.
struct proxy_handle {
  std::function<void()> shut;
  proxy_handle* prev = nullptr;  // links of the worker's list (intrusive: no node to allocate)
  proxy_handle* next = nullptr;
};

/// The proxied requests in flight on one worker, for the drain deadline: an intrusive list, so
/// registering a request allocates nothing. Iterates like a container of `proxy_handle*`.
class proxy_list {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = proxy_handle*;
    using difference_type = std::ptrdiff_t;
    using pointer = proxy_handle* const*;
    using reference = proxy_handle*;
    explicit iterator(proxy_handle* p = nullptr) noexcept : p_(p) {}
    proxy_handle* operator*() const noexcept { return p_; }
    iterator& operator++() noexcept {
      p_ = p_->next;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      p_ = p_->next;
      return old;
    }
    bool operator==(const iterator&) const noexcept = default;

   private:
    proxy_handle* p_;
  };

  /// Links `h` (not already linked) at the front.
  void insert(proxy_handle* h) noexcept {
    h->prev = nullptr;
    h->next = head_;
    if (head_) {
      head_->prev = h;
    }
    head_ = h;
    ++size_;
  }
  /// Unlinks `h`, which must be in this list.
  void erase(proxy_handle* h) noexcept {
    (h->prev ? h->prev->next : head_) = h->next;
    if (h->next) {
      h->next->prev = h->prev;
    }
    h->prev = h->next = nullptr;
    --size_;
  }
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  iterator begin() const noexcept { return iterator(head_); }
  iterator end() const noexcept { return iterator(); }

 private:
  proxy_handle* head_ = nullptr;
  std::size_t size_ = 0;
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
  proxy_list proxies;  // in flight, for the drain deadline
  std::unique_ptr<tcp::acceptor> acceptor;
  /// The admin listener's worker (admin_listen): local routes only, no proxying.
  bool admin_only = false;
};

}  // namespace switchyard
