#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/core/token_usage.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace switchyard {

/// What one request did, for the access log. Never holds keys or prompt/completion text.
struct access_record {
  std::string request_id;
  std::string_view method;
  std::string_view path;  // without the query string
  std::string_view endpoint;
  std::string model;          // as requested by the client
  std::string routed_model;   // the `models:` entry that served it, when an experiment chose it
  std::string_view upstream;  // upstream name, "" when none was called
  unsigned status = 0;        // sent to the client; 499 = client went away first
  std::string_view error;     // error label, "" on success
  // Who caused `error`: downstream, upstream or internal ("" on success).
  std::string_view error_source;
  bool stream = false;
  double duration_ms = 0;
  double ttfb_ms = -1;  // first upstream byte; -1 when none
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::optional<token_usage> usage;
  std::uint32_t attempts = 0;   // upstream attempts made (retries and fallbacks included)
  std::uint32_t retries = 0;    // of which retries after a wait
  std::string fallback;         // "upstream/model" when a fallback answered
  std::string_view retry_stop;  // why attempts stopped short of a response: retry_stop_label()
  // Experiments (names from config; copies, because a reload may free the snapshot first).
  std::string experiment;
  std::string variant;
  std::string prompt_version;
  std::string_view assignment;   // why (not) in an experiment: assigned, no_unit, override…
  bool model_known = false;      // `model` is a configured name (a bounded metric label)
  double ttft_ms = -1;           // first content event of a stream; -1 when none
  double upstream_ms = 0;        // inside upstream attempts and retry waits
  bool usage_estimated = false;  // no usage from the upstream: tokens counted approximately
  double cost_usd = 0;
  std::string_view request_text;            // the client's request body; set only for the trace log
  std::string* response_capture = nullptr;  // where the relay copies the response (trace only)
  std::string_view response_text;           // what was captured, for the trace line
};

/// One JSON object on one line. Pure (but for the clock).
std::string format_access_line(const access_record& r);

/// The same line appended to `out` (no newline), with no temporary strings.
void append_access_line(std::string& out, const access_record& r);

/// The access logger: async spdlog to stdout, a file, or nothing (`log.access: off` → nullptr).
std::shared_ptr<spdlog::logger> make_access_logger(const log_config& cfg);

/// The JSON Lines trace (`trace.path`): async, size-rotated; nullptr when not configured.
std::shared_ptr<spdlog::logger> make_trace_logger(const trace_config& cfg);

/// Per-worker access-log batching: lines are formatted on the worker's thread into a local
/// buffer and handed to spdlog at most every `interval` (or when the buffer is large), so the
/// request path takes no lock; spdlog's queue lock is paid once per batch, not per request.
class access_batcher {
 public:
  access_batcher(net::any_io_executor ex, spdlog::logger* logger,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(50));
  ~access_batcher();
  access_batcher(const access_batcher&) = delete;
  access_batcher& operator=(const access_batcher&) = delete;

  /// Formats `r` into the batch; arms a one-shot flush timer when the batch was empty.
  void add(const access_record& r);

  /// Hands the batch to spdlog now.
  void flush();

  bool enabled() const noexcept { return logger_ != nullptr; }

 private:
  net::any_io_executor ex_;
  spdlog::logger* logger_;
  std::chrono::milliseconds interval_;
  std::string batch_;
  bool armed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // the timer may outlive us
};

}  // namespace switchyard
