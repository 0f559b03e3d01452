#include "switchyard/proxy/phases.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/core/eval_secret.hpp"
#include "switchyard/core/json_text.hpp"
#include "switchyard/core/text.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/proxy/rewrite.hpp"
#include "switchyard/ratelimit/redis_lease.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <forward_list>

namespace switchyard::phase {

namespace {

// Per-thread scratch buffers larger than this are released after use rather than kept.
constexpr std::size_t max_kept_scratch = 256 * 1024;

// Room left in the body's buffer for a rewrite (a system prompt, a model name, parameters).
constexpr std::size_t rewrite_headroom = 1024;

std::string_view bearer(const client_request& req) {
  return bearer_token(req[http::field::authorization]);
}

bool messages_api(endpoint ep) {
  return endpoint_api(ep) == api_kind::messages;
}

// The client's key, for `api_key` rate-limit scopes and assignment units: its bearer token; on
// the Messages paths also `x-api-key`, which Anthropic clients send (Claude Code's
// ANTHROPIC_API_KEY; ANTHROPIC_AUTH_TOKEN is sent as a bearer token).
std::string_view client_key(const client_request& req, endpoint ep) {
  auto key = bearer(req);
  if (key.empty() && messages_api(ep)) {
    key = trim(req["x-api-key"]);
  }
  return key;
}

// A prompt version rendered into the edit: a system message (chat) or the wrapped prompt.
// Allocation-free in steady state: the metadata is parsed into a stack buffer, the lookup is a
// plain lambda (no std::function), and the text is rendered into this thread's scratch string.
result<void> render_prompt(const prompt_plan& pp, endpoint ep, const std::string& body,
                           const request_fields& f, body_edit& edit) {
  if (ep == endpoint::completions && !f.prompt_is_string) {
    return make_error(errc::invalid_request,
                      "prompt version " + pp.ref +
                          " wraps a string prompt; this request's prompt "
                          "is an array",
                      "prompt");
  }
  // Metadata is small (OpenAI allows 16 keys of up to 512-character values): a 4 KiB buffer
  // on the stack holds the usual one; a larger one spills to the heap.
  alignas(std::max_align_t) unsigned char arena[4096];
  boost::json::monotonic_resource mr(arena, sizeof arena);
  boost::json::object meta(&mr);
  if (const auto* m = f.find("metadata"); m && !pp.tmpl.variables().empty()) {
    std::size_t i = static_cast<std::size_t>(m - f.members.data());
    boost::system::error_code ec;
    auto v = boost::json::parse(
        std::string_view(body).substr(m->value_begin, f.member_end(body, i) - m->value_begin), ec,
        &mr);
    if (!ec && v.is_object()) {
      meta = std::move(v.as_object());
    }
  }
  // Numbers and booleans given as metadata, as text; a list so that earlier views stay valid,
  // and nothing allocated unless one is used.
  std::forward_list<std::string> scratch;
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
    scratch.push_front(boost::json::serialize(it->value()));
    return std::string_view(scratch.front());
  };
  // Safe as a thread_local: the phases run on a worker thread and this function does not
  // suspend, so no other request uses it before it is consumed below.
  thread_local std::string text;
  text.clear();
  if (auto r = pp.tmpl.render_to(text, lookup, pp.cfg->defaults, pp.ref); !r) {
    return r.error();
  }
  if (ep == endpoint::completions) {
    const auto& vars = pp.tmpl.variables();
    if (std::find(vars.begin(), vars.end(), "input") == vars.end()) {
      text += "\n\n";  // no {{input}}: the client's prompt follows the template
      text += f.prompt;
    }
    append_json_escaped(edit.prompt, text);
  } else if (ep == endpoint::responses) {
    // The Responses API's system prompt is `instructions`: the prompt version replaces it, or
    // (replace_system: false) goes before the client's, as chat's system message goes first.
    std::string value = "\"";
    append_json_escaped(value, text);
    if (const auto* ins = f.find("instructions"); ins && !pp.cfg->replace_system) {
      const std::size_t i = static_cast<std::size_t>(ins - f.members.data());
      const std::string_view raw =
          std::string_view(body).substr(ins->value_begin, f.member_end(body, i) - ins->value_begin);
      if (raw.size() > 2 && raw.front() == '"' && raw.back() == '"') {
        value += "\\n\\n";
        value.append(raw.substr(1, raw.size() - 2));  // still escaped: spliced as it is
      }
    }
    value += '"';
    edit.set.emplace_back("instructions", std::move(value));
  } else {
    append_json_escaped(edit.system_message, text);
    edit.replace_system = pp.cfg->replace_system;
    edit.messages_system = messages_api(ep);  // Anthropic: the top-level `system`
  }
  return {};
}

}  // namespace

result<void> parse(request_context& ctx, simdjson::ondemand::parser& json) {
  std::string& body = ctx.req.body();
  // The session's body buffer has the body's exact size, so padding it reallocates once; with
  // experiments, room for the usual rewrite too, so that the rewritten body is copied back into
  // it (rewrite) instead of allocating again.
  pad_for_simdjson(body, ctx.snapshot->experiments.empty() ? 0 : rewrite_headroom);
  auto fields = parse_request_body(ctx.ep, json, body);
  if (!fields) {
    return fields.error();
  }
  ctx.fields = std::move(*fields);
  ctx.rec.model = ctx.fields.model;
  ctx.rec.stream = ctx.fields.stream;
  return {};
}

void assign(request_context& ctx, const assign_inputs& in) {
  const auto& req = ctx.req;
  const auto& f = ctx.fields;
  access_record& rec = ctx.rec;
  if (!ctx.snapshot->experiments.empty()) {
    request_view view;
    view.model = f.model;
    // count_tokens is part of the Messages API: an experiment on Messages covers it too, so
    // that the count is the count of what the variant would send.
    view.endpoint = endpoint_label(ctx.ep == endpoint::count_tokens ? endpoint::messages : ctx.ep);
    view.header = [&req](std::string_view name) { return std::string_view(req[name]); };
    if (const auto* user = f.find("user")) {
      // The raw JSON string without its quotes; assignment decodes escapes (decode_body_user).
      const std::string& body = req.body();
      std::size_t i = static_cast<std::size_t>(user - f.members.data());
      std::string_view raw = std::string_view(body).substr(
          user->value_begin, f.member_end(body, i) - user->value_begin);
      if (raw.size() >= 2 && raw.front() == '"') {
        view.body_user = raw.substr(1, raw.size() - 2);
      }
    }
    if (messages_api(ctx.ep)) {
      view.body_user = f.metadata_user;  // Anthropic's `metadata.user_id`
    }
    view.api_key = client_key(req, ctx.ep);
    view.override_header = req["x-switchyard-variant"];
    view.eval = is_eval_request(req[eval_header]);
    view.random01 = in.random01;
    ctx.assigned = switchyard::assign(*ctx.snapshot, view);
    if (view.eval) {
      // Evaluation traffic (judge and embedding calls included) never enters live statistics.
      ctx.assigned.counted = false;
      ctx.assigned.reason = "eval";
    }
  }
  if (ctx.ep == endpoint::count_tokens && ctx.assigned.counted) {
    // The variant applies (the count must match what it would send), but a token count is not
    // an exposure: no outcome, no feedback id.
    ctx.assigned.counted = false;
    ctx.assigned.reason = "count_tokens";
  }
  const assignment& a = ctx.assigned;
  rec.assignment = a.reason;
  if (!a.experiment) {
    return;
  }
  rec.experiment = a.experiment->cfg->name;
  rec.variant = a.variant->name;
  rec.prompt_version = a.variant->prompt ? a.variant->prompt->ref : "";
  ctx.tags.set("x-switchyard-experiment", rec.experiment);
  ctx.tags.set("x-switchyard-variant", rec.variant);
  if (!rec.prompt_version.empty()) {
    ctx.tags.set("x-switchyard-prompt-version", rec.prompt_version);
  }
  if (ctx.ep == endpoint::count_tokens) {
    return;
  }
  // A signed id carries the assignment, so feedback works on any replica and after restarts.
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(in.nonce));
  const feedback_claims_view claims{rec.experiment,  rec.variant, rec.prompt_version,
                                    in.unix_seconds, {nonce, 16}, a.unit_fingerprint};
  // Signed into this thread's scratch (capacity kept): assign runs on a worker thread and does
  // not suspend, so the scratch is free again when it returns.
  thread_local std::string id;
  sign_feedback_id(claims, in.feedback_key, id);
  ctx.tags.set("x-switchyard-feedback-id", id);
  if (req.count("x-request-id") == 0) {
    rec.request_id.assign(id);  // the client has no id of its own: ours is the signed one
  }
}

result<void> route(request_context& ctx, std::span<const upstream_config> upstreams) {
  const auto* v = ctx.assigned.variant;
  const model_config* model = v ? v->model : ctx.snapshot->cfg->find_model(ctx.fields.model);
  if (!model) {
    return make_error(
        errc::model_not_found,
        "The model `" + ctx.fields.model + "` does not exist or you do not have access to it.",
        "model");
  }
  ctx.model = model;
  ctx.rec.model_known = true;
  if (model->name != ctx.fields.model) {
    ctx.rec.routed_model = model->name;
  }
  if (messages_api(ctx.ep)) {
    // Passed through as sent: every target must speak the Messages API (no translation from
    // Messages to another API exists), and Messages streams always carry usage (no injection).
    auto refuse = [&](const upstream_config& up) -> result<void> {
      return make_error(errc::invalid_request,
                        "The model `" + ctx.fields.model + "` is served by upstream `" + up.name +
                            "`, which does not serve the Anthropic Messages API (apis: " +
                            "messages); use /v1/chat/completions for it.",
                        "model");
    };
    if (!serves(upstreams[model->upstream_index].apis, api_kind::messages)) {
      return refuse(upstreams[model->upstream_index]);
    }
    for (const auto& fb : model->fallbacks) {
      if (!serves(upstreams[fb.upstream_index].apis, api_kind::messages)) {
        return refuse(upstreams[fb.upstream_index]);
      }
    }
    ctx.inject_usage = false;
    return {};
  }
  // One body serves every target, so usage is injected only when all of them accept it.
  bool inject = upstreams[model->upstream_index].inject_stream_usage;
  for (const auto& f : model->fallbacks) {
    inject = inject && upstreams[f.upstream_index].inject_stream_usage;
  }
  // Only chat and completions streams take stream_options.include_usage (the Responses API
  // reports usage in its terminal event; Messages in message_start/message_delta).
  ctx.inject_usage =
      inject && (ctx.ep == endpoint::chat_completions || ctx.ep == endpoint::completions);
  return {};
}

result<void> rewrite(request_context& ctx, simdjson::ondemand::parser& json) {
  std::string& body = ctx.req.body();
  request_fields& f = ctx.fields;
  // This thread's edit and output buffer, reused with their capacity: rewrite runs on a worker
  // thread and does not suspend, so no other request touches them while this one does.
  thread_local body_edit edit;
  thread_local std::string rewritten;
  edit.clear();
  if (const variant_plan* v = ctx.assigned.variant) {
    if (v->model->name != f.model) {
      std::string quoted = "\"";
      append_json_escaped(quoted, v->model->name);
      quoted += '"';
      edit.set.emplace_back("model", std::move(quoted));
    }
    thread_local std::string dropped;  // variant params the Messages API has no member for
    dropped.clear();
    for (const auto& [k, val] : v->params) {
      if (messages_api(ctx.ep)) {
        if (auto mapped = messages_param(ctx.ep, k, val)) {
          edit.set.push_back(std::move(*mapped));
        } else {
          dropped += dropped.empty() ? "" : ",";
          dropped += k;
        }
        continue;
      }
      // The Responses API names the output bound max_output_tokens; other params go as given.
      const bool output_bound =
          ctx.ep == endpoint::responses && (k == "max_tokens" || k == "max_completion_tokens");
      edit.set.emplace_back(
          output_bound ? std::string_view("max_output_tokens") : std::string_view(k), val);
    }
    if (!dropped.empty()) {
      // Said in the response, not refused: one variant's params serve every API it is used on.
      ctx.tags.set("x-switchyard-dropped-params", dropped);
    }
    if (v->prompt && ctx.ep != endpoint::embeddings) {
      if (auto r = render_prompt(*v->prompt, ctx.ep, body, f, edit); !r) {
        return r.error();
      }
    }
  }
  if (auto so = ctx.inject_usage ? usage_stream_options(body, f) : std::nullopt) {
    edit.set.emplace_back("stream_options", std::move(*so));
    ctx.strip_usage = true;
  }
  if (edit.empty()) {
    return {};
  }
  // Into the scratch (capacity kept, padded for simdjson), then back into the body.
  apply_edit_to(rewritten, body, f, edit, simdjson::SIMDJSON_PADDING);
  if (body.capacity() >= rewritten.size() + simdjson::SIMDJSON_PADDING) {
    body.assign(rewritten);  // fits (parse left room): a copy, no allocation
  } else {
    body.swap(rewritten);  // the client's buffer becomes the scratch
    if (rewritten.capacity() > max_kept_scratch) {
      std::string().swap(rewritten);  // a rare large body is not kept for the thread's lifetime
    }
  }
  auto again = parse_request_body(ctx.ep, json, body, false);  // built from a validated body
  if (!again) {
    return make_error(errc::internal,
                      "the rewritten request does not parse: " + again.error().message);
  }
  f = std::move(*again);
  return {};
}

rate_request rate_key(const request_context& ctx, std::string_view user_header) {
  const auto& req = ctx.req;
  const access_record& rec = ctx.rec;
  rate_request key{client_key(req, ctx.ep), req[user_header], ctx.model->name,
                   rec.experiment.empty() ? std::string_view{} : rec.variant, ctx.estimated_tokens};
  key.batch = is_batch_priority(req["x-switchyard-priority"]);  // lower priority: no auth needed
  return key;
}

namespace {

error limit_error(std::string_view scope_label, bool retryable, std::uint64_t estimate) {
  const std::string scope(scope_label);
  if (retryable) {
    return make_error(errc::rate_limited, "Rate limit reached for " + scope +
                                              "; retry after the time in the retry-after header.");
  }
  // A request that alone exceeds a token limit can never pass: say so, and not to retry.
  return make_error(errc::over_token_limit,
                    "Request too large for the " + scope + " token limit: it may use up to " +
                        std::to_string(estimate) +
                        " tokens (prompt plus max_tokens × n). Lower max_tokens or "
                        "shorten the prompt.");
}

void keep_tightest(std::optional<rate_header>& best, const std::optional<rate_header>& h) {
  if (h && (!best || h->remaining < best->remaining ||
            (h->remaining == best->remaining && h->reset > best->reset))) {
    best = h;
  }
}

}  // namespace

result<void> admit(request_context& ctx, rate_limiter& limiter, std::string_view user_header,
                   std::string_view primary_upstream, std::int64_t now_ns) {
  ctx.rec.upstream = primary_upstream;
  ctx.estimated_tokens =
      estimate_tokens(ctx.req.body().size(), ctx.fields.max_tokens, ctx.fields.n);
  ctx.admitted = limiter.admit(rate_key(ctx, user_header), now_ns);
  apply_headers(ctx.admitted, ctx.limit_headers);
  if (ctx.admitted.allowed) {
    return {};
  }
  return limit_error(ctx.admitted.refused_scope_label, ctx.admitted.retryable,
                     ctx.estimated_tokens);
}

result<void> settle_shared(request_context& ctx, rate_limiter& limiter, shared_limiter& shared,
                           std::int64_t now_ns) {
  const shared_admission& s = ctx.shared_admitted;
  admission view;  // the headers of both, as one admission (holds nothing)
  view.allowed = s.allowed;
  view.retry_after = s.retry_after;
  view.requests = ctx.admitted.requests;
  view.tokens = ctx.admitted.tokens;
  if (s.allowed) {
    keep_tightest(view.requests, s.requests);
    keep_tightest(view.tokens, s.tokens);
  } else {
    // The refusing bucket's view is the one the client has to wait for.
    if (s.requests) {
      view.requests = s.requests;
    }
    if (s.tokens) {
      view.tokens = s.tokens;
    }
  }
  apply_headers(view, ctx.limit_headers);
  if (s.allowed) {
    return {};
  }
  limiter.cancel(ctx.admitted, now_ns);
  shared.cancel(ctx.shared_admitted, now_ns);
  return limit_error(s.refused_scope_label, s.retryable, ctx.estimated_tokens);
}

std::optional<experiment_outcome> account(request_context& ctx, steady_clock::time_point now,
                                          std::int64_t unix_seconds) {
  access_record& rec = ctx.rec;
  const auto& t = ctx.timing;
  rec.attempts = ctx.attempts;
  if (t.first_token != steady_clock::time_point{}) {
    rec.ttft_ms = elapsed_ms(t.start, t.first_token);
  }
  rec.upstream_ms = std::chrono::duration<double, std::milli>(t.upstream_time).count();
  double in = 0, out = 0;
  if (rec.usage) {
    in = static_cast<double>(rec.usage->prompt_tokens);
    out = static_cast<double>(rec.usage->completion_tokens);
  } else if (rec.status >= 200 && rec.status < 300 && ctx.ep != endpoint::count_tokens) {
    // About 4 bytes per token; a stream sends about one event per token. (A token count uses
    // no tokens: nothing to estimate.)
    rec.usage_estimated = true;
    in = std::ceil(static_cast<double>(rec.bytes_in) / 4);
    out = t.token_events > 0 ? static_cast<double>(t.token_events)
                             : std::ceil(static_cast<double>(rec.bytes_out) / 4);
    rec.usage = token_usage{static_cast<std::int64_t>(in), static_cast<std::int64_t>(out),
                            static_cast<std::int64_t>(in + out)};
  }
  rec.cost_usd = ctx.model ? cost_usd(ctx.model->price, in, out) : 0;
  if (!ctx.assigned.counted || rec.status == 499) {
    return std::nullopt;  // not randomised (override, paused…) or cut short by the client
  }
  experiment_outcome o;
  o.error = rec.status >= 500 || rec.status == 429;
  o.latency_ms = elapsed_ms(t.start, now);
  o.ttft_ms = rec.ttft_ms;
  o.input_tokens = in;
  o.output_tokens = out;
  o.cost_usd = rec.cost_usd;
  o.unix_seconds = unix_seconds;
  return o;
}

}  // namespace switchyard::phase
