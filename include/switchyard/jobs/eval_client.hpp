#pragma once

// The evaluation runner's HTTP client: one keep-alive connection to the gateway, requests with a
// deadline each and a bounded response (docs/evaluations.md). Runs on the runner's own
// io_context, never on a gateway worker.

#include "switchyard/config/config.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/core/net.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchyard {

/// A finished exchange, or why there was none (`error` non-empty).
struct eval_http_answer {
  unsigned status = 0;
  std::string body;
  std::string retry_after_ms;  // the gateway's retry-after-ms header on a 429
  std::string error;           // transport failure: refused, timed out, too large
  double latency_ms = 0;
};

/// One connection to the gateway, opened on first use and again after a failure.
class eval_connection {
 public:
  eval_connection(net::any_io_executor ex, tcp::endpoint gateway, duration timeout,
                  std::size_t max_response_bytes);

  /// POSTs `body` (JSON) to `target` with `headers`. A keep-alive connection that the gateway
  /// closed meanwhile is reopened once for the same request.
  net::awaitable<eval_http_answer> post(std::string target, std::string body,
                                        std::vector<std::pair<std::string, std::string>> headers);

 private:
  net::awaitable<eval_http_answer> attempt(const http::request<http::string_body>& req);

  beast::tcp_stream stream_;
  tcp::endpoint gateway_;
  duration timeout_;
  std::size_t max_response_bytes_;
  beast::flat_buffer buffer_;
  bool open_ = false;
};

}  // namespace switchyard
