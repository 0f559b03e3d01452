#pragma once

#include "switchyard/core/clock.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/ratelimit/limiter.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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
};

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
  http::request<http::string_body>& req;  // the client's request; the body is rewritten in place
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
  http::fields tags{};  // experiment, variant, prompt version and feedback id headers
  // route
  const model_config* model = nullptr;
  bool inject_usage = false;  // every target accepts stream_options.include_usage
  // rewrite
  bool strip_usage = false;  // the gateway asked for stream usage: cut it from the relay
  // admit
  std::uint64_t estimated_tokens = 0;
  admission admitted{};
  http::fields limit_headers{};  // x-ratelimit-* (and retry-after on refusal)
  // forward and relay
  bool forwarded = false;      // attempts began: responses carry the attempt headers
  std::uint32_t attempts = 0;  // made so far, the running one included
  std::string fallback{};      // "upstream/model" while a fallback target is in use
  exchange_state st{};
  request_timing timing{};

  /// Whether the client connection may stay open after this response, as of now.
  bool keep_alive() const noexcept {
    return req.keep_alive() && !(draining && draining->load(std::memory_order_relaxed));
  }
};

}  // namespace switchyard
