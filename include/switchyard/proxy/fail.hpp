#pragma once

#include "switchyard/core/api_kind.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/proxy/request_context.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

/// The one exit of a refused proxied request (Envoy's `onUpstreamAbort`, Pingora's
/// `fail_to_proxy`): every refusal — a body that does not parse, an unknown model, a failed
/// rewrite, a rate limit, ejected upstreams, the shutdown, an upstream failure — becomes its
/// response here. Pure.
///
/// Sets the status, the body in the client's API's shape (`endpoint_api(ctx.ep)`: the Messages
/// paths get Anthropic's `{"type":"error","error":{"type","message"},"request_id"}`, every other
/// path OpenAI's `{"error":{…}}`) and the headers: `x-request-id`, `server`; the
/// experiment tags once assigned; the rate-limit headers once admitted; once forwarded the
/// attempt headers (`x-switchyard-attempts`, `x-switchyard-fallback`); `retry-after` and
/// `retry-after-ms` from `e.retry_after` (removed when retrying cannot help, e.g. a request too
/// large for a token limit); `x-should-retry: false` when retrying cannot help or the gateway
/// already spent its retries (`retry.client_may_retry: false`). Fills the access record's
/// status, `error` label and `error_source`; the `error_type` metric label is read from it.
/// The connection is kept only if the client asked, the gateway is not draining and the error
/// leaves it trustworthy.
string_response fail(request_context& ctx, const error& e);

/// The same exit for an upstream's error answer (`e.code == upstream_status`), relayed with its
/// own status, headers and body; the gateway adds its headers and fills the record.
string_response fail(request_context& ctx, const error& e, string_response relayed);

/// The in-band error event that ends a stream which failed after it started, in the client's
/// API: chat and completions `data: {"error":{…}}` (`error_event`); messages Anthropic's
/// `event: error` (`anthropic_error_event`); responses (for now) the OpenAI one.
std::string stream_error_event(api_kind client, const error& e);

/// The gateway's own error response for `e` in the shape of `client`'s API (see `fail`), with
/// `x-should-retry: false` when retrying cannot help. For refusals made before the proxy
/// (framing, body size, routes).
string_response api_error_response(api_kind client, const error& e, unsigned version,
                                   bool keep_alive, std::string_view request_id);

/// Records `e` as the request's error (label and source) without answering: a failure after the
/// response has started, which the client learns of in-band.
void note_error(access_record& rec, const error& e) noexcept;

/// The headers the gateway adds to every response of a forwarded request: `x-request-id`,
/// `server`, `x-switchyard-attempts`, `x-switchyard-fallback`, the rate-limit headers, the
/// experiment tags.
void add_attempt_headers(const request_context& ctx, http::fields& f);
/// The same into a header block being assembled (views into `ctx`, which must outlive `f`).
void add_attempt_headers(const request_context& ctx, header_list& f);

}  // namespace switchyard
