#include "switchyard/proxy/lifecycle.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/core/text.hpp"

#include "switchyard/http/responses.hpp"
#include "switchyard/proxy/attempt.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/rewrite.hpp"

#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdio>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;

std::string_view bearer_token(const http::request<http::string_body>& req) {
  return switchyard::bearer_token(req[http::field::authorization]);
}

string_response with_headers(string_response res, const http::fields& extra) {
  for (const auto& h : extra) {
    res.set(h.name_string(), h.value());
  }
  return res;
}

// A prompt version rendered into the edit: a system message (chat) or the wrapped prompt.
result<void> render_prompt(const prompt_plan& pp, endpoint ep, const std::string& body,
                           const request_fields& f, body_edit& edit) {
  if (ep == endpoint::completions && !f.prompt_is_string) {
    return make_error(errc::invalid_request,
                      "prompt version " + pp.ref +
                          " wraps a string prompt; this request's prompt "
                          "is an array",
                      "prompt");
  }
  boost::json::object meta;
  if (const auto* m = f.find("metadata"); m && !pp.tmpl.variables().empty()) {
    std::size_t i = static_cast<std::size_t>(m - f.members.data());
    boost::system::error_code ec;
    auto v = boost::json::parse(
        std::string_view(body).substr(m->value_begin, f.member_end(body, i) - m->value_begin), ec);
    if (!ec && v.is_object()) {
      meta = std::move(v.as_object());
    }
  }
  std::vector<std::string> scratch;  // numbers and booleans given as metadata, as text
  scratch.reserve(pp.tmpl.variables().size());
  auto lookup = [&](std::string_view name) -> std::optional<std::string_view> {
    if (ep == endpoint::completions && name == "input") {
      return std::string_view(f.prompt);
    }
    auto it = meta.find(name);
    if (it == meta.end() || it->value().is_null()) {
      return std::nullopt;
    }
    if (it->value().is_string()) {
      return std::string_view(it->value().as_string());
    }
    scratch.push_back(boost::json::serialize(it->value()));
    return std::string_view(scratch.back());
  };
  auto text = pp.tmpl.render(lookup, pp.cfg->defaults, pp.ref);
  if (!text) {
    return text.error();
  }
  if (ep == endpoint::completions) {
    const auto& vars = pp.tmpl.variables();
    if (std::find(vars.begin(), vars.end(), "input") == vars.end()) {
      *text += "\n\n";  // no {{input}}: the client's prompt follows the template
      *text += f.prompt;
    }
    append_json_escaped(edit.prompt, *text);
  } else {
    append_json_escaped(edit.system_message, *text);
    edit.replace_system = pp.cfg->replace_system;
  }
  return {};
}

// Tokens and cost of the finished request (estimated when the upstream gave no usage), and
// its contribution to the experiment's statistics when its exposure was randomised.
void account(worker& w, const plan& p, const assignment& a, const model_config& model,
             access_record& rec, const attempt_context& ctx, steady_clock::time_point start) {
  const auto now = steady_clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - start).count();
  rec.upstream_ms = std::chrono::duration<double, std::milli>(ctx.upstream_time).count();
  double in = 0, out = 0;
  if (rec.usage) {
    in = static_cast<double>(rec.usage->prompt_tokens);
    out = static_cast<double>(rec.usage->completion_tokens);
  } else if (rec.status >= 200 && rec.status < 300) {
    // About 4 bytes per token; a stream sends about one event per token.
    rec.usage_estimated = true;
    in = std::ceil(static_cast<double>(rec.bytes_in) / 4);
    out = ctx.token_events > 0 ? static_cast<double>(ctx.token_events)
                               : std::ceil(static_cast<double>(rec.bytes_out) / 4);
    rec.usage = token_usage{static_cast<std::int64_t>(in), static_cast<std::int64_t>(out),
                            static_cast<std::int64_t>(in + out)};
  }
  rec.cost_usd = cost_usd(model.price, in, out);
  if (!a.counted || rec.status == 499) {
    return;  // not randomised (override, paused…) or cut short by the client
  }
  experiment_outcome o;
  o.error = rec.status >= 500 || rec.status == 429;
  o.latency_ms = ms;
  o.ttft_ms = rec.ttft_ms;
  o.input_tokens = in;
  o.output_tokens = out;
  o.cost_usd = rec.cost_usd;
  o.unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  w.shared.experiments->record(w.index, p, a, o);
}

// Matches the request against the experiments of this snapshot and assigns a variant.
assignment assign_request(const plan& p, const http::request<http::string_body>& req, endpoint ep,
                          const request_fields& f, const std::string& body) {
  if (p.experiments.empty()) {
    return {};
  }
  request_view view;
  view.model = f.model;
  view.endpoint = endpoint_label(ep);
  view.header = [&req](std::string_view name) { return std::string_view(req[name]); };
  if (const auto* user = f.find("user")) {
    // The raw JSON string without its quotes; assignment decodes escapes (decode_body_user).
    std::size_t i = static_cast<std::size_t>(user - f.members.data());
    std::string_view raw =
        std::string_view(body).substr(user->value_begin, f.member_end(body, i) - user->value_begin);
    if (raw.size() >= 2 && raw.front() == '"') {
      view.body_user = raw.substr(1, raw.size() - 2);
    }
  }
  view.api_key = bearer_token(req);
  view.override_header = req["x-switchyard-variant"];
  view.random01 = random01();
  return assign(p, view);
}

// The response headers and access-log fields that say which experiment and variant served.
void tag_request(worker& w, const assignment& a, const http::request<http::string_body>& req,
                 access_record& rec, http::fields& out) {
  rec.assignment = a.reason;
  if (!a.experiment) {
    return;
  }
  rec.experiment = a.experiment->cfg->name;
  rec.variant = a.variant->name;
  rec.prompt_version = a.variant->prompt ? a.variant->prompt->ref : "";
  out.set("x-switchyard-experiment", rec.experiment);
  out.set("x-switchyard-variant", rec.variant);
  if (!rec.prompt_version.empty()) {
    out.set("x-switchyard-prompt-version", rec.prompt_version);
  }
  // A signed id carries the assignment, so feedback works on any replica and after restarts.
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(random_u64()));
  feedback_claims claims{rec.experiment, rec.variant, rec.prompt_version,
                         std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count(),
                         nonce};
  claims.unit = a.unit_fingerprint;  // feedback is then analysed per unit of assignment
  std::string id = sign_feedback_id(claims, w.shared.experiments->feedback_key());
  out.set("x-switchyard-feedback-id", id);
  if (req.count("x-request-id") == 0) {
    rec.request_id = std::move(id);  // the client has no id of its own: ours is the signed one
  }
}

// Applies the variant (model, params, prompt) and turns on stream usage when `inject_usage`;
// re-parses the body.
result<void> rewrite_request(worker& w, const assignment& a, endpoint ep, std::string& body,
                             request_fields& f, bool inject_usage, bool& strip_usage) {
  body_edit edit;
  if (const variant_plan* v = a.variant) {
    if (v->model->name != f.model) {
      std::string quoted = "\"";
      append_json_escaped(quoted, v->model->name);
      quoted += '"';
      edit.set.emplace_back("model", std::move(quoted));
    }
    for (const auto& [k, val] : v->params) {
      edit.set.emplace_back(k, val);
    }
    if (v->prompt && ep != endpoint::embeddings) {
      if (auto r = render_prompt(*v->prompt, ep, body, f, edit); !r) {
        return r.error();
      }
    }
  }
  if (auto so = inject_usage ? usage_stream_options(body, f) : std::nullopt) {
    edit.set.emplace_back("stream_options", std::move(*so));
    strip_usage = true;
  }
  if (edit.empty()) {
    return {};
  }
  body = apply_edit(body, f, edit);
  pad_for_simdjson(body);
  auto again = parse_request_body(ep, w.json, body, false);  // built from a validated body
  if (!again) {
    return make_error(errc::internal,
                      "the rewritten request does not parse: " + again.error().message);
  }
  f = std::move(*again);
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

// The drain deadline passed before anything reached the client: 503, retryable elsewhere.
net::awaitable<bool> shutdown_answer(attempt_context& ctx) {
  auto e = make_error(errc::shutting_down,
                      "The gateway is shutting down; retry the request on another instance.");
  auto res = error_response(e, ctx.req.version(), false, ctx.rec.request_id);
  res.set(http::field::retry_after, "1");
  res.set("retry-after-ms", "1000");
  ctx.rec.error = describe(e.code).error_type;
  co_return co_await send_final(ctx, std::move(res));
}

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
      w.shared.metrics->fallbacks
          .with({w.pools[targets[0].upstream_index]->config().name, pool.config().name})
          .inc();
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
      if (ctx.st.shutdown) {
        co_return co_await shutdown_answer(ctx);
      }
      if (!breaker.allow(now_ns())) {
        ejected_for = std::min(ejected_for, breaker.retry_after(now_ns()));
        break;  // ejected: on to the next target
      }
      ++tries;
      ++ctx.attempts;
      ctx.rec.upstream = pool.config().name;
      ctx.breaker = &breaker;
      ctx.breaker_recorded = false;
      const auto attempt_start = steady_clock::now();
      auto outcome = co_await run_attempt(ctx, pool, upstream_req);
      ctx.upstream_time += steady_clock::now() - attempt_start;
      slot.reset();
      if (ctx.st.client_gone) {
        co_return false;  // proves nothing about the upstream: no breaker record
      }
      if (ctx.st.shutdown && !outcome.committed) {
        co_return co_await shutdown_answer(ctx);  // cancelled by the drain, not a fault
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
      auto next = next_retry(tries, ctx.retry, outcome.retry_floor, random01(),
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
      w.shared.metrics->retries
          .with({pool.config().name,
                 reason_label(outcome.failure, last_answer ? last_answer->result_int() : 0)})
          .inc();
      // In slices, so that the drain deadline ends a long pause promptly.
      const auto pause_start = steady_clock::now();
      const auto pause_end = pause_start + next.wait;
      net::steady_timer pause(w.io);
      while (!ctx.st.shutdown && steady_clock::now() < pause_end) {
        pause.expires_at(std::min(pause_end, steady_clock::now() + std::chrono::milliseconds(50)));
        auto [pec] = co_await pause.async_wait(use_tuple);
        if (pec) {
          break;  // cancelled: the client left
        }
      }
      ctx.upstream_time += steady_clock::now() - pause_start;
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

  // Admit: parse the body once; match an experiment, assign a variant, rewrite; route by model.
  const auto snapshot = w.shared.snapshot->current();  // this request's config, to the end
  std::string& body = req.body();
  pad_for_simdjson(body);
  auto fields = parse_request_body(ep, w.json, body);
  if (!fields) {
    rec.error = describe(fields.error().code).error_type;
    co_return co_await reply(error_response(fields.error(), req.version(), keep, rec.request_id));
  }
  rec.model = fields->model;
  rec.stream = fields->stream;
  auto a = assign_request(*snapshot, req, ep, *fields, body);
  http::fields exp_headers;
  tag_request(w, a, req, rec, exp_headers);
  const model_config* model =
      a.variant ? a.variant->model : snapshot->cfg->find_model(fields->model);
  if (!model) {
    auto e = make_error(
        errc::model_not_found,
        "The model `" + fields->model + "` does not exist or you do not have access to it.",
        "model");
    rec.error = describe(e.code).error_type;
    co_return co_await reply(
        with_headers(error_response(e, req.version(), keep, rec.request_id), exp_headers));
  }
  rec.model_known = true;
  if (model->name != fields->model) {
    rec.routed_model = model->name;
  }
  // One body serves every target, so usage is injected only when all of them accept it.
  bool inject_usage = w.pools[model->upstream_index]->config().inject_stream_usage;
  for (const auto& f : model->fallbacks) {
    inject_usage = inject_usage && w.pools[f.upstream_index]->config().inject_stream_usage;
  }
  bool strip_usage = false;
  if (auto rewritten = rewrite_request(w, a, ep, body, *fields, inject_usage, strip_usage);
      !rewritten) {
    rec.error = describe(rewritten.error().code).error_type;
    co_return co_await reply(with_headers(
        error_response(rewritten.error(), req.version(), keep, rec.request_id), exp_headers));
  }
  rec.upstream = w.pools[model->upstream_index]->config().name;

  // Rate limits: all-or-nothing across every configured scope, tokens reserved up front.
  const auto estimate = estimate_tokens(body.size(), fields->max_tokens, fields->n);
  rate_request limits_key{bearer_token(req), req[w.shared.user_header], model->name,
                          rec.experiment.empty() ? std::string_view{} : rec.variant, estimate};
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
    auto res = with_headers(error_response(e, req.version(), keep, rec.request_id), exp_headers);
    for (const auto& h : limit_headers) {
      res.set(h.name_string(), h.value());
    }
    if (!admission.retryable) {
      // No wait makes it fit; a retry-after would only invite a pointless resend.
      res.erase(http::field::retry_after);
      res.erase("retry-after-ms");
    }
    rec.error = describe(e.code).error_type;
    w.shared.metrics->rate_limited.with({admission.refused_scope_label}).inc();
    co_return co_await reply(std::move(res));
  }

  // Call upstream, retrying and falling back, while watching the client.
  in_flight counted(w.shared.budget);
  exchange_state st;
  // Registered for the drain deadline: it cancels the upstream I/O, and the relay (or `drive`)
  // ends the request with the shutdown error.
  struct drain_registration {
    worker& wk;
    proxy_handle handle;
    drain_registration(worker& w_, exchange_state& s) : wk(w_) {
      handle.shut = [&s] {
        s.shutdown = true;
        if (s.upstream) {
          s.upstream->lowest().cancel();
        }
      };
      wk.proxies.insert(&handle);
    }
    ~drain_registration() { wk.proxies.erase(&handle); }
    drain_registration(const drain_registration&) = delete;
    drain_registration& operator=(const drain_registration&) = delete;
  } drain_hook(w, st);
  for (const auto& h : exp_headers) {
    limit_headers.set(h.name_string(), h.value());
  }
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
  ctx.strip_usage = strip_usage;
  ctx.capture = rec.response_capture;
  ctx.on_gap = [](void* h, double seconds) {
    static_cast<metrics::histogram*>(h)->observe(seconds);
  };
  ctx.on_gap_arg = w.shared.metrics->series_for(rec).inter_token;
  struct gauge_hold {  // in flight for /metrics, however the coroutine ends
    metrics::gauge& g;
    explicit gauge_hold(metrics::gauge& gg) : g(gg) { g.add(1); }
    ~gauge_hold() { g.sub(1); }
    gauge_hold(const gauge_hold&) = delete;
    gauge_hold& operator=(const gauge_hold&) = delete;
  } inflight_gauge(w.shared.metrics->inflight.with());
  std::optional<token_usage> usage;
  auto outcome = co_await (drive(ctx, *model, *fields, ep, body, usage) ||
                           watch_client(client, client_buffer, st));
  rec.attempts = ctx.attempts;
  rec.usage = usage;
  if (ctx.first_token != steady_clock::time_point{}) {
    rec.ttft_ms = std::chrono::duration<double, std::milli>(ctx.first_token - start).count();
  }
  std::optional<std::uint64_t> actual;
  if (usage) {
    actual = static_cast<std::uint64_t>(usage->total_tokens);
  }
  w.shared.limiter.finish(admission, actual, now_ns());
  const bool gone = outcome.index() == 1 || st.client_gone;
  if (gone) {
    if (!st.response_started) {
      rec.status = 499;  // nginx's "client closed request"
    }
    rec.error = "client_closed";
  }
  account(w, *snapshot, a, *model, rec, ctx, start);
  co_return gone ? false : std::get<0>(outcome);
}

}  // namespace switchyard
