#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// Token counts from an OpenAI `usage` object.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
};

/// Complete SSE event blocks without the usage-only chunk and without `"usage":null` members
/// (the chunks OpenAI sends when `stream_options.include_usage` is on). Pure.
void strip_usage_events(std::string_view blocks, std::string& out);

/// Finds the last `"usage": {...}` object in `json` (a whole body, a tail of one, or an SSE
/// event's data) and reads its counts. Pure; `nullopt` when there is none or it is `null`.
std::optional<token_usage> find_usage(simdjson::ondemand::parser& parser, std::string_view json);

/// Watches an upstream response body on its way to the client. For SSE it decides what may be
/// forwarded now (whole event blocks only, so a broken upstream never leaves half an event in
/// front of the final error event) and notes content, `[DONE]` and usage; for other bodies it
/// forwards everything at once and keeps a bounded tail to read `usage` from at the end.
class response_meter {
 public:
  response_meter(bool sse, std::size_t max_event_bytes);

  /// Takes the next body bytes; afterwards `ready()` holds what may go to the client.
  result<void> feed(std::string_view chunk, simdjson::ondemand::parser& parser);

  /// Bytes to forward; the caller clears it once written.
  std::string& ready() noexcept { return ready_; }

  /// Moves bytes held back for an incomplete event into `ready()` (the upstream ended cleanly).
  void release_held() {
    if (strip_usage_) {
      append_ready(held_);
    } else {
      ready_.append(held_);
    }
    held_.clear();
  }

  /// Call at the end of the body (non-SSE) to read `usage` from the tail.
  void finish(simdjson::ondemand::parser& parser);

  /// The gateway asked the upstream for usage the client did not ask for: drop the usage-only
  /// chunk and the `"usage":null` fields so the client sees the stream it asked for.
  void strip_usage(bool on) noexcept { strip_usage_ = on; }

  bool sse() const noexcept { return sse_; }
  bool saw_content() const noexcept { return saw_content_; }  // a token, text or tool call
  bool saw_done() const noexcept { return saw_done_; }        // `data: [DONE]`
  std::uint64_t events() const noexcept { return events_; }
  const std::optional<token_usage>& usage() const noexcept { return usage_; }
  /// Bytes held back because their event is not complete yet.
  std::size_t held_bytes() const noexcept { return held_.size(); }

 private:
  void on_event(const sse_event& e, simdjson::ondemand::parser& parser);

  void append_ready(std::string_view blocks);

  bool sse_;
  bool strip_usage_ = false;
  sse_parser parser_;
  std::vector<sse_event> events_buffer_;
  std::string held_;   // SSE bytes after the last complete block
  std::string ready_;  // bytes ready for the client
  std::string tail_;   // non-SSE: last bytes of the body, for `usage`
  bool saw_content_ = false;
  bool saw_done_ = false;
  std::uint64_t events_ = 0;
  std::optional<token_usage> usage_;
};

}  // namespace switchyard
