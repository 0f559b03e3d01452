#pragma once

#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/responses.hpp"
#include "switchyard/runtime/worker.hpp"
#include "switchyard/upstream/breaker.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <optional>
#include <string>

namespace switchyard {

/// Shared by one proxied request's attempts and the watcher of its client; both run on the
/// worker's thread.
struct exchange_state {
  upstream_connection* upstream = nullptr;  // the connection in use, for prompt cancellation
  bool response_started = false;            // response header written to the client
  bool client_gone = false;
  bool shutdown = false;  // the drain deadline passed: end with the retryable shutdown error
};

/// The request-wide facts every attempt needs.
struct attempt_context {
  worker& w;
  beast::tcp_stream& client;
  const http::request<http::string_body>& req;  // the client's request
  access_record& rec;
  exchange_state& st;
  const retry_config& retry;
  steady_clock::time_point start;
  steady_clock::time_point deadline;  // all attempts together
  std::uint32_t attempts = 0;         // made so far, the running one included
  std::string fallback;               // "upstream/model" while a fallback target is in use
  http::fields extra;                 // added to the client response (rate-limit headers)
  /// The running target's breaker: a committed response counts as a success at once (a long
  /// stream must not keep a half-open probe open), recorded at most once per attempt.
  circuit_breaker* breaker = nullptr;
  bool breaker_recorded = false;
  /// The gateway turned on stream usage the client did not ask for: strip it from the relay.
  bool strip_usage = false;
  /// Stream timing of the committed attempt: first content event and event-gap observations.
  steady_clock::time_point first_token{};
  steady_clock::time_point last_token{};
  std::uint64_t token_events = 0;
  /// Called with each gap between content events (seconds), for the inter-token histogram.
  void (*on_gap)(void* arg, double seconds) = nullptr;
  void* on_gap_arg = nullptr;
  /// Time spent waiting on upstreams (attempts) and between retries, for the gateway overhead.
  std::chrono::nanoseconds upstream_time{0};
  /// trace.include_text: a copy of the response body sent to the client, up to 1 MiB.
  std::string* capture = nullptr;
};

/// How one upstream attempt ended.
struct attempt_outcome {
  bool committed = false;    // a response went (or started going) to the client: done
  bool keep_client = false;  // when committed
  failure_kind failure = failure_kind::status;
  bool upstream_fault = false;  // counts against the upstream's circuit breaker
  std::optional<error> err;     // the gateway's own error when there is no upstream answer
  std::optional<string_response> answer;  // the upstream's error answer, relayed if we stop
  std::optional<std::chrono::milliseconds> retry_floor;  // from retry-after(-ms)
  std::optional<token_usage> usage;
};

/// One try against one upstream: borrow a connection, send, wait for the first byte within
/// `timeouts.first_byte`, classify the answer. A retriable failure sends nothing to the client;
/// a stream is held back until its first content event (within `retry.stream_hold_*`) so that
/// an upstream failing before any content can still be retried; from then on the response is
/// relayed and a later failure becomes the final SSE error event.
net::awaitable<attempt_outcome> run_attempt(attempt_context& ctx, upstream_pool& pool,
                                            http::request<http::string_body>& upstream_req);

/// Sends a response the gateway holds (the last upstream answer, or an error) with the attempt
/// headers; returns whether the client connection may stay open.
net::awaitable<bool> send_final(attempt_context& ctx, string_response res);

}  // namespace switchyard
