#pragma once

#include <atomic>
#include <cstdint>

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"

#include <deque>
#include <memory>
#include <variant>
#include <vector>

namespace switchyard {

/// One keep-alive connection to an upstream, plain or TLS, with its read buffer (which must
/// outlive a single response because it may hold the start of the next one).
class upstream_connection {
 public:
  using plain_stream = beast::tcp_stream;
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;

  // The read buffer starts with room for a typical response: an empty flat_buffer makes Beast
  // read 512 bytes at a time and never grow (one syscall per 512 bytes).
  explicit upstream_connection(plain_stream s) : stream_(std::move(s)) { buffer.reserve(16384); }
  explicit upstream_connection(tls_stream s) : stream_(std::move(s)) { buffer.reserve(16384); }

  /// Calls `f(stream)` with the concrete stream; every I/O goes through here.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), stream_);
  }

  beast::tcp_stream& lowest() noexcept {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream_);
  }

  /// Plain TCP (not TLS): writes may go straight to the socket, which is in user non-blocking
  /// mode.
  bool plain() const noexcept { return std::holds_alternative<plain_stream>(stream_); }

  /// TLS only: decrypted or received bytes OpenSSL holds that the socket no longer shows.
  bool tls_pending() noexcept;

  beast::flat_buffer buffer{64 * 1024};  // bounded: a header block larger than this is an error
  steady_clock::time_point idle_since{};
  std::uint64_t requests = 0;  // responses completed on this connection
  /// While idle in the pool, a one-byte MSG_PEEK receive is outstanding on the socket; its
  /// handler sets `stirred` when the peer sent bytes or closed (the connection must then not be
  /// reused). Shared with the handler, which may run after the connection is gone; `byte` is
  /// the receive's buffer.
  struct idle_probe {
    bool stirred = false;
    char byte = 0;
  };
  std::shared_ptr<idle_probe> stirred_while_idle;

 private:
  std::variant<plain_stream, tls_stream> stream_;
};

class upstream_pool;

/// A connection on loan. Dropping it closes the connection; `recycle()` returns it to the pool
/// for reuse, which the relay does only after a complete, well-framed response.
class upstream_lease {
 public:
  upstream_lease() = default;
  upstream_lease(upstream_pool* pool, std::unique_ptr<upstream_connection> c, bool reused)
      : pool_(pool), conn_(std::move(c)), reused_(reused) {}
  upstream_lease(upstream_lease&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)), reused_(o.reused_) {}
  upstream_lease& operator=(upstream_lease&& o) noexcept;
  ~upstream_lease();

  upstream_connection& operator*() noexcept { return *conn_; }
  upstream_connection* operator->() noexcept { return conn_.get(); }
  explicit operator bool() const noexcept { return conn_ != nullptr; }

  /// True when the connection came from the idle list (it may have been closed by the peer).
  bool reused() const noexcept { return reused_; }

  /// Returns the connection to the pool's idle list.
  void recycle();

 private:
  void drop();

  upstream_pool* pool_ = nullptr;
  std::unique_ptr<upstream_connection> conn_;
  bool reused_ = false;
};

/// Per-worker, per-upstream connection pool: at most `max_connections` open, idle ones reused
/// most-recent-first and closed after `idle_timeout`. Single-threaded (one worker's io_context),
/// so it needs no locks.
class upstream_pool {
 public:
  upstream_pool(net::any_io_executor ex, const upstream_config& cfg, ssl::context* tls);
  upstream_pool(const upstream_pool&) = delete;
  upstream_pool& operator=(const upstream_pool&) = delete;

  /// An idle connection if one is fit for reuse, else a new one; waits for a free slot when the
  /// pool is full. Fails with upstream_connect / upstream_busy by `deadline`.
  net::awaitable<result<upstream_lease>> acquire(steady_clock::time_point deadline);

  /// A brand-new connection, bypassing the idle list (for a retry after a stale reused one).
  net::awaitable<result<upstream_lease>> connect_new(steady_clock::time_point deadline);

  const upstream_config& config() const noexcept { return cfg_; }
  std::size_t open_connections() const noexcept { return open_; }
  std::size_t idle_connections() const noexcept { return idle_.size(); }
  /// The counts as last published, readable from any thread (/metrics).
  std::int64_t published_open() const noexcept { return pub_open_.load(std::memory_order_relaxed); }
  std::int64_t published_idle() const noexcept { return pub_idle_.load(std::memory_order_relaxed); }

  /// Closes idle connections and pools no more (graceful shutdown).
  void close_idle();

 private:
  friend class upstream_lease;
  void put_back(std::unique_ptr<upstream_connection> c);
  void forget();  // one open connection went away
  net::awaitable<result<std::vector<tcp::endpoint>>> resolve(steady_clock::time_point deadline);
  net::awaitable<result<upstream_lease>> dial(steady_clock::time_point deadline);

  net::any_io_executor ex_;
  const upstream_config& cfg_;
  ssl::context* tls_;
  std::vector<std::unique_ptr<upstream_connection>> idle_;  // most recent last
  std::size_t open_ = 0;
  bool closed_ = false;  // close_idle was called: released connections are closed
  void publish() noexcept {
    pub_open_.store(static_cast<std::int64_t>(open_), std::memory_order_relaxed);
    pub_idle_.store(static_cast<std::int64_t>(idle_.size()), std::memory_order_relaxed);
  }
  std::atomic<std::int64_t> pub_open_{0};
  std::atomic<std::int64_t> pub_idle_{0};
  std::deque<net::steady_timer*> waiters_;  // woken (cancelled) when a slot frees
  std::vector<tcp::endpoint> resolved_;
  steady_clock::time_point resolved_at_{};
};

/// A client TLS context for `cfg`: system CAs (+ `ca_file`), peer verification unless
/// `tls_verify: false`. Throws at startup on a bad `ca_file`.
std::unique_ptr<ssl::context> make_client_tls_context(const upstream_config& cfg);

}  // namespace switchyard
