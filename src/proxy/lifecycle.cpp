#include "switchyard/proxy/lifecycle.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/core/json_text.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/core/scoped_count.hpp"

#include "switchyard/proxy/attempt.hpp"
#include "switchyard/proxy/fail.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/phases.hpp"

#include "switchyard/experiments/engine.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"

#include <boost/container/small_vector.hpp>

#include <algorithm>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;

// Writes a response the gateway holds; true when the connection may be kept.
net::awaitable<bool> reply(worker& w, beast::tcp_stream& client, access_record& rec,
                           string_response res) {
  rec.bytes_out += res.body().size();
  const bool keep = res.keep_alive();
  co_return co_await write_response(client, res, w.cfg.timeouts.stream_idle) && keep;
}

// Completes when the client closes or resets its connection. Bytes it sends meanwhile (a
// pipelined request) are kept in `buffer` for the session.
net::awaitable<void> watch_client(beast::tcp_stream& client, beast::flat_buffer& buffer,
                                  exchange_state& st) {
  for (;;) {
    std::size_t room = buffer.max_size() - buffer.size();
    if (room == 0) {
      // Full of pipelined bytes: stop reading (back-pressure) and just wait to be cancelled.
      net::steady_timer forever(client.get_executor(), steady_clock::time_point::max());
      co_await forever.async_wait(use_tuple);
      co_return;
    }
    // Wait for readability rather than start a read: no speculative recv() per request (the
    // common case is that the client sends nothing until the response is done).
    auto [wec] = co_await client.socket().async_wait(tcp::socket::wait_read, use_tuple);
    if (wec == net::error::operation_aborted) {
      co_return;  // the exchange finished first
    }
    beast::error_code ec = wec;
    std::size_t n = 0;
    if (!ec) {
      n = client.socket().read_some(buffer.prepare(std::min<std::size_t>(room, 4096)), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        continue;  // spurious wake-up
      }
    }
    if (ec) {
      st.client_gone = true;
      if (st.upstream) {
        st.upstream->lowest().cancel();  // stop the provider generating tokens nobody reads
      }
      co_return;
    }
    buffer.commit(n);
  }
}

// Registered for the drain deadline while the request is forwarded: the drain's `shut` cancels
// the upstream I/O, and the relay (or `forward`) ends the request with the shutdown error.
class drain_hook {
 public:
  drain_hook(worker& w, exchange_state& st) : w_(w) {
    handle_.shut = [&st] {
      st.shutdown = true;
      if (st.upstream) {
        st.upstream->lowest().cancel();
      }
    };
    w_.proxies.insert(&handle_);
  }
  ~drain_hook() { w_.proxies.erase(&handle_); }
  drain_hook(const drain_hook&) = delete;
  drain_hook& operator=(const drain_hook&) = delete;

 private:
  worker& w_;
  proxy_handle handle_;
};

struct target {
  std::size_t upstream_index;
  const std::string* model;  // what the upstream receives
};

// The drain deadline passed before anything reached the client: 503, retryable elsewhere.
error shutdown_error() {
  auto e = make_error(errc::shutting_down,
                      "The gateway is shutting down; retry the request on another instance.");
  e.retry_after = std::chrono::milliseconds(1000);
  return e;
}

// Every target's breaker refused: 503 with the wait until the first one takes traffic again.
error ejected_error(const model_config& model, std::chrono::nanoseconds ejected_for) {
  auto e =
      make_error(errc::upstream_ejected, "every upstream for model " + model.name +
                                             " is temporarily ejected after repeated failures");
  // Rounded up: a client waiting exactly this long must find the cooldown over.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(ejected_for).count();
  e.retry_after = std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60'000));
  return e;
}

// Waits `wait` between attempts, in slices, so that the drain deadline ends a long pause
// promptly. Returns early when cancelled (the client left).
net::awaitable<void> pause_before_retry(worker& w, const exchange_state& st,
                                        std::chrono::milliseconds wait) {
  const auto pause_end = steady_clock::now() + wait;
  net::steady_timer pause(w.io);
  while (!st.shutdown && steady_clock::now() < pause_end) {
    pause.expires_at(std::min(pause_end, steady_clock::now() + std::chrono::milliseconds(50)));
    auto [pec] = co_await pause.async_wait(use_tuple);
    if (pec) {
      co_return;
    }
  }
}

http::request<http::string_body> upstream_request(request_context& ctx, const upstream_config& up,
                                                  const std::string& upstream_model, bool last) {
  http::request<http::string_body> r{http::verb::post,
                                     up.path_prefix + std::string(endpoint_path(ctx.ep)), 11};
  build_upstream_fields(ctx.req.base(), up, ctx.rec.request_id, r.base());
  std::string& body = ctx.req.body();
  if (upstream_model != ctx.fields.model) {
    r.body() = splice_model(body, ctx.fields, upstream_model);
  } else if (last) {
    r.body() = std::move(body);  // the last target: no copy needed
  } else {
    r.body() = body;
  }
  r.keep_alive(true);
  r.prepare_payload();
  return r;
}

// forward + relay: every target in order (primary, then fallbacks), each with its retries,
// until one commits a response or `retries` says stop; then the last upstream answer (or the
// gateway's error) goes to the client through `fail`. Returns whether the client connection
// may be kept.
net::awaitable<bool> forward(worker& w, beast::tcp_stream& client, request_context& ctx,
                             retry_state& retries) {
  const model_config& model = *ctx.model;
  boost::container::small_vector<target, 4> targets{{model.upstream_index, &model.model}};
  for (const auto& f : model.fallbacks) {
    targets.push_back({f.upstream_index, &f.model});
  }
  attempt_io io{.w = w,
                .client = client,
                .ctx = ctx,
                .retries = retries,
                .inter_token = w.shared.metrics->series_for(ctx.rec).inter_token};
  ctx.forwarded = true;
  auto answer = [&](const error& e, std::optional<string_response> relayed = std::nullopt) {
    return reply(w, client, ctx.rec, relayed ? fail(ctx, e, std::move(*relayed)) : fail(ctx, e));
  };
  std::optional<attempt_retry> last;  // the latest failed attempt

  for (std::size_t t = 0; t < targets.size() && !retries.past_deadline(steady_clock::now()); ++t) {
    upstream_pool& pool = *w.pools[targets[t].upstream_index];
    if (t > 0) {
      ctx.fallback = pool.config().name + "/" + *targets[t].model;
      ctx.rec.fallback = ctx.fallback;
      w.shared.metrics->fallbacks
          .with({w.pools[targets[0].upstream_index]->config().name, pool.config().name})
          .inc();
    }
    auto upstream_req =
        upstream_request(ctx, pool.config(), *targets[t].model, t + 1 == targets.size());
    retries.start_target(w.shared.breakers[targets[t].upstream_index].get());
    for (;;) {
      if (ctx.st.shutdown) {
        retries.stop(retry_stop::shutdown);
        co_return co_await answer(shutdown_error());
      }
      if (!retries.allow(steady_clock::now())) {
        break;  // ejected: on to the next target
      }
      retries.begin_attempt();
      ctx.attempts = retries.attempts();
      ctx.rec.upstream = pool.config().name;
      const auto attempt_start = steady_clock::now();
      auto outcome = co_await run_attempt(io, pool, upstream_req);
      ctx.timing.upstream_time += steady_clock::now() - attempt_start;
      retries.end_attempt();
      auto* failed = std::get_if<attempt_retry>(&outcome);
      if (ctx.st.client_gone) {
        // Proves nothing about the upstream: no breaker record.
        co_return false;
      }
      if (ctx.st.shutdown && failed) {
        retries.stop(retry_stop::shutdown);  // cancelled by the drain, not a fault
        co_return co_await answer(shutdown_error());
      }
      if (auto* c = std::get_if<attempt_committed>(&outcome)) {
        retries.record(true, steady_clock::now());
        ctx.rec.usage = c->usage;
        co_return c->keep_client;
      }
      if (auto* f = std::get_if<attempt_final>(&outcome)) {
        retries.record(true, steady_clock::now());  // it answered: healthy
        retries.stop(retry_stop::not_retriable);
        co_return co_await answer(f->err, std::move(f->answer));
      }
      retries.record(!upstream_fault(failed->err), steady_clock::now());
      last = std::move(*failed);
      auto next = retries.decide(last->err, last->retry_floor, random01(), steady_clock::now());
      if (!next.retry) {
        break;
      }
      w.shared.metrics->retries.with({pool.config().name, reason_label(last->err)}).inc();
      const auto pause_start = steady_clock::now();
      co_await pause_before_retry(w, ctx.st, next.wait);
      ctx.timing.upstream_time += steady_clock::now() - pause_start;
      if (ctx.st.client_gone) {
        co_return false;
      }
    }
  }
  if (!last) {
    co_return co_await answer(ejected_error(model, retries.ejected_for()));
  }
  co_return co_await answer(last->err, std::move(last->answer));
}

}  // namespace

net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer,
                                   http::request<http::string_body>& req, endpoint ep,
                                   access_record& rec) {
  rec.endpoint = endpoint_label(ep);
  request_context ctx{.req = req,
                      .ep = ep,
                      .rec = rec,
                      .snapshot = w.shared.snapshot->current(),  // the config, to the end
                      .draining = &w.draining};
  ctx.timing.start = steady_clock::now();
  auto refuse = [&](const error& e) { return reply(w, client, rec, fail(ctx, e)); };

  if (auto r = phase::parse(ctx, w.json); !r) {
    co_return co_await refuse(r.error());
  }
  phase::assign(ctx, {.random01 = random01(),
                      .nonce = random_u64(),
                      .unix_seconds = unix_seconds(),
                      .feedback_key = ctx.snapshot->feedback.current});
  if (auto r = phase::route(ctx, w.cfg.upstreams); !r) {
    co_return co_await refuse(r.error());
  }
  if (auto r = phase::rewrite(ctx, w.json); !r) {
    co_return co_await refuse(r.error());
  }
  const std::string_view primary = w.pools[ctx.model->upstream_index]->config().name;
  if (auto r = phase::admit(ctx, w.shared.limiter, w.shared.user_header, primary, now_ns()); !r) {
    w.shared.metrics->rate_limited.with({ctx.admitted.refused_scope_label}).inc();
    co_return co_await refuse(r.error());
  }

  // forward → relay, while watching the client.
  ctx.timing.deadline = ctx.timing.start + ctx.model->retry.deadline;
  retry_state retries(ctx.model->retry, w.shared.budget, ctx.timing.deadline);
  drain_hook drain(w, ctx.st);
  scoped_count<metrics::gauge, double> in_flight(w.shared.metrics->inflight.with());
  auto outcome =
      co_await (forward(w, client, ctx, retries) || watch_client(client, client_buffer, ctx.st));

  // account
  std::optional<std::uint64_t> actual;
  if (rec.usage) {
    actual = static_cast<std::uint64_t>(rec.usage->total_tokens);
  }
  w.shared.limiter.finish(ctx.admitted, actual, now_ns());
  const bool gone = outcome.index() == 1 || ctx.st.client_gone;
  if (gone) {
    if (!ctx.st.response_started) {
      rec.status = 499;  // nginx's "client closed request"
    }
    rec.error = "client_closed";
    rec.error_source = source_label(error_source::downstream);
    if (!ctx.st.response_started && retries.stopped() == retry_stop::none) {
      retries.stop(retry_stop::client_gone);
    }
  }
  rec.retries = retries.retries();
  rec.retry_stop = retry_stop_label(retries.stopped());
  if (auto o = phase::account(ctx, steady_clock::now(), unix_seconds())) {
    w.shared.experiments->record(w.index, *ctx.snapshot, ctx.assigned, *o);
  }
  co_return gone ? false : std::get<0>(outcome);
}

}  // namespace switchyard
