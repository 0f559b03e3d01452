#pragma once

// In-process test rig: the real gateway and the mock LLM on 127.0.0.1 port 0, and a small
// blocking HTTP client whose every read has a deadline.

#include "mock_llm.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/http/server.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

using namespace std::chrono_literals;

struct temp_dir;

/// The mock plus a gateway whose config is `yaml` with `{MOCK}` replaced by the mock's port.
/// Without a `data_dir` in `yaml`, the gateway gets a fresh one of its own, removed with the rig:
/// tests run in parallel processes, and none should see (or lock) another's files.
class rig {
 public:
  explicit rig(const std::string& yaml, mock::options mock_opts = {});
  ~rig();

  std::uint16_t port() const { return gateway_->port(); }
  mock::server& upstream() { return *mock_; }
  server& gateway() { return *gateway_; }

 private:
  std::unique_ptr<temp_dir> data_dir_;  // destroyed after the gateway (~rig resets it first)
  std::unique_ptr<mock::server> mock_;
  std::shared_ptr<const config> cfg_;
  std::unique_ptr<server> gateway_;
};

/// A minimal chat request for the `gpt-4o-mini` model of the test configs, and its stream form.
inline constexpr const char* chat_body =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]})";
inline constexpr const char* stream_body =
    R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello"}]})";

/// The default test config: one mock upstream, a few models, access log off.
std::string default_yaml(const std::string& extra_top_level = "");

/// A port on 127.0.0.1 with nothing listening (bound once, then closed).
std::uint16_t closed_port();

/// Waits for `pred` with a deadline, checking at a short interval; false if it never held.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);

struct response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  std::string header(std::string_view name) const;
};

/// One client connection with a receive deadline on every read.
class client {
 public:
  explicit client(std::uint16_t port, std::chrono::milliseconds timeout = 10s);

  /// Sends a request on this connection and reads the whole response.
  response request(http::verb method, std::string target, std::string body = {},
                   std::vector<std::pair<std::string, std::string>> headers = {});

  /// Shorthand for a JSON POST.
  response post(std::string target, std::string body,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    return request(http::verb::post, std::move(target), std::move(body), std::move(headers));
  }

  /// Starts a streaming POST: sends it and reads the response header only.
  response start_stream(std::string target, std::string body,
                        std::vector<std::pair<std::string, std::string>> headers = {});

  /// The next SSE event's data, or nullopt when the body ended (or the connection did).
  std::optional<std::string> next_event();

  /// The stream's body bytes as received so far (by `next_event`), framing removed.
  const std::string& raw_body() const { return raw_body_; }

  /// True once the body ended with a proper chunked terminator.
  bool stream_finished() const { return finished_; }

  void send_raw(std::string_view bytes);

  /// Half-close: the gateway reads EOF, the connection can still receive.
  void shutdown_send();

  /// Reads until the peer closes (or the deadline); returns everything read.
  std::string read_until_close();

  /// True if the peer closed the connection (EOF/reset) within the deadline.
  bool peer_closed();

  void close();

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> stream_parser_;
  sse_parser sse_{1 << 20};
  std::vector<sse_event> pending_;
  std::string raw_body_;
  bool finished_ = false;
};

/// The value of one sample of the gateway's /metrics on `port` (Prometheus text exposition):
/// `sample` is the series as written, `name` or `name{label="v",…}`; nullopt when it is absent
/// (or /metrics did not answer).
std::optional<double> metric_sample(std::uint16_t port, std::string_view sample);

/// A fresh directory (a gateway's data_dir, a trace file), removed with everything in it.
struct temp_dir {
  std::string path;
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace switchyard::test
