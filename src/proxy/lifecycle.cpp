#include "switchyard/proxy/lifecycle.hpp"

#include "switchyard/http/responses.hpp"
#include "switchyard/proxy/attempt.hpp"
#include "switchyard/proxy/headers.hpp"

#include <random>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             steady_clock::now().time_since_epoch())
      .count();
}

double uniform01() {
  // Per-thread: jitter needs spread, not secrecy, and this takes no lock.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string_view bearer_token(const http::request<http::string_body>& req) {
  std::string_view auth = req[http::field::authorization];
  constexpr std::string_view prefix = "Bearer ";
  if (auth.size() > prefix.size() && beast::iequals(auth.substr(0, prefix.size()), prefix)) {
    return auth.substr(prefix.size());
  }
  return {};
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

// Counts one retry as active from its decision until the retried attempt has ended.
struct retry_slot {
  explicit retry_slot(retry_budget& b) : budget(b) {}
  ~retry_slot() { budget.retry_finished(); }
  retry_slot(const retry_slot&) = delete;
  retry_slot& operator=(const retry_slot&) = delete;
  retry_budget& budget;
};

// Counts the request as in flight for the retry budget, however the coroutine ends.
struct in_flight {
  explicit in_flight(retry_budget& b) : budget(b) { budget.request_started(); }
  ~in_flight() { budget.request_finished(); }
  in_flight(const in_flight&) = delete;
  in_flight& operator=(const in_flight&) = delete;
  retry_budget& budget;
};

struct target {
  std::size_t upstream_index;
  const std::string* model;  // what the upstream receives
};

// Every target in order (primary, then fallbacks), each with its retries, until one commits a
// response or the deadline, the attempts or the retry budget run out; then the last upstream
// answer (or the gateway's error) goes to the client.
net::awaitable<bool> drive(attempt_context& ctx, const model_config& model,
                           const request_fields& fields, endpoint ep, std::string& body,
                           std::optional<token_usage>& usage) {
  worker& w = ctx.w;
  std::vector<target> targets{{model.upstream_index, &model.model}};
  for (const auto& f : model.fallbacks) {
    targets.push_back({f.upstream_index, &f.model});
  }
  std::optional<string_response> last_answer;
  std::optional<error> last_error;
  bool attempted = false;
  auto ejected_for = std::chrono::nanoseconds::max();

  for (std::size_t t = 0; t < targets.size() && steady_clock::now() < ctx.deadline; ++t) {
    upstream_pool& pool = *w.pools[targets[t].upstream_index];
    circuit_breaker& breaker = *w.shared.breakers[targets[t].upstream_index];
    const std::string& upstream_model = *targets[t].model;
    if (t > 0) {
      ctx.fallback = pool.config().name + "/" + upstream_model;
      ctx.rec.fallback = ctx.fallback;
    }
    http::request<http::string_body> upstream_req{
        http::verb::post, pool.config().path_prefix + std::string(endpoint_path(ep)), 11};
    build_upstream_fields(ctx.req.base(), pool.config(), ctx.rec.request_id, upstream_req.base());
    if (upstream_model != fields.model) {
      upstream_req.body() = splice_model(body, fields, upstream_model);
    } else if (t + 1 == targets.size()) {
      upstream_req.body() = std::move(body);  // the last target: no copy needed
    } else {
      upstream_req.body() = body;
    }
    upstream_req.keep_alive(true);
    upstream_req.prepare_payload();

    std::optional<retry_slot> slot;  // held from a retry's decision to the end of its attempt
    for (std::uint32_t tries = 0;;) {
      if (!breaker.allow(now_ns())) {
        ejected_for = std::min(ejected_for, breaker.retry_after(now_ns()));
        break;  // ejected: on to the next target
      }
      ++tries;
      ++ctx.attempts;
      ctx.rec.upstream = pool.config().name;
      ctx.breaker = &breaker;
      ctx.breaker_recorded = false;
      auto outcome = co_await run_attempt(ctx, pool, upstream_req);
      slot.reset();
      if (ctx.st.client_gone) {
        co_return false;  // proves nothing about the upstream: no breaker record
      }
      if (!ctx.breaker_recorded) {
        breaker.record(outcome.committed || !outcome.upstream_fault, now_ns());
      }
      if (outcome.committed) {
        usage = outcome.usage;
        co_return outcome.keep_client;
      }
      attempted = true;
      last_answer = std::move(outcome.answer);
      last_error = std::move(outcome.err);
      if (!last_answer && !retriable(outcome.failure)) {
        break;
      }
      auto next = next_retry(tries, ctx.retry, outcome.retry_floor, uniform01(),
                             steady_clock::now(), ctx.deadline);
      if (!next.retry) {
        break;
      }
      if (!w.shared.budget.try_start_retry()) {
        ctx.rec.retry_stop = "retry_budget";
        break;  // an outage must not become a retry storm
      }
      slot.emplace(w.shared.budget);
      ++ctx.rec.retries;
      net::steady_timer pause(w.io, next.wait);
      co_await pause.async_wait(use_tuple);
      if (ctx.st.client_gone) {
        co_return false;
      }
    }
  }
  if (last_answer) {
    co_return co_await send_final(ctx, std::move(*last_answer));
  }
  if (!attempted) {
    auto e =
        make_error(errc::upstream_ejected, "every upstream for model " + model.name +
                                               " is temporarily ejected after repeated failures");
    auto res = error_response(e, ctx.req.version(), true, ctx.rec.request_id);
    // Rounded up: a client waiting exactly this long must find the cooldown over.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(ejected_for).count();
    ms = std::clamp<std::int64_t>(ms, 1, 60'000);
    res.set(http::field::retry_after, std::to_string((ms + 999) / 1000));
    res.set("retry-after-ms", std::to_string(ms));
    ctx.rec.error = describe(e.code).error_type;
    co_return co_await send_final(ctx, std::move(res));
  }
  if (!last_error) {
    last_error = make_error(errc::internal, "no upstream answer and no error recorded");
  }
  ctx.rec.error = describe(last_error->code).error_type;
  co_return co_await send_final(
      ctx, error_response(*last_error, ctx.req.version(), true, ctx.rec.request_id));
}

}  // namespace

net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer,
                                   http::request<http::string_body>& req, endpoint ep,
                                   access_record& rec) {
  const auto start = steady_clock::now();
  rec.endpoint = endpoint_label(ep);
  const bool keep = req.keep_alive() && !w.draining.load();
  auto reply = [&](string_response res) -> net::awaitable<bool> {
    rec.status = res.result_int();
    rec.bytes_out += res.body().size();
    bool k = res.keep_alive();
    co_return co_await write_response(client, res, w.cfg.timeouts.stream_idle) && k;
  };

  // Admit: parse the body once, route by model.
  std::string& body = req.body();
  pad_for_simdjson(body);
  auto fields = parse_request_body(ep, w.json, body);
  if (!fields) {
    rec.error = describe(fields.error().code).error_type;
    co_return co_await reply(error_response(fields.error(), req.version(), keep, rec.request_id));
  }
  rec.model = fields->model;
  rec.stream = fields->stream;
  const model_config* model = w.cfg.find_model(fields->model);
  if (!model) {
    auto e = make_error(
        errc::model_not_found,
        "The model `" + fields->model + "` does not exist or you do not have access to it.",
        "model");
    rec.error = describe(e.code).error_type;
    co_return co_await reply(error_response(e, req.version(), keep, rec.request_id));
  }
  rec.upstream = w.pools[model->upstream_index]->config().name;

  // Rate limits: all-or-nothing across every configured scope, tokens reserved up front.
  const auto estimate = estimate_tokens(body.size(), fields->max_tokens, fields->n);
  rate_request limits_key{bearer_token(req), req[w.shared.user_header], model->name, "", estimate};
  auto admission = w.shared.limiter.admit(limits_key, now_ns());
  http::fields limit_headers;
  apply_headers(admission, limit_headers);
  if (!admission.allowed) {
    // A request that alone exceeds a token limit can never pass: say so, and not to retry.
    auto e =
        admission.retryable
            ? make_error(errc::rate_limited,
                         "Rate limit reached for " + std::string(admission.refused_scope_label) +
                             "; retry after the time in the retry-after header.")
            : make_error(errc::over_token_limit,
                         "Request too large for the " + std::string(admission.refused_scope_label) +
                             " token limit: it may use up to " + std::to_string(estimate) +
                             " tokens (prompt plus max_tokens × n). Lower max_tokens or "
                             "shorten the prompt.");
    auto res = error_response(e, req.version(), keep, rec.request_id);
    for (const auto& h : limit_headers) {
      res.set(h.name_string(), h.value());
    }
    if (!admission.retryable) {
      // No wait makes it fit; a retry-after would only invite a pointless resend.
      res.erase(http::field::retry_after);
      res.erase("retry-after-ms");
    }
    rec.error = describe(e.code).error_type;
    co_return co_await reply(std::move(res));
  }

  // Call upstream, retrying and falling back, while watching the client.
  in_flight counted(w.shared.budget);
  exchange_state st;
  attempt_context ctx{w,
                      client,
                      req,
                      rec,
                      st,
                      model->retry,
                      start,
                      start + model->retry.deadline,
                      0,
                      {},
                      std::move(limit_headers),
                      nullptr,
                      false};
  std::optional<token_usage> usage;
  auto outcome = co_await (drive(ctx, *model, *fields, ep, body, usage) ||
                           watch_client(client, client_buffer, st));
  rec.attempts = ctx.attempts;
  rec.usage = usage;
  std::optional<std::uint64_t> actual;
  if (usage) {
    actual = static_cast<std::uint64_t>(usage->total_tokens);
  }
  w.shared.limiter.finish(admission, actual, now_ns());
  if (outcome.index() == 1 || st.client_gone) {
    if (!st.response_started) {
      rec.status = 499;  // nginx's "client closed request"
    }
    rec.error = "client_closed";
    co_return false;
  }
  co_return std::get<0>(outcome);
}

}  // namespace switchyard
