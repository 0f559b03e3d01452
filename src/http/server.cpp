#include "switchyard/http/server.hpp"

#include "switchyard/experiments/engine.hpp"
#include "switchyard/http/session.hpp"
#include "switchyard/http/worker.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

namespace switchyard {

shared_state::shared_state(const config& cfg)
    : limiter(cfg.rate_limits),
      budget(cfg.retry.budget_percent, cfg.retry.budget_min),
      user_header("x-user-id") {
  for (const auto& up : cfg.upstreams) {
    breakers.push_back(std::make_unique<circuit_breaker>(up.breaker));
  }
  for (const auto& l : cfg.rate_limits) {
    if (std::find(l.scope.begin(), l.scope.end(), rate_scope::user) != l.scope.end()) {
      user_header = l.user_header;
      break;
    }
  }
}

worker::worker(std::size_t i, const config& c, shared_state& sh,
               const std::atomic<bool>& drain_flag, spdlog::logger* access, spdlog::logger* trace)
    : index(i),
      cfg(c),
      shared(sh),
      draining(drain_flag),
      access_log(io.get_executor(), access),
      trace_log(io.get_executor(), trace) {
  for (const auto& up : cfg.upstreams) {
    tls.push_back(up.tls ? make_client_tls_context(up) : nullptr);
    pools.push_back(std::make_unique<upstream_pool>(io.get_executor(), up, tls.back().get()));
  }
}

worker::~worker() {
  beast::error_code ignored;
  if (acceptor) {
    acceptor->close(ignored);
  }
  for (auto& p : pools) {
    p->close_idle();
  }
  acceptor.reset();
  io_owner_.reset();
}

namespace {

net::awaitable<void> accept_loop(worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !w.acceptor->is_open()) {
      co_return;  // draining
    }
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(w.io, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (w.sessions.size() >= w.cfg.limits.max_connections_per_worker) {
      continue;  // the socket closes as it goes out of scope
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Sessions end on their own (close, timeout, drain); the handler only reports a bug.
    net::co_spawn(w.io, run_session(w, std::move(socket)), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("session ended with an exception: {}", ex.what());
        }
      }
    });
  }
}

}  // namespace

server::server(std::shared_ptr<const config> cfg, std::string config_path)
    : cfg_(std::move(cfg)),
      access_log_(make_access_logger(cfg_->log)),
      trace_log_(make_trace_logger(cfg_->trace)),
      shared_(std::make_unique<shared_state>(*cfg_)) {
  const unsigned n =
      cfg_->workers ? cfg_->workers : std::max(1u, std::thread::hardware_concurrency());
  auto engine = experiment_engine::open(cfg_, std::move(config_path), n);
  if (!engine) {
    throw std::runtime_error("experiment store: " + engine.error().message);
  }
  experiments_ = std::move(*engine);
  shared_->experiments = experiments_.get();
  metrics_ = std::make_unique<gateway_metrics>(*cfg_, n + 1, *shared_);
  shared_->metrics = metrics_.get();
  experiments_->on_guardrail = [m = metrics_.get()](const std::string& e, const std::string& v,
                                                    const std::string& reason) {
    m->guardrail_trips.with({e, v, reason}).inc();
  };
  shared_->reload = [this] { return reload(); };
}

result<void> server::reload() {
  auto r = experiments_->reload();
  if (r) {
    spdlog::info("configuration reloaded");
  } else {
    spdlog::error("configuration reload rejected, keeping the running one: {}", r.error().message);
  }
  return r;
}

server::~server() {
  if (!threads_.empty()) {
    drain();
    wait(steady_clock::now());
  }
}

void server::start() {
  const unsigned n =
      cfg_->workers ? cfg_->workers : std::max(1u, std::thread::hardware_concurrency());
  experiments_->start();
  auto address = net::ip::make_address(cfg_->listen_host);
  std::uint16_t port = cfg_->listen_port;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<worker>(i, *cfg_, *shared_, draining_, access_log_.get(),
                                      trace_log_.get());
    tcp::endpoint ep(address, port);
    w->acceptor = std::make_unique<tcp::acceptor>(w->io);
    w->acceptor->open(ep.protocol());
    w->acceptor->set_option(net::socket_base::reuse_address(true));
    // Each worker accepts on its own socket; the kernel spreads connections across them.
    int one = 1;
    if (::setsockopt(w->acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
        0) {
      throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
    }
    w->acceptor->bind(ep);
    w->acceptor->listen(net::socket_base::max_listen_connections);
    port = w->acceptor->local_endpoint().port();  // port 0: the others join the one picked
    workers_.push_back(std::move(w));
  }
  port_ = port;
  running_ = workers_.size();
  // Pools belong to their workers; they publish counts that any thread may read.
  metrics_->registry.add_callback(
      "switchyard_upstream_connections", "Pooled upstream connections (active = in use).", "gauge",
      [this](std::string& out, bool) {
        for (std::size_t u = 0; u < cfg_->upstreams.size(); ++u) {
          std::int64_t open = 0, idle = 0;
          for (const auto& w : workers_) {
            open += w->pools[u]->published_open();
            idle += w->pools[u]->published_idle();
          }
          const auto& name = cfg_->upstreams[u].name;
          metrics::append_sample(out, "switchyard_upstream_connections",
                                 {{"upstream", name}, {"state", "active"}},
                                 static_cast<double>(open - idle));
          metrics::append_sample(out, "switchyard_upstream_connections",
                                 {{"upstream", name}, {"state", "idle"}},
                                 static_cast<double>(idle));
        }
      });
  for (auto& w : workers_) {
    net::co_spawn(w->io, accept_loop(*w), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("accept loop ended with an exception: {}", ex.what());
        }
      }
    });
    threads_.emplace_back([this, wk = w.get()] {
      metrics::set_thread_shard(wk->index);
      wk->io.run();
      std::lock_guard lock(mutex_);
      --running_;
      done_.notify_all();
    });
  }
}

void server::drain() {
  if (draining_.exchange(true)) {
    return;
  }
  for (auto& w : workers_) {
    net::post(w->io, [wk = w.get()] {
      beast::error_code ignored;
      wk->acceptor->close(ignored);
      for (session_state* s : wk->sessions) {
        // A keep-alive connection between requests is closed now, unless the next request
        // is already in the socket buffer: that one arrived before the drain and is served.
        beast::error_code ec;
        if (s->idle && s->stream->socket().available(ec) == 0) {
          s->stream->cancel();
        }
      }
      for (auto& p : wk->pools) {
        p->close_idle();
      }
    });
  }
}

bool server::wait(steady_clock::time_point deadline) {
  bool clean = false;
  {
    std::unique_lock lock(mutex_);
    clean = done_.wait_until(lock, deadline, [this] { return running_ == 0; });
  }
  if (!clean) {
    for (auto& w : workers_) {
      w->io.stop();
    }
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  experiments_->stop();  // the last statistics reach the store
  if (access_log_) {
    access_log_->flush();
  }
  if (trace_log_) {
    trace_log_->flush();
  }
  return clean;
}

}  // namespace switchyard
