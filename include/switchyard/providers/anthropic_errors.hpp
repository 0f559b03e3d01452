#pragma once

// Errors between the Anthropic and OpenAI shapes, pure.
//
// Anthropic → OpenAI (an OpenAI client routed to an Anthropic upstream): the body becomes
// `{"error":{"message","type","param":null,"code"}}` with `code` = Anthropic's error type (so
// nothing is lost) and `type` the OpenAI family SDKs and dashboards expect:
//
//   Anthropic type          status out         OpenAI type              retryable
//   invalid_request_error   as received (4xx)  invalid_request_error    no
//   authentication_error    401                invalid_request_error    no
//   permission_error        403                invalid_request_error    no
//   not_found_error         404                invalid_request_error    no
//   request_too_large       413                invalid_request_error    no
//   billing_error           402                insufficient_quota       no (never retry a quota)
//   rate_limit_error        429                requests                 yes
//   api_error               500                server_error             yes
//   timeout_error           504                timeout                  yes
//   overloaded_error        503 (not 529)      server_error             yes
//   other / non-JSON body   as received        by status                5xx, 408, 429
//
// 529 becomes 503: 529 is Anthropic's own code, which HTTP libraries, proxies and dashboards do
// not know; 503 is the standard "overloaded, try again", and every OpenAI SDK retries it.
//
// OpenAI-side refusals → Anthropic (the Messages ingress): `{"type":"error","error":{"type",
// "message"}}` with the Anthropic type for the status `describe(errc)` gives (4xx →
// invalid_request_error except 401 authentication_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error; 503 → overloaded_error; other
// 5xx → api_error).

#include "switchyard/core/error.hpp"

#include <string>
#include <string_view>

namespace switchyard {

/// How an Anthropic error type reads on the OpenAI side.
struct openai_error_kind {
  unsigned status;        // the status to answer with
  std::string_view type;  // OpenAI `error.type`
  bool retryable;         // a retry (another attempt, or the client's) may succeed
};

/// The row of the table above for `anthropic_type`; `status` is what the upstream answered (0
/// for an error event inside a stream).
openai_error_kind openai_error_for(std::string_view anthropic_type, unsigned status) noexcept;

/// An Anthropic error answer mapped for an OpenAI client.
struct mapped_error {
  unsigned status = 502;
  std::string body;  // OpenAI-shaped
  bool retryable = false;
  std::string anthropic_type;  // "" when the body was not an Anthropic error
};

/// Maps an Anthropic error answer (`status`, `body`) to the OpenAI shape. A body that is not an
/// Anthropic error object keeps the status (502 if it is not an error status) with a message
/// naming only the status (an HTML error page is not relayed). Pure.
mapped_error map_anthropic_error(unsigned status, std::string_view body);

/// `{"error":{"message","type","param":null,"code"}}` for Anthropic error `anthropic_type`.
std::string openai_error_json(std::string_view anthropic_type, std::string_view message,
                              unsigned status);

/// The Anthropic error type for a gateway refusal `e` (by its status).
std::string_view anthropic_error_type(const error& e) noexcept;

/// `{"type":"error","error":{"type":…,"message":…}}` (+ `"request_id"` when given) for `e`.
std::string anthropic_error_body(const error& e, std::string_view request_id = {});

/// The same as a Messages stream event: `event: error\ndata: {...}\n\n`.
std::string anthropic_error_event(const error& e);

}  // namespace switchyard
