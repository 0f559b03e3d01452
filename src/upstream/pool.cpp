#include "switchyard/upstream/pool.hpp"

#include "switchyard/core/deadlines.hpp"

#include <openssl/ssl.h>

namespace switchyard {

upstream_lease& upstream_lease::operator=(upstream_lease&& o) noexcept {
  if (this != &o) {
    drop();
    pool_ = std::exchange(o.pool_, nullptr);
    conn_ = std::move(o.conn_);
    reused_ = o.reused_;
  }
  return *this;
}

upstream_lease::~upstream_lease() {
  drop();
}

void upstream_lease::drop() {
  if (conn_) {
    beast::error_code ignored;
    conn_->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn_->lowest().close();
    conn_.reset();
  }
  if (pool_) {
    std::exchange(pool_, nullptr)->forget();
  }
}

void upstream_lease::recycle() {
  if (conn_ && pool_) {
    ++conn_->requests;
    std::exchange(pool_, nullptr)->put_back(std::move(conn_));
  }
}

upstream_pool::upstream_pool(net::any_io_executor ex, const upstream_config& cfg, ssl::context* tls)
    : ex_(std::move(ex)), cfg_(cfg), tls_(tls) {}

bool upstream_connection::tls_pending() noexcept {
  auto* tls = std::get_if<tls_stream>(&stream_);
  if (!tls) {
    return false;
  }
  SSL* ssl = tls->native_handle();
  return SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0;
}

namespace {

// A pooled connection is fit for reuse unless bytes arrived after its last response (framing can
// no longer be trusted: a second response, or the peer's close), which the reactor told us
// through the readiness wait left on the idle socket (armed by put_back after one check that
// nothing had come yet) — no syscall when the connection is reused. A peer that
// closes it in the instant before reuse is caught when the request fails before any response
// byte, and the request is then sent once more on a fresh connection (see run_attempt).
bool reusable(const upstream_connection& c) {
  return c.buffer.size() == 0 && !(c.stirred_while_idle && c.stirred_while_idle->stirred) &&
         !const_cast<upstream_connection&>(c).tls_pending();
}

// Stops the idle readiness wait (its handler then runs with operation_aborted). The flag stays
// with the connection, to be reused by the next put_back.
void end_idle_watch(upstream_connection& c) {
  if (c.stirred_while_idle) {
    beast::error_code ignored;
    c.lowest().socket().cancel(ignored);
  }
}

}  // namespace

net::awaitable<result<upstream_lease>> upstream_pool::acquire(steady_clock::time_point deadline) {
  for (;;) {
    while (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      publish();
      const bool fit = steady_clock::now() - c->idle_since < cfg_.idle_timeout && reusable(*c);
      end_idle_watch(*c);
      if (fit) {
        co_return upstream_lease(this, std::move(c), true);
      }
      beast::error_code ignored;
      c->lowest().socket().close(ignored);
      --open_;
      publish();
    }
    if (open_ < cfg_.max_connections) {
      co_return co_await dial(deadline);
    }
    // Full: wait until a connection is released or closed, or the deadline passes.
    net::steady_timer timer(ex_, deadline);
    waiters_.push_back(&timer);
    co_await timer.async_wait(use_tuple);
    std::erase(waiters_, &timer);
    if (steady_clock::now() >= deadline) {
      co_return make_error(errc::upstream_busy, "all " + std::to_string(cfg_.max_connections) +
                                                    " connections to upstream " + cfg_.name +
                                                    " are busy");
    }
  }
}

net::awaitable<result<upstream_lease>> upstream_pool::connect_new(
    steady_clock::time_point deadline) {
  co_return co_await dial(deadline);
}

net::awaitable<result<std::vector<tcp::endpoint>>> upstream_pool::resolve(
    steady_clock::time_point deadline) {
  // Cached briefly: resolving per connection would put a DNS round trip on the request path.
  if (!resolved_.empty() && steady_clock::now() - resolved_at_ < std::chrono::seconds(30)) {
    co_return resolved_;
  }
  tcp::resolver resolver(ex_);
  net::steady_timer timer(ex_, deadline);
  using namespace net::experimental::awaitable_operators;
  auto outcome = co_await (resolver.async_resolve(cfg_.host, cfg_.port, use_tuple) ||
                           timer.async_wait(use_tuple));
  if (outcome.index() == 1) {
    co_return make_error(errc::upstream_connect,
                         "timed out resolving upstream " + cfg_.name + " host " + cfg_.host);
  }
  auto [ec, results] = std::get<0>(std::move(outcome));
  if (ec) {
    co_return make_error(errc::upstream_connect, "cannot resolve upstream " + cfg_.name + " host " +
                                                     cfg_.host + ": " + ec.message());
  }
  resolved_.clear();
  for (const auto& entry : results) {
    resolved_.push_back(entry.endpoint());
  }
  resolved_at_ = steady_clock::now();
  co_return resolved_;
}

net::awaitable<result<upstream_lease>> upstream_pool::dial(steady_clock::time_point deadline) {
  // Reserve the slot before suspending so concurrent dials respect the maximum; give it back
  // on every failure path.
  ++open_;
  publish();
  struct slot_guard {
    upstream_pool* pool;
    bool armed = true;
    ~slot_guard() {
      if (armed) {
        pool->forget();
      }
    }
  } slot{this};
  auto endpoints = co_await resolve(deadline);
  if (!endpoints) {
    co_return endpoints.error();
  }
  beast::tcp_stream sock(ex_);
  beast::error_code ec;
  {
    // Swept by the worker's timer (core/deadlines.hpp), as every socket deadline is.
    switchyard::deadline limit(sock.socket(), deadline);
    auto [cec, ep] = co_await sock.async_connect(*endpoints, use_tuple);
    ec = limit.check(cec);
  }
  if (ec) {
    resolved_.clear();  // the address may have moved
    co_return make_error(errc::upstream_connect,
                         "cannot connect to upstream " + cfg_.name + " at " + cfg_.host + ":" +
                             cfg_.port + ": " +
                             (ec == beast::error::timeout ? "connect timed out" : ec.message()));
  }
  sock.socket().set_option(tcp::no_delay(true));
  if (!cfg_.tls) {
    // The request is written with a non-blocking send first (proxy/attempt.cpp): a send that
    // cannot complete must return, not block the worker.
    beast::error_code nb_ec;
    sock.socket().non_blocking(true, nb_ec);
  }
  std::unique_ptr<upstream_connection> conn;
  if (!cfg_.tls) {
    conn = std::make_unique<upstream_connection>(std::move(sock));
  } else {
    upstream_connection::tls_stream tls(std::move(sock), *tls_);
    boost::system::error_code addr_ec;
    net::ip::make_address(cfg_.host, addr_ec);
    // SNI only for names; an IP literal in SNI is forbidden by RFC 6066.
    // (SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.)
    if (addr_ec && SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                            TLSEXT_NAMETYPE_host_name, const_cast<char*>(cfg_.host.c_str())) != 1) {
      co_return make_error(errc::upstream_connect, "cannot set TLS SNI for " + cfg_.host);
    }
    if (cfg_.tls_verify) {
      tls.set_verify_callback(ssl::host_name_verification(cfg_.host));
    }
    beast::error_code hs_ec;
    {
      // The same deadline as the connect's, on the socket that moved into the TLS stream.
      switchyard::deadline limit(beast::get_lowest_layer(tls).socket(), deadline);
      auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
      hs_ec = limit.check(hec);
    }
    if (hs_ec) {
      co_return make_error(errc::upstream_connect,
                           "TLS handshake with upstream " + cfg_.name + " failed: " +
                               (hs_ec == beast::error::timeout ? "timed out" : hs_ec.message()));
    }
    conn = std::make_unique<upstream_connection>(std::move(tls));
  }
  slot.armed = false;  // the lease owns the slot now
  co_return upstream_lease(this, std::move(conn), false);
}

void upstream_pool::put_back(std::unique_ptr<upstream_connection> c) {
  // After close_idle (shutdown) nothing is pooled: an idle wait would keep the worker running.
  if (closed_ || c->buffer.size() > 0) {
    // Bytes after the response (or the peer's close): framing can no longer be trusted.
    beast::error_code ignored;
    c->lowest().socket().close(ignored);
    forget();
    return;
  }
  c->idle_since = steady_clock::now();
  // Watch the idle socket: an idle HTTP/1.1 connection must stay silent; bytes or a close
  // mean it is not fit for the next request. The handler only touches the shared flag.
  // One flag per connection, reused (no allocation per request): the previous probe's handler
  // has run (cancelled at acquire) and dropped its copy, unless it is still queued — then a new
  // flag, so that a late handler never marks this idle period.
  if (!c->stirred_while_idle || c->stirred_while_idle.use_count() > 1) {
    c->stirred_while_idle = std::make_shared<upstream_connection::idle_probe>();
  } else {
    c->stirred_while_idle->stirred = false;
  }
  // A receive that peeks rather than `async_wait`: Asio first tries it at once (one recv) —
  // which also catches bytes that came between the response's last read and now, that the
  // edge-triggered registration would never report again — and queues it, if nothing is
  // there, without re-arming the descriptor (a wait costs an EPOLL_CTL_MOD). Nothing is
  // consumed. Bytes found at once complete the probe through a posted handler.
  auto probe = c->stirred_while_idle;
  c->lowest().socket().async_receive(net::buffer(&probe->byte, 1), tcp::socket::message_peek,
                                     [probe](const boost::system::error_code& ec, std::size_t) {
                                       if (ec != net::error::operation_aborted) {
                                         probe->stirred =
                                             true;  // bytes, the peer's close (0 bytes) or an error
                                       }
                                     });
  idle_.push_back(std::move(c));
  publish();
  if (!waiters_.empty()) {
    waiters_.front()->cancel();
    waiters_.pop_front();
  }
}

void upstream_pool::forget() {
  --open_;
  publish();
  if (!waiters_.empty()) {
    waiters_.front()->cancel();
    waiters_.pop_front();
  }
}

void upstream_pool::close_idle() {
  closed_ = true;
  for (auto& c : idle_) {
    beast::error_code ignored;
    c->lowest().socket().close(ignored);
  }
  open_ -= idle_.size();
  idle_.clear();
  publish();
}

std::unique_ptr<ssl::context> make_client_tls_context(const upstream_config& cfg) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->set_default_verify_paths();
  if (!cfg.ca_file.empty()) {
    ctx->load_verify_file(cfg.ca_file);
  }
  ctx->set_verify_mode(cfg.tls_verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace switchyard
