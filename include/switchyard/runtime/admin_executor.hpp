#pragma once

#include "switchyard/core/net.hpp"

#include <atomic>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

namespace switchyard {

/// One thread for everything slow that a request may need besides proxying: SQLite reads and
/// writes of the API, feedback, reloads, control changes, analysis and /metrics rendering. A
/// worker awaits the result without blocking its event loop, so a flood of API calls queues
/// here and never delays /healthz or proxied requests on any worker.
class admin_executor {
 public:
  /// `max_pending` bounds the queue: beyond it `run` answers nullopt (the caller sends 503).
  explicit admin_executor(std::size_t max_pending = 4096) : max_pending_(max_pending) {}
  admin_executor(const admin_executor&) = delete;
  admin_executor& operator=(const admin_executor&) = delete;
  ~admin_executor() { stop(); }

  /// Runs `f()` on the admin thread and resumes the calling coroutine on its own executor with
  /// the result; nullopt when the queue is full or the executor stopped.
  template <class F>
  net::awaitable<std::optional<std::invoke_result_t<F&>>> run(F f) {
    using R = std::invoke_result_t<F&>;
    if (stopped_.load() || pending_.fetch_add(1) >= max_pending_) {
      pending_.fetch_sub(1);
      co_return std::nullopt;
    }
    struct release {
      std::atomic<std::size_t>& n;
      ~release() { n.fetch_sub(1); }
    } done{pending_};
    R r = co_await net::co_spawn(
        pool_, [fn = std::move(f)]() mutable -> net::awaitable<R> { co_return fn(); },
        net::use_awaitable);
    co_return std::optional<R>(std::move(r));
  }

  /// Jobs queued or running (a gauge).
  std::size_t pending() const noexcept { return pending_.load(); }

  /// Finishes the running job, drops the queued ones, joins the thread. Idempotent.
  void stop() {
    if (!stopped_.exchange(true)) {
      pool_.stop();
      pool_.join();
    }
  }

 private:
  net::thread_pool pool_{1};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stopped_{false};
  std::size_t max_pending_;
};

}  // namespace switchyard
