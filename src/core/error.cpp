#include "switchyard/core/error.hpp"

#include <boost/json.hpp>

#include <array>
#include <stdexcept>

namespace switchyard {

namespace {

using boost::beast::http::status;

// Indexed by errc. The statuses follow OpenAI where it defines one, RFC 9110 otherwise.
constexpr auto down = error_source::downstream;
constexpr auto up = error_source::upstream;
constexpr auto self = error_source::internal;
constexpr std::array<error_info, 22> table{{
    // status, OpenAI type, OpenAI code, taxonomy, source, close, retry may help
    {status::bad_request, "invalid_request_error", "", "invalid_request", down, false, false},
    {status::not_found, "invalid_request_error", "model_not_found", "invalid_request", down, false,
     false},
    {status::not_found, "invalid_request_error", "unknown_url", "invalid_request", down, false,
     false},
    {status::method_not_allowed, "invalid_request_error", "method_not_allowed", "invalid_request",
     down, false, false},
    {status::payload_too_large, "invalid_request_error", "request_too_large", "invalid_request",
     down, true, false},
    {status::request_header_fields_too_large, "invalid_request_error", "headers_too_large",
     "invalid_request", down, true, false},
    {status::bad_request, "invalid_request_error", "bad_framing", "invalid_request", down, true,
     false},
    {status::too_many_requests, "requests", "rate_limit_exceeded", "rate_limit", down, false, true},
    {status::too_many_requests, "tokens", "request_too_large_for_limit", "rate_limit", down, false,
     false},
    {status::bad_gateway, "upstream_error", "upstream_connect_failed", "upstream_error", up, false,
     true},
    {status::gateway_timeout, "timeout", "upstream_timeout", "timeout", up, false, true},
    {status::bad_gateway, "upstream_error", "upstream_broken", "upstream_error", up, false, true},
    // The gateway's own per-worker connection limit, not the upstream's health.
    {status::service_unavailable, "upstream_unavailable", "upstream_busy", "upstream_unavailable",
     self, false, true},
    {status::service_unavailable, "upstream_unavailable", "upstream_unavailable",
     "upstream_unavailable", up, false, true},
    // Retryable: another replica serves the retry (the final SSE event of a drained stream).
    {status::service_unavailable, "server_shutdown", "server_shutdown", "upstream_unavailable",
     self, true, true},
    {status::internal_server_error, "server_error", "internal_error", "internal", self, true,
     false},
    {status::unauthorized, "invalid_request_error", "invalid_api_key", "auth_error", down, false,
     false},
    {status::conflict, "invalid_request_error", "conflict", "invalid_request", down, false, false},
    {status::service_unavailable, "server_error", "server_overloaded", "upstream_unavailable", self,
     true, true},
    {status::too_many_requests, "invalid_request_error", "feedback_limit_exceeded", "rate_limit",
     down, false, false},
    // The upstream's own status and body are relayed; this row only names the kind.
    {status::bad_gateway, "upstream_error", "upstream_error_status", "upstream_error", up, false,
     true},
    // The shared store (Redis) did not answer in time: another try (or replica) may succeed.
    {status::service_unavailable, "server_error", "store_unavailable", "upstream_unavailable", self,
     false, true},
}};

static_assert(table.size() == static_cast<std::size_t>(errc::unavailable) + 1,
              "every errc needs a row");

boost::json::object error_object(const error& e) {
  const error_info& info = describe(e.code);
  boost::json::object inner;
  inner["message"] = e.message;
  inner["type"] = info.type;
  inner["param"] = e.param.empty() ? boost::json::value(nullptr) : boost::json::value(e.param);
  inner["code"] = info.code.empty() ? boost::json::value(nullptr) : boost::json::value(info.code);
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return outer;
}

}  // namespace

const error_info& describe(errc code) noexcept {
  return table[static_cast<std::size_t>(code)];
}

std::string_view error_label(const error& e) noexcept {
  if (e.code != errc::upstream_status) {
    return describe(e.code).error_type;
  }
  switch (e.status) {
    case 429:
      return "rate_limit";
    case 401:
    case 403:
      return "auth_error";
    case 408:
    case 504:
      return "timeout";
    default:
      return e.status >= 400 && e.status < 500 ? "invalid_request" : "upstream_error";
  }
}

std::string_view source_label(error_source s) noexcept {
  switch (s) {
    case error_source::downstream:
      return "downstream";
    case error_source::upstream:
      return "upstream";
    case error_source::internal:
      break;
  }
  return "internal";
}

std::string error_body(const error& e) {
  return boost::json::serialize(error_object(e));
}

std::string error_event(const error& e) {
  return "data: " + error_body(e) + "\n\n";
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::logic_error("result holds an error: " + e.message);
}

}  // namespace switchyard
