#include "switchyard/http/server.hpp"

#include "switchyard/alerts/engine.hpp"
#include "switchyard/compat/modelab_store.hpp"
#include "switchyard/core/background_thread.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/prompt_registry.hpp"
#include "switchyard/http/session.hpp"
#include "switchyard/jobs/batch_service.hpp"
#include "switchyard/jobs/eval_service.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/ratelimit/feedback_guard.hpp"
#include "switchyard/runtime/admin_executor.hpp"
#include "switchyard/runtime/worker.hpp"
#include "switchyard/store/redis_store.hpp"
#include "switchyard/store/redis_sync.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>

namespace switchyard {

shared_state::shared_state(const boot_config& cfg)
    : limiter(cfg.rate_limits),
      budget(cfg.retry_budget.budget_percent, cfg.retry_budget.budget_min),
      user_header("x-user-id"),
      feedback_limits(std::make_unique<feedback_guard>(cfg.feedback_caps.max_events_per_id,
                                                       cfg.feedback_caps.max_event_names)) {
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

worker::worker(std::size_t i, const boot_config& c, shared_state& sh,
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
      config_path_(std::move(config_path)),
      access_log_(make_access_logger(cfg_->log)),
      trace_log_(make_trace_logger(cfg_->trace)),
      shared_(std::make_unique<shared_state>(*cfg_)) {
  const unsigned n =
      cfg_->workers ? cfg_->workers : std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<experiment_store> shared_store;
  if (cfg_->store.type == "redis") {
    auto ep = parse_redis_url(cfg_->store.url);  // validated with the config
    if (!ep) {
      throw std::runtime_error("store.url: " + ep.error().message);
    }
    if (!cfg_->store.password.empty()) {
      ep->password = cfg_->store.password;
    }
    shared_->redis = redis_client::start(*ep, cfg_->store.flush_timeout);
    // The controls and phases live there: without them this replica cannot build its plan.
    if (!shared_->redis->wait_connected(cfg_->store.flush_timeout)) {
      throw std::runtime_error("experiment store: redis " + ep->describe() +
                               " did not answer within store.flush_timeout");
    }
    auto s = std::make_unique<redis_experiment_store>(
        shared_->redis, redis_store_options{cfg_->store.key_prefix, cfg_->store.flush_timeout,
                                            cfg_->store.buffer_max_bytes});
    redis_store_ = s.get();
    shared_store = std::move(s);
  }
  if (shared_->redis) {
    // Rate limits shared across replicas (docs/replica-limits.md) on the same connection.
    auto limits = std::make_unique<shared_limiter>(
        cfg_->rate_limits, shared_->redis,
        shared_limiter::options{.key_prefix = cfg_->store.key_prefix,
                                .timeout = cfg_->store.timeout,
                                .return_timeout = cfg_->store.flush_timeout,
                                .expected_replicas = cfg_->store.expected_replicas});
    if (limits->active()) {
      shared_->shared_limits = std::move(limits);
    }
  }
  auto engine = experiment_engine::open(*cfg_, snapshot_, n, std::move(shared_store));
  if (!engine) {
    throw std::runtime_error("experiment store: " + engine.error().message);
  }
  experiments_ = std::move(*engine);
  if (redis_store_) {
    control_sync_ = std::make_unique<redis_control_sync>(shared_->redis, *experiments_,
                                                         redis_store_->channel());
  }
  shared_->experiments = experiments_.get();
  shared_->snapshot = &snapshot_;
  // The registry's versions join the file's prompts before anything is served; a variant whose
  // `prompt:` neither defines stops the start here, naming its key path.
  prompts_ = std::make_unique<prompt_registry>(
      experiments_->store(), config_path_.empty() ? "the configuration" : config_path_,
      [e = experiments_.get()](std::shared_ptr<const hot_config> c) {
        return e->apply_prompts(std::move(c));
      },
      [this] { return snapshot_.current()->cfg; });
  if (auto r = prompts_->apply_file(std::shared_ptr<const hot_config>(cfg_, cfg_.get()),
                                    [e = experiments_.get()](std::shared_ptr<const hot_config> c) {
                                      return e->apply_config(std::move(c));
                                    });
      !r) {
    throw std::runtime_error("prompt registry: " + r.error().message);
  }
  shared_->prompts = prompts_.get();
  metrics_ = std::make_unique<gateway_metrics>(*cfg_, n + 1, *shared_);
  shared_->metrics = metrics_.get();
  experiments_->on_guardrail = [m = metrics_.get()](const std::string& e, const std::string& v,
                                                    const std::string& reason) {
    m->guardrail_trips.with({e, v, reason}).inc();
  };
  auto alerts = alert_engine::open(*cfg_, snapshot_, experiments_.get(), metrics_.get());
  if (!alerts) {
    throw std::runtime_error(alerts.error().message);
  }
  alerts_ = std::move(*alerts);
  shared_->alerts = alerts_.get();
  auto evals = eval_service::open(cfg_->data_dir, snapshot_);
  if (!evals) {
    throw std::runtime_error(evals.error().message);
  }
  evals_ = std::move(*evals);
  shared_->evals = evals_.get();
  // modelab's records (compat.modelab), in their own file whatever the store type: opened at
  // start so that enabling the API by a reload finds it ready.
  auto modelab =
      modelab_store::open((std::filesystem::path(cfg_->data_dir) / "modelab.db").string());
  if (!modelab) {
    throw std::runtime_error(modelab.error().message);
  }
  modelab_ = std::move(*modelab);
  shared_->modelab = modelab_.get();
  // With a shared store the Batch API lives there too: every replica answers for every batch.
  auto batches = batch_service::open(*cfg_, &snapshot_, &metrics_->registry,
                                     cfg_->store.type == "redis" ? shared_->redis : nullptr);
  if (!batches) {
    throw std::runtime_error(batches.error().message);
  }
  batches_ = std::move(*batches);
  shared_->batches = batches_.get();
  shared_->reload = [this] { return reload(); };
  admin_ = std::make_unique<admin_executor>();
  shared_->admin = admin_.get();
}

namespace {

// The reload contract: a file that parses and validates, whose boot part is the running one.
result<std::shared_ptr<const hot_config>> read_reload(const std::string& path,
                                                      const boot_config& running) {
  if (path.empty()) {
    return make_error(errc::invalid_request, "this gateway was not started from a config file");
  }
  auto next = load_config_file(path);
  if (!next) {
    return next.error();
  }
  if (auto key = boot_difference(running, *next); !key.empty()) {
    return make_error(errc::invalid_request,
                      "`" + key + "` changed: that needs a restart; the running config is kept");
  }
  return std::make_shared<const hot_config>(static_cast<hot_config&&>(std::move(*next)));
}

}  // namespace

result<void> server::reload() {
  auto hot = read_reload(config_path_, *cfg_);
  auto r =
      hot ? prompts_->apply_file(std::move(*hot),
                                 [e = experiments_.get()](std::shared_ptr<const hot_config> c) {
                                   return e->apply_config(std::move(c));
                                 })
          : result<void>(hot.error());
  if (r) {
    spdlog::info("configuration reloaded (generation {})", snapshot_.current()->generation);
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
  alerts_->start();
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
  // Evaluation jobs send their requests to this port (a wildcard address through loopback).
  evals_->set_target({cfg_->listen_host == "0.0.0.0" ? "127.0.0.1"
                      : cfg_->listen_host == "::"    ? "::1"
                                                     : cfg_->listen_host,
                      port_});
  batches_->runner().start(cfg_->listen_host, port_);  // after bind: it calls this port
  if (!cfg_->admin_listen_host.empty()) {
    // Its own thread and listener: health, metrics and the API stay reachable whatever the
    // proxied load on the client port (userver's monitor listener).
    auto w = std::make_unique<worker>(n, *cfg_, *shared_, draining_, access_log_.get(),
                                      trace_log_.get());
    w->admin_only = true;
    tcp::endpoint ep(net::ip::make_address(cfg_->admin_listen_host), cfg_->admin_listen_port);
    w->acceptor = std::make_unique<tcp::acceptor>(w->io);
    w->acceptor->open(ep.protocol());
    w->acceptor->set_option(net::socket_base::reuse_address(true));
    w->acceptor->bind(ep);
    w->acceptor->listen(net::socket_base::max_listen_connections);
    admin_port_ = w->acceptor->local_endpoint().port();
    workers_.push_back(std::move(w));
  }
  running_ = workers_.size();
  metrics_->registry.add_callback(
      "switchyard_rate_limit_overflows_total",
      "Requests that found the rate limiter's key table full, by limit and what was done "
      "(denied or allowed, per rate_limits[].on_overflow).",
      "counter", [this](std::string& out, bool) {
        const auto& limits = shared_->limiter.limits();
        for (std::size_t i = 0; i < limits.size(); ++i) {
          metrics::append_sample(out, "switchyard_rate_limit_overflows_total",
                                 {{"scope", shared_->limiter.label(i)},
                                  {"action", limits[i].deny_on_overflow ? "denied" : "allowed"}},
                                 static_cast<double>(shared_->limiter.overflows_of(i)));
        }
      });
  metrics_->registry.add_callback(
      "switchyard_buffered_request_bytes",
      "Request bytes held across every connection (limits.max_buffered_bytes bounds it).", "gauge",
      [this](std::string& out, bool) {
        metrics::append_sample(out, "switchyard_buffered_request_bytes", {},
                               static_cast<double>(shared_->buffered_bytes.load()));
      });
  metrics_->registry.add_callback(
      "switchyard_buffered_request_refusals_total",
      "Requests refused with 503 because limits.max_buffered_bytes was reached.", "counter",
      [this](std::string& out, bool) {
        metrics::append_sample(out, "switchyard_buffered_request_refusals_total", {},
                               static_cast<double>(shared_->buffered_refusals.load()));
      });
  if (redis_store_) {
    metrics_->registry.add_callback(
        "switchyard_store_errors_total",
        "Failures of the shared store (Redis): connect = connection attempts, call = commands "
        "of any user (statistics, feedback, controls, rate limits), write/read/control = the "
        "experiment store's operations that failed, rate_limit = shared rate-limit calls that "
        "failed plus admissions decided by the per-replica fallback.",
        "counter", [this](std::string& out, bool) {
          const auto& r = *shared_->redis;
          const std::pair<const char*, std::uint64_t> ops[] = {
              {"connect", r.connect_errors()},
              {"call", r.errors()},
              {"write", redis_store_->failures("write")},
              {"read", redis_store_->failures("read")},
              {"control", redis_store_->failures("control")},
              // Shared rate limits: failed calls plus admissions the fallback decided.
              {"rate_limit", shared_->shared_limits
                                 ? shared_->shared_limits->stats().failed_calls +
                                       shared_->shared_limits->stats().fallback_decisions
                                 : 0}};
          for (const auto& [op, count] : ops) {
            metrics::append_sample(out, "switchyard_store_errors_total",
                                   {{"store", "redis"}, {"op", op}}, static_cast<double>(count));
          }
        });
    // Shared rate limits (docs/replica-limits.md).
    metrics_->registry.add_callback(
        "switchyard_rate_limit_fallback",
        "1 while the shared rate limits (mode leased/exact) are enforced per replica at "
        "limit / store.expected_replicas x (1 - fallback_margin) because Redis is unavailable.",
        "gauge", [this](std::string& out, bool) {
          const bool on = shared_->shared_limits && shared_->shared_limits->stats().fallback_active;
          metrics::append_sample(out, "switchyard_rate_limit_fallback", {}, on ? 1.0 : 0.0);
        });
    metrics_->registry.add_callback(
        "switchyard_store_buffered_bytes",
        "Statistics and feedback held in memory while the shared store is unreachable "
        "(store.buffer_max_bytes bounds it).",
        "gauge", [this](std::string& out, bool) {
          metrics::append_sample(out, "switchyard_store_buffered_bytes", {},
                                 static_cast<double>(redis_store_->buffered_bytes()));
        });
    metrics_->registry.add_callback(
        "switchyard_store_dropped_total",
        "What the full buffer dropped while the shared store was unreachable: requests (of "
        "statistics flushes) and feedback events.",
        "counter", [this](std::string& out, bool) {
          metrics::append_sample(out, "switchyard_store_dropped_total", {{"kind", "requests"}},
                                 static_cast<double>(redis_store_->dropped_requests()));
          metrics::append_sample(out, "switchyard_store_dropped_total", {{"kind", "feedback"}},
                                 static_cast<double>(redis_store_->dropped_feedback()));
        });
  }
  metrics_->registry.add_callback(
      "switchyard_admin_queue", "API calls queued or running on the admin executor.", "gauge",
      [this](std::string& out, bool) {
        metrics::append_sample(out, "switchyard_admin_queue", {},
                               static_cast<double>(admin_ ? admin_->pending() : 0));
      });
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
      // Named for top -H, perf and the allocation counter's per-thread split (tests/perf).
      char name[16] = "sy-admin";
      if (!wk->admin_only) {
        std::snprintf(name, sizeof name, "sy-worker-%zu", wk->index);
      }
      name_thread(name);
      metrics::set_thread_shard(wk->index);
      wk->io.run();
      std::lock_guard lock(mutex_);
      --running_;
      done_.notify_all();
    });
  }
}

namespace {

// Closes the keep-alive connections that wait for a request (see server::drain).
void close_idle_sessions(worker& w) {
  for (session_state* s : w.sessions) {
    // A keep-alive connection between requests is closed now, unless the next request is
    // already in the socket buffer: that one arrived before the drain and is served.
    beast::error_code ec;
    if (s->idle && s->stream->socket().available(ec) == 0) {
      s->stream->cancel();
    }
  }
}

// At the drain deadline: every proxied request still running is told to end (final SSE error
// event, or 503), repeatedly for a short while so that one between two I/O steps is not missed.
net::awaitable<void> end_proxied_requests(worker& w) {
  net::steady_timer tick(w.io);
  for (int i = 0; i < 40 && !w.proxies.empty(); ++i) {
    const std::vector<proxy_handle*> now(w.proxies.begin(), w.proxies.end());
    for (proxy_handle* p : now) {
      p->shut();
    }
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(use_tuple);
  }
}

}  // namespace

void server::drain() {
  if (draining_.exchange(true)) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    drain_started_ = steady_clock::now();
  }
  // /readyz answers 503 from now on; the acceptors stay open for timeouts.drain_grace (see wait).
  batches_->runner().stop_starting();  // batch lines in flight finish; wait() waits for them
  for (auto& w : workers_) {
    net::post(w->io, [wk = w.get()] { close_idle_sessions(*wk); });
  }
}

void server::stop_accepting() {
  for (auto& w : workers_) {
    net::post(w->io, [wk = w.get()] {
      beast::error_code ignored;
      wk->acceptor->close(ignored);
      close_idle_sessions(*wk);  // including those that connected during the grace period
      for (auto& p : wk->pools) {
        p->close_idle();
      }
    });
  }
}

bool server::wait(steady_clock::time_point deadline) {
  bool clean = false;
  // First, while the listeners still serve: batch lines in flight finish (until the deadline)
  // and no new ones start; a line cut at the deadline runs again after the restart.
  batches_->runner().stop(deadline);
  {
    // Grace: still accepting (new requests are served) while load balancers catch up.
    std::unique_lock lock(mutex_);
    const auto grace_end = std::min(deadline, drain_started_ + cfg_->timeouts.drain_grace);
    done_.wait_until(lock, grace_end, [this] { return running_ == 0; });
  }
  stop_accepting();
  {
    std::unique_lock lock(mutex_);
    clean = done_.wait_until(lock, deadline, [this] { return running_ == 0; });
  }
  if (!clean) {
    // The deadline: streams get their final error event and closing chunk, requests that sent
    // nothing yet a 503; a short budget for those writes, then whatever is left stops hard.
    for (auto& w : workers_) {
      net::co_spawn(w->io, end_proxied_requests(*w), [](std::exception_ptr e) {
        if (e) {
          spdlog::error("drain: ending proxied requests failed");
        }
      });
    }
    std::unique_lock lock(mutex_);
    if (!done_.wait_until(lock, steady_clock::now() + final_write_budget,
                          [this] { return running_ == 0; })) {
      for (auto& w : workers_) {
        w->io.stop();
      }
    }
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  evals_->stop();  // the workers are gone: a running evaluation's requests fail fast now
  // Queued API calls have nobody left to answer. Destroyed now, while the workers exist: a
  // dropped job owns the frame of the session awaiting it, whose destructor touches its worker.
  shared_->admin = nullptr;
  admin_.reset();
  if (control_sync_) {
    control_sync_->stop();
  }
  if (shared_->shared_limits) {
    shared_->shared_limits->return_leases();  // what this replica leased and did not use
  }
  alerts_->stop();       // reads the store and the metrics: stopped before them
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
