#include "switchyard/proxy/lifecycle.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/core/json_text.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/core/scoped_count.hpp"

#include "switchyard/proxy/attempt.hpp"
#include "switchyard/proxy/fail.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/phases.hpp"
#include "switchyard/proxy/translation.hpp"
#include "switchyard/proxy/upstream_target.hpp"

#include "switchyard/experiments/engine.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <charconv>

namespace switchyard {

namespace {

// Writes a response the gateway holds; true when the connection may be kept.
net::awaitable<bool> reply(worker& w, beast::tcp_stream& client, access_record& rec,
                           string_response res) {
  rec.bytes_out += res.body().size();
  const bool keep = res.keep_alive();
  co_return co_await write_response(client, res, w.cfg.timeouts.stream_idle) && keep;
}

}  // namespace

/// The watch of a client while its request is forwarded: a readiness probe (a one-byte
/// MSG_PEEK receive) on the client socket whose handler notices a close or reset, then marks
/// the exchange and cancels the upstream at once. A plain callback rather than a coroutine in
/// a parallel group with the exchange: no second frame, no group, no extra event-loop turns.
/// A peek rather than `async_wait`: Asio queues a receive on an edge-triggered registration
/// without a syscall when the last read drained the socket, where a wait re-arms it with
/// EPOLL_CTL_MOD; and a peek consumes nothing, so a handler that runs after the request ended
/// (completed, still queued, when the watch stopped) loses no byte of a pipelined request.
/// Per connection (the session's exchange_buffers), shared with the pending handler: it may run
/// after the request, or the connection, is gone.
struct client_watch_state {
  tcp::socket* socket = nullptr;
  beast::flat_buffer* buffer = nullptr;
  exchange_state* st = nullptr;
  bool active = false;  // a request is being forwarded; the pointers are valid
  bool armed = false;   // a probe is pending
  char probe = 0;
};

namespace {

void arm(const std::shared_ptr<client_watch_state>& w);

void on_probe(const std::shared_ptr<client_watch_state>& w, const beast::error_code& ec,
              std::size_t n) {
  w->armed = false;
  if (!w->active || ec == net::error::operation_aborted) {
    return;  // the request is over (or the watch stopped): nothing here is ours any more
  }
  beast::error_code rec = ec;
  if (!rec && n > 0) {
    // Bytes: a pipelined request. Keep them for the session (bounded: when the buffer is
    // full, stop reading — back-pressure — and stop watching) and go on watching.
    beast::flat_buffer& buffer = *w->buffer;
    const std::size_t room = buffer.max_size() - buffer.size();
    if (room == 0) {
      return;
    }
    const std::size_t got =
        w->socket->read_some(buffer.prepare(std::min<std::size_t>(room, 4096)), rec);
    if (rec == net::error::would_block || rec == net::error::try_again) {
      rec = {};
    }
    if (!rec) {
      buffer.commit(got);
      arm(w);
      return;
    }
  }
  // Closed (a zero-byte peek is the peer's FIN) or reset.
  exchange_state& st = *w->st;
  st.client_gone = true;
  if (st.upstream) {
    st.upstream->lowest().cancel();  // stop the provider generating tokens nobody reads
  }
  if (st.pause) {
    st.pause->cancel();
  }
}

void arm(const std::shared_ptr<client_watch_state>& w) {
  w->armed = true;
  w->socket->async_receive(net::buffer(&w->probe, 1), tcp::socket::message_peek,
                           [w](const beast::error_code& ec, std::size_t n) { on_probe(w, ec, n); });
}

// Watches the client for the lifetime of this object (the forward and relay phases).
class client_watch {
 public:
  client_watch(std::shared_ptr<client_watch_state>& slot, beast::tcp_stream& client,
               beast::flat_buffer& buffer, exchange_state& st) {
    if (!slot || slot.use_count() > 1) {
      // First request of the connection, or the previous probe's handler is still queued
      // (it holds the old state and must find it inactive): a new state.
      slot = std::make_shared<client_watch_state>();
    }
    w_ = slot.get();
    *w_ = client_watch_state{
        .socket = &client.socket(), .buffer = &buffer, .st = &st, .active = true};
    arm(slot);
  }
  ~client_watch() {
    w_->active = false;
    if (w_->armed) {
      beast::error_code ignored;
      w_->socket->cancel(ignored);
    }
  }
  client_watch(const client_watch&) = delete;
  client_watch& operator=(const client_watch&) = delete;

 private:
  client_watch_state* w_;
};

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
net::awaitable<void> pause_before_retry(worker& w, exchange_state& st,
                                        std::chrono::milliseconds wait) {
  const auto pause_end = steady_clock::now() + wait;
  net::steady_timer pause(w.io);
  st.pause = &pause;  // the client watch ends it when the client leaves
  struct unregister {
    exchange_state& st;
    ~unregister() { st.pause = nullptr; }
  } registered{st};
  while (!st.shutdown && !st.client_gone && steady_clock::now() < pause_end) {
    pause.expires_at(std::min(pause_end, steady_clock::now() + std::chrono::milliseconds(50)));
    auto [pec] = co_await pause.async_wait(use_tuple);
    if (pec) {
      co_return;
    }
  }
}

// The header block of the upstream request for one target, rendered once into the
// connection's buffers (the bytes Beast's serializer wrote for the same message): the client's
// fields as build_upstream_fields filters them, then Content-Length; the target is endpoint
// `ep` of `up`.
std::string_view render_upstream_head(request_context& ctx, const upstream_config& up, endpoint ep,
                                      const std::string& upstream_model, std::size_t body_size) {
  exchange_buffers& b = *ctx.buffers;
  header_list& h = b.fields;
  h.clear();
  build_upstream_fields(ctx.req.base(), up, ctx.rec.request_id, h);
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, body_size).ptr;
  h.set_copy("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
  b.upstream_target.clear();
  append_upstream_target(up, ep, upstream_model, b.upstream_target);
  b.upstream_head.clear();
  render_request_head("POST", {}, b.upstream_target, h, b.upstream_head);
  return b.upstream_head;
}

// The upstream request for a target that speaks the client's API. The body is the client's,
// rewritten in place, unless this target gets another model name.
upstream_request render_upstream_request(request_context& ctx, const upstream_config& up,
                                         const std::string& upstream_model) {
  exchange_buffers& b = *ctx.buffers;
  std::string_view body = ctx.req.body();
  if (upstream_model != ctx.fields.model) {
    b.spliced_body = splice_model(ctx.req.body(), ctx.fields, upstream_model);
    body = b.spliced_body;
  }
  return {render_upstream_head(ctx, up, ctx.ep, upstream_model, body.size()), body,
          endpoint_api(ctx.ep)};
}

// The upstream request for one target, or (false) the refusal in `refusal`: passed through
// when the target serves the client's API, else translated (proxy/translation.hpp), its body
// and its answer's translation in the connection's buffers. Plain code, outside the coroutine:
// the translation's temporaries stay off its frame.
template <class Refusal>
bool prepare_target(request_context& ctx, const upstream_config& up,
                    const std::string& upstream_model, upstream_request& out,
                    std::optional<Refusal>& refusal) {
  auto plan = plan_translation(ctx.ep, up, ctx.model->name);
  if (!plan) {
    refusal.emplace(Refusal{std::move(plan.error())});
    return false;
  }
  if (plan->kind == translation::none) {
    out = render_upstream_request(ctx, up, upstream_model);  // the fast path: no copy
    return true;
  }
  exchange_buffers& b = *ctx.buffers;
  if (!b.translation) {
    b.translation = std::make_shared<response_translation>();
  }
  auto body = translate_request(*plan, ctx.req.body(),
                                {.upstream_model = upstream_model,
                                 .default_max_tokens = up.default_max_tokens,
                                 .request_id = ctx.rec.request_id,
                                 .unix_seconds = unix_seconds(),
                                 .strip_usage = ctx.strip_usage},
                                *b.translation);
  if (!body) {
    refusal.emplace(Refusal{std::move(body.error())});
    return false;
  }
  b.translated_body.swap(*body);
  out = {render_upstream_head(ctx, up, plan->upstream, upstream_model, b.translated_body.size()),
         b.translated_body, plan->upstream_api(), b.translation.get()};
  return true;
}

// What the client gets when no attempt commits: the gateway's error, with the upstream's own
// answer when it sent one.
struct rejection {
  error err;
  std::optional<string_response> relayed{};
};

// Answers `r` through `fail`. A coroutine of its own so that the response is built in this
// small frame, not in the caller's (whose frame must stay under Asio's recycling limit).
net::awaitable<bool> answer(worker& w, beast::tcp_stream& client, request_context& ctx,
                            rejection& r) {
  // Built before the co_await, as a named local: GCC 12 mishandles a conditional expression of
  // class type inside a co_await's operands.
  string_response res = r.relayed ? fail(ctx, r.err, std::move(*r.relayed)) : fail(ctx, r.err);
  co_return co_await reply(w, client, ctx.rec, std::move(res));
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
  std::optional<attempt_retry> last;  // the latest failed attempt
  std::optional<rejection> out;       // set: stop and answer this
  upstream_request upstream_req;

  for (std::size_t t = 0; !out && t < targets.size() && !retries.past_deadline(steady_clock::now());
       ++t) {
    upstream_pool& pool = *w.pools[targets[t].upstream_index];
    if (!prepare_target(ctx, pool.config(), *targets[t].model, upstream_req, out)) {
      if (t == 0) {
        // Before any attempt, in the client's shape: the primary cannot serve this API (or
        // the request does not translate).
        break;
      }
      out.reset();  // a fallback that cannot take it is skipped
      continue;
    }
    ctx.forwarded = true;
    if (t > 0) {
      ctx.fallback = pool.config().name + "/" + *targets[t].model;
      ctx.rec.fallback = ctx.fallback;
      w.shared.metrics->fallbacks
          .with({w.pools[targets[0].upstream_index]->config().name, pool.config().name})
          .inc();
    }
    retries.start_target(w.shared.breakers[targets[t].upstream_index].get());
    for (;;) {
      if (ctx.st.shutdown) {
        retries.stop(retry_stop::shutdown);
        out.emplace(rejection{shutdown_error()});
        break;
      }
      if (ctx.st.client_gone) {
        co_return false;
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
        out.emplace(rejection{shutdown_error()});
        break;
      }
      if (auto* c = std::get_if<attempt_committed>(&outcome)) {
        retries.record(true, steady_clock::now());
        ctx.rec.usage = c->usage;
        co_return c->keep_client;
      }
      if (auto* f = std::get_if<attempt_final>(&outcome)) {
        retries.record(true, steady_clock::now());  // it answered: healthy
        retries.stop(retry_stop::not_retriable);
        out.emplace(rejection{std::move(f->err), std::move(f->answer)});
        break;
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
  if (!out) {
    if (last) {
      out.emplace(rejection{std::move(last->err), std::move(last->answer)});
    } else {
      out.emplace(rejection{ejected_error(model, retries.ejected_for())});
    }
  }
  co_return co_await answer(w, client, ctx, *out);
}

// parse → assign → route → rewrite → admit: the refusal of the first phase that refuses. Plain
// code, outside the coroutine: the phases' temporaries stay off its frame.
std::optional<error> prepare(worker& w, request_context& ctx) {
  if (auto r = phase::parse(ctx, w.json); !r) {
    return std::move(r.error());
  }
  phase::assign(ctx, {.random01 = random01(),
                      .nonce = random_u64(),
                      .unix_seconds = unix_seconds(),
                      .feedback_key = ctx.snapshot->feedback.current});
  if (auto r = phase::route(ctx, w.cfg.upstreams); !r) {
    return std::move(r.error());
  }
  if (auto r = phase::rewrite(ctx, w.json); !r) {
    return std::move(r.error());
  }
  const std::string_view primary = w.pools[ctx.model->upstream_index]->config().name;
  if (auto r = phase::admit(ctx, w.shared.limiter, w.shared.user_header, primary, now_ns()); !r) {
    w.shared.metrics->rate_limited.with({ctx.admitted.refused_scope_label}).inc();
    return std::move(r.error());
  }
  return std::nullopt;
}

// The request's context, in the connection's buffers, with the connection's header storage
// lent to it (capacity kept: no allocation).
request_context& open_context(worker& w, exchange_buffers& buffers, client_request& req,
                              endpoint ep, access_record& rec) {
  request_context& ctx =
      buffers.ctx.emplace(request_context{.req = req,
                                          .ep = ep,
                                          .rec = rec,
                                          .snapshot = w.shared.snapshot->current(),  // to the end
                                          .draining = &w.draining,
                                          .buffers = &buffers});
  buffers.tags.clear();
  buffers.limit_headers.clear();
  ctx.tags.swap(buffers.tags);
  ctx.limit_headers.swap(buffers.limit_headers);
  return ctx;
}

// Gives the header storage back and ends the context (the snapshot is released).
struct context_scope {
  exchange_buffers& b;
  ~context_scope() {
    b.ctx->tags.swap(b.tags);
    b.ctx->limit_headers.swap(b.limit_headers);
    b.ctx.reset();
  }
};

// The account phase's bookkeeping after the exchange: limits, the record, the experiment.
void finish(worker& w, request_context& ctx, retry_state& retries) {
  access_record& rec = ctx.rec;
  std::optional<std::uint64_t> actual;
  if (rec.usage) {
    actual = static_cast<std::uint64_t>(rec.usage->total_tokens);
  }
  w.shared.limiter.finish(ctx.admitted, actual, now_ns());
  if (w.shared.shared_limits) {
    w.shared.shared_limits->finish(ctx.shared_admitted, actual, now_ns());
  }
  if (ctx.st.client_gone) {
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
}

net::awaitable<bool> refuse(worker& w, beast::tcp_stream& client, request_context& ctx,
                            const error& e) {
  string_response res = fail(ctx, e);
  co_return co_await reply(w, client, ctx.rec, std::move(res));
}

}  // namespace

net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer, exchange_buffers& buffers,
                                   client_request& req, endpoint ep, access_record& rec) {
  rec.endpoint = endpoint_label(ep);
  request_context& ctx = open_context(w, buffers, req, ep, rec);
  context_scope scope{buffers};
  ctx.timing.start = steady_clock::now();
  if (auto refusal = prepare(w, ctx)) {
    co_return co_await refuse(w, client, ctx, *refusal);
  }
  // admit, shared part (mode leased/exact): waits on Redis only when a bucket must ask it, and
  // never past store.timeout.
  if (shared_limiter* limits = w.shared.shared_limits.get()) {
    ctx.shared_admitted = limits->begin(phase::rate_key(ctx, w.shared.user_header), now_ns());
    if (ctx.shared_admitted.needs_redis) {
      co_await limits->complete(ctx.shared_admitted, now_ns());
    }
    if (auto r = phase::settle_shared(ctx, w.shared.limiter, *limits, now_ns()); !r) {
      w.shared.metrics->rate_limited.with({ctx.shared_admitted.refused_scope_label}).inc();
      co_return co_await refuse(w, client, ctx, r.error());
    }
  }

  // forward → relay, while watching the client.
  ctx.timing.deadline = ctx.timing.start + ctx.model->retry.deadline;
  retry_state retries(ctx.model->retry, w.shared.budget, ctx.timing.deadline);
  drain_hook drain(w, ctx.st);
  scoped_count<metrics::gauge, double> in_flight(w.shared.metrics->inflight.with());
  bool keep = false;
  {
    client_watch watch(buffers.watch, client, client_buffer, ctx.st);
    keep = co_await forward(w, client, ctx, retries);
  }

  // account
  finish(w, ctx, retries);
  co_return ctx.st.client_gone ? false : keep;
}

}  // namespace switchyard
