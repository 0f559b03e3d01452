#pragma once

#include "switchyard/core/arena.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/core/header_block.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/ratelimit/limiter.hpp"
#include "switchyard/ratelimit/shared_limiter.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace switchyard {

class upstream_connection;

/// Shared by one proxied request's attempts and the watcher of its client; both run on the
/// worker's thread.
struct exchange_state {
  upstream_connection* upstream = nullptr;  // the connection in use, for prompt cancellation
  bool response_started = false;            // response header written to the client
  bool client_gone = false;
  bool shutdown = false;  // the drain deadline passed: end with the retryable shutdown error
  net::steady_timer* pause = nullptr;  // the wait before a retry, ended early if the client goes
};

struct client_watch_state;
struct exchange_buffers;
struct response_translation;

/// When things happened, for the access log, the metrics and the retry deadline.
struct request_timing {
  steady_clock::time_point start{};
  steady_clock::time_point deadline = steady_clock::time_point::max();  // all attempts together
  steady_clock::time_point first_token{};  // first content event of the committed attempt
  steady_clock::time_point last_token{};
  std::uint64_t token_events = 0;  // content events relayed
  /// Time spent waiting on upstreams (attempts) and between retries, for the gateway overhead.
  std::chrono::nanoseconds upstream_time{0};
};

/// Everything one proxied request accumulates on its way through the phases
/// (parse → assign → route → rewrite → admit → forward → relay → account), and nothing that
/// needs a socket: the pure phases take it (plus explicit values) and are testable on their own.
/// Built with designated initialisers from the session's request and access record.
struct request_context {
  client_request& req;  // the client's request; the body is rewritten in place
  endpoint ep = endpoint::chat_completions;
  access_record& rec;
  /// This request's config and experiment plan, from start to end (a reload does not change it).
  std::shared_ptr<const plan> snapshot{};
  /// The process is draining (null = never): its responses then close the connection.
  const std::atomic<bool>* draining = nullptr;

  // parse
  request_fields fields{};
  // assign
  assignment assigned{};
  header_block tags{};  // experiment, variant, prompt version and feedback id headers
  // route
  const model_config* model = nullptr;
  bool inject_usage = false;  // every target accepts stream_options.include_usage
  // rewrite
  bool strip_usage = false;  // the gateway asked for stream usage: cut it from the relay
  // admit
  std::uint64_t estimated_tokens = 0;
  admission admitted{};
  shared_admission shared_admitted{};  // the leased/exact limits (shared_limiter.hpp)
  header_block limit_headers{};        // x-ratelimit-* (and retry-after on refusal)
  // forward and relay
  bool forwarded = false;      // attempts began: responses carry the attempt headers
  std::uint32_t attempts = 0;  // made so far, the running one included
  std::string fallback{};      // "upstream/model" while a fallback target is in use
  exchange_state st{};
  request_timing timing{};
  /// The connection's reusable buffers (set by the lifecycle; the pure phases do not use them).
  exchange_buffers* buffers = nullptr;

  /// Whether the client connection may stay open after this response, as of now.
  bool keep_alive() const noexcept {
    return req.keep_alive() && !(draining && draining->load(std::memory_order_relaxed));
  }
};

/// What a client connection keeps from one proxied request to the next, so that the next one
/// allocates nothing once the first has sized it: the storage of the header blocks the gateway
/// writes and the watch of the client. Owned by the session; one request uses it at a time.
struct exchange_buffers {
  header_list fields;           // the header block being assembled (views)
  std::string upstream_target;  // the upstream request's path and query
  std::string upstream_head;    // the upstream request's header block, rendered
  std::string client_head;      // the client response's header block, rendered
  std::string spliced_body;     // the body of a target that gets another model name
  std::string translated_body;  // the body of a target that speaks another API
  /// How the answer of the target being tried is translated (proxy/translation.hpp); created
  /// with the connection's first translated request, reused after.
  std::shared_ptr<response_translation> translation;
  header_block tags;  // lent to the request_context (swapped in and out)
  header_block limit_headers;
  std::shared_ptr<client_watch_state> watch;  // created with the first proxied request
  /// The request being proxied: here rather than in the lifecycle's coroutine frame, which
  /// Asio recycles only up to 2040 bytes (a larger frame is a malloc per request).
  std::optional<request_context> ctx;
};

}  // namespace switchyard
