// Listener and lifecycle of the mock LLM: one acceptor hands connections round-robin to N
// single-threaded io_contexts; stop() closes the acceptor, then every open connection.

#include "mock_llm.hpp"

#include "mock_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <optional>
#include <stdexcept>

namespace switchyard::mock {

using detail::shared_state;
using detail::worker;

namespace {

using namespace std::chrono_literals;

// co_spawn completion: our coroutines end with an exception only through a bug (or bad_alloc),
// and then it must be seen. Normal ends are not logged: no per-connection logging.
auto log_failure(const char* what) {
  return [what](const std::exception_ptr& e) {
    if (!e) {
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("mock-llm: {} failed: {}", what, ex.what());
    }
  };
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor,
                                 const std::vector<std::unique_ptr<worker>>& workers,
                                 shared_state& shared, const std::atomic<bool>& stopping) {
  net::steady_timer backoff(acceptor.get_executor());
  std::size_t next = 0;
  for (;;) {
    worker& w = *workers[next];
    next = (next + 1) % workers.size();
    auto [ec, socket] = co_await acceptor.async_accept(w.ioc, use_tuple);
    if (stopping.load() || ec == net::error::operation_aborted || !acceptor.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of descriptors and the like: wait instead of spinning on the same error.
      backoff.expires_after(50ms);
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    shared.counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    net::co_spawn(w.ioc, detail::serve_connection(shared, w, tcp::socket(std::move(socket))),
                  log_failure("connection"));
  }
}

tcp::endpoint resolve(net::io_context& ioc, const std::string& host, std::uint16_t port) {
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, std::to_string(port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service);
  if (results.empty()) {
    throw std::runtime_error("mock-llm: cannot resolve " + host);
  }
  return results.begin()->endpoint();
}

std::unique_ptr<ssl::context> make_tls(const options& opts) {
  if (opts.tls_cert_file.empty() && opts.tls_key_file.empty()) {
    return nullptr;
  }
  if (opts.tls_cert_file.empty() || opts.tls_key_file.empty()) {
    throw std::invalid_argument("mock-llm: TLS needs both a certificate and a key file");
  }
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->use_certificate_chain_file(opts.tls_cert_file);
  ctx->use_private_key_file(opts.tls_key_file, ssl::context::pem);
  return ctx;
}

}  // namespace

struct server::state {
  shared_state shared;
  std::vector<std::unique_ptr<worker>> workers;  // after `shared`: destroyed before it
  std::optional<tcp::acceptor> acceptor;         // after `workers`: destroyed before them
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::promise<void> accept_done;
  std::mutex lifecycle_mutex;  // start() and stop() may come from different threads
  bool started = false;
  bool stopped = false;
};

std::string recorded_request::header(std::string_view name) const {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
  for (const auto& [key, value] : headers) {
    if (std::equal(key.begin(), key.end(), name.begin(), name.end(),
                   [&](char a, char b) { return a == lower(b); })) {
      return value;
    }
  }
  return {};
}

server::server(options opts) : state_(std::make_unique<state>()) {
  state_->shared.opts = std::move(opts);
}

server::~server() {
  stop();
}

void server::start() {
  state& s = *state_;
  const std::lock_guard lock(s.lifecycle_mutex);
  if (s.started) {
    throw std::logic_error("mock-llm: start() called twice");
  }
  const options& opts = s.shared.opts;
  s.shared.tls = make_tls(opts);
  const int threads = std::max(opts.threads, 1);
  for (int i = 0; i < threads; ++i) {
    s.workers.push_back(std::make_unique<worker>());
  }
  net::io_context& first = s.workers.front()->ioc;
  s.acceptor.emplace(first);
  const tcp::endpoint endpoint = resolve(first, opts.host, opts.port);
  s.acceptor->open(endpoint.protocol());
  s.acceptor->set_option(net::socket_base::reuse_address(true));
  s.acceptor->bind(endpoint);
  s.acceptor->listen(net::socket_base::max_listen_connections);
  s.port = s.acceptor->local_endpoint().port();

  net::co_spawn(first, accept_loop(*s.acceptor, s.workers, s.shared, s.stopping),
                [&s, log = log_failure("accept loop")](const std::exception_ptr& e) {
                  log(e);
                  s.accept_done.set_value();
                });
  for (auto& w : s.workers) {
    w->thread = std::thread([&ioc = w->ioc] {
      // A handler that throws must not take the whole test process down with it.
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("mock-llm: io thread: {}", e.what());
        }
      }
    });
  }
  s.started = true;
}

void server::stop() {
  state& s = *state_;
  const std::lock_guard lock(s.lifecycle_mutex);
  if (!s.started || s.stopped) {
    return;
  }
  s.stopped = true;
  s.stopping.store(true);
  // First the acceptor, and wait until the accept loop is gone: after that no connection can
  // be handed to a worker behind the close-all below.
  net::post(s.workers.front()->ioc, [&s] {
    boost::system::error_code ec;
    s.acceptor->close(ec);
  });
  s.accept_done.get_future().wait();
  for (auto& w : s.workers) {
    net::post(w->ioc, [&w = *w] {
      w.stopping = true;
      // Closing the socket ends whatever the connection waits on: its reads and writes fail,
      // and every delay is raced against a read.
      for (beast::tcp_stream* stream : w.open) {
        stream->close();
      }
    });
    w->guard.reset();  // run() returns once the last connection has finished
  }
  for (auto& w : s.workers) {
    w->thread.join();
  }
}

std::uint16_t server::port() const {
  return state_->port;
}

const stats& server::counters() const {
  return state_->shared.counters;
}

recorded_request server::last_request() const {
  const std::lock_guard lock(state_->shared.last_mutex);
  return state_->shared.last;
}

}  // namespace switchyard::mock
