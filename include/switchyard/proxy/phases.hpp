#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/proxy/request_context.hpp"
#include "switchyard/ratelimit/limiter.hpp"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

/// The pure phases of a proxied request, in order: parse → assign → route → rewrite → admit,
/// then (with sockets, in lifecycle.cpp) forward → relay, then account. Each is a plain function
/// of the request context and explicit values (parser, clock readings, random draws, limiter);
/// none does I/O. A phase that refuses the request returns the error; `fail` turns it into the
/// response.
namespace switchyard::phase {

/// Pads the body for simdjson and parses it once (validating it strictly) into `ctx.fields`;
/// notes the model and streaming in the record. Errors: 400 invalid_request naming the field.
result<void> parse(request_context& ctx, simdjson::ondemand::parser& json);

/// The explicit inputs of `assign`: the random draw for `unit: request`, the feedback id's
/// nonce and time, and its signing key.
struct assign_inputs {
  double random01 = 0;
  std::uint64_t nonce = 0;
  std::int64_t unix_seconds = 0;
  std::string_view feedback_key;
};

/// Matches the request against the snapshot's experiments and assigns a variant; tags the
/// record and `ctx.tags` (x-switchyard-experiment, -variant, -prompt-version, -feedback-id; the
/// signed feedback id becomes the request id when the client sent none). Never refuses.
void assign(request_context& ctx, const assign_inputs& in);

/// Finds the model entry (the variant's, else the requested name's) in the snapshot, and
/// whether every target accepts stream usage injection (`upstreams` indexed as the models'
/// `upstream_index`). Errors: 404 model_not_found.
result<void> route(request_context& ctx, std::span<const upstream_config> upstreams);

/// Applies the variant (model, params, prompt version) and, when `ctx.inject_usage`, turns on
/// stream usage (then `ctx.strip_usage`); re-parses the body. Errors: a prompt version that
/// cannot render for this request (400), a rewrite that does not parse (500).
result<void> rewrite(request_context& ctx, simdjson::ondemand::parser& json);

/// Rate limits, all or nothing across every configured scope, tokens reserved up front
/// (`ctx.admitted`, to be finished by the caller). Names the primary upstream in the record
/// (`primary_upstream`). Errors: 429 rate_limited (retryable) or over_token_limit (never fits).
result<void> admit(request_context& ctx, rate_limiter& limiter, std::string_view user_header,
                   std::string_view primary_upstream, std::int64_t now_ns);

/// The request's rate-limit identity: API key, user (the `user_header`), model, variant, the
/// token estimate `admit` made, and batch priority (`x-switchyard-priority: batch`).
rate_request rate_key(const request_context& ctx, std::string_view user_header);

/// After the shared limits decided (`ctx.shared_admitted`, shared_limiter.hpp): their
/// x-ratelimit headers merged with the local ones (the tightest of each kind); on a refusal the
/// local admission is undone and the error is the same as `admit`'s.
result<void> settle_shared(request_context& ctx, rate_limiter& limiter, shared_limiter& shared,
                           std::int64_t now_ns);

/// Tokens and cost of the finished request into the record (estimated when the upstream gave
/// no usage: about 4 bytes per token, one stream event per token), and the record's timings.
/// Returns the experiment outcome to record when the exposure was randomised and the client
/// did not leave first.
std::optional<experiment_outcome> account(request_context& ctx, steady_clock::time_point now,
                                          std::int64_t unix_seconds);

}  // namespace switchyard::phase
