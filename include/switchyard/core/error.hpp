#pragma once

#include <boost/beast/http/status.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// What went wrong, independent of where it is reported. Every failure in the gateway is one of
/// these; `describe()` is the single place that turns it into a status, an OpenAI error type and
/// a metric label.
enum class errc {
  invalid_request,     // malformed JSON, missing or ill-typed field
  model_not_found,     // requested model is not in the models table
  not_found,           // unknown path
  method_not_allowed,  // known path, wrong method
  body_too_large,      // request body over limits.max_body_bytes
  headers_too_large,   // request header block over limits.max_header_bytes
  bad_framing,         // HTTP framing the gateway refuses (smuggling, bad chunking, bad syntax)
  rate_limited,        // a configured rate limit refused the request
  over_token_limit,    // the request alone needs more tokens than a per-minute limit allows
  upstream_connect,    // could not resolve, connect or handshake with the upstream
  upstream_timeout,    // no first byte within timeouts.first_byte
  upstream_broken,     // upstream failed after the response started (reset, bad framing, idle)
  upstream_busy,       // connection pool exhausted until the connect deadline
  upstream_ejected,    // every target's circuit breaker is open
  shutting_down,       // the gateway is draining
  internal,            // a bug
  unauthorized,        // an admin route without the right token
  conflict,            // the request contradicts the current state (e.g. a bad reload)
  overloaded,          // a process-wide bound (limits.max_buffered_bytes) is reached
  too_many_events,     // a feedback id has used up feedback.max_events_per_id
  upstream_status,     // the upstream answered with an error status, relayed as it sent it
  unavailable,         // a shared store (Redis) is unreachable or missed its deadline
};

/// Which side caused the failure (Pingora's error source): the client (downstream), the
/// upstream, or the gateway itself. Read by the access log (`error_source`) and by the circuit
/// breaker (only upstream faults count against an upstream).
enum class error_source { downstream, upstream, internal };

/// Whether the failed upstream attempt may be repeated (Pingora's `RetryType`): `no`; `yes`
/// (nothing reached the client, and the request is safe to send again); `reused_connection_only`
/// (the failure proves only that a pooled keep-alive connection was already dead: safe to resend
/// at once on a fresh connection, without counting an attempt, only when the failed connection
/// was a reused one; otherwise it is an ordinary failure before the response, `yes`).
enum class retry_mode { no, yes, reused_connection_only };

/// A failure as a value: the kind, where it came from, whether an attempt may be repeated, and a
/// message meant for the client (never secrets).
struct error {
  errc code = errc::internal;
  std::string message{};
  std::string param{};  // the offending request field, "" if none
  error_source source = error_source::internal;
  retry_mode retry = retry_mode::no;
  /// `upstream_status`: the status the upstream answered with.
  unsigned status = 0;
  /// The wait the client is told (`retry-after`, `retry-after-ms`), when the gateway knows one.
  std::optional<std::chrono::milliseconds> retry_after{};
};

/// How an `errc` is reported. Static data: one table, one place.
struct error_info {
  boost::beast::http::status status;
  std::string_view type;        // OpenAI `error.type` (what SDKs and clients expect)
  std::string_view code;        // OpenAI `error.code`, "" = null
  std::string_view error_type;  // the gateway's taxonomy, a bounded metric/log label: rate_limit,
                                // timeout, invalid_request, auth_error, upstream_error,
                                // upstream_unavailable, internal
  error_source source;
  bool close_connection;  // the connection cannot be trusted afterwards
  bool retry_may_help;    // false → `x-should-retry: false` on the response
};

/// The reporting data for `code`.
const error_info& describe(errc code) noexcept;

/// The bounded taxonomy label of `e` for the access log and `error_type` metric label: the
/// table's, except for an upstream's error answer, labelled by its status (429 → rate_limit,
/// 401/403 → auth_error, 408/504 → timeout, other 4xx → invalid_request, else upstream_error).
std::string_view error_label(const error& e) noexcept;

/// "downstream", "upstream" or "internal".
std::string_view source_label(error_source s) noexcept;

/// `{"error":{"message":...,"type":...,"param":...,"code":...}}` for `e`.
std::string error_body(const error& e);

/// An SSE event carrying `e`, ready to write: `data: {"error":{...}}\n\n`.
std::string error_event(const error& e);

/// Fallible pure functions return this; `error` is a value, not an exception.
template <class T>
using result = boost::system::result<T, error>;

/// Required by boost::system::result to report `.value()` on an error (a bug by then).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// Shorthand for building an error value; its source is the table's, its retry mode `no`.
inline error make_error(errc code, std::string message, std::string param = {}) {
  return error{.code = code,
               .message = std::move(message),
               .param = std::move(param),
               .source = describe(code).source};
}

/// `e` with retry mode `mode`.
inline error retryable(error e, retry_mode mode = retry_mode::yes) {
  e.retry = mode;
  return e;
}

/// An upstream's error answer with status `status` (its body is relayed; `message` is for logs).
/// Its retry mode is the retry table's (see `status_retry_mode` in upstream/retry_policy).
inline error upstream_answer(unsigned status, retry_mode mode) {
  error e = make_error(errc::upstream_status, "upstream answered " + std::to_string(status));
  e.status = status;
  e.retry = mode;
  return e;
}

}  // namespace switchyard
