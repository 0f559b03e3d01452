#pragma once

// Anthropic Messages stream → OpenAI chat chunks (protocol.md §3.3 "Stream Anthropic → OpenAI
// chunks"), one event at a time, pure: each event's chunks are appended as soon as it is fed,
// nothing is held back beyond the current tool/block bookkeeping.
//
//   message_start          → the role chunk (delta {role:"assistant", content:""}); the chat id
//                            ("chatcmpl-" + msg id), `created` and model are fixed here for the
//                            whole stream; input and cache token counts remembered
//   content_block_start    → tool_use: a tool_calls chunk {index:k, id, type, function:{name,
//                            arguments:""}}, k counting tool blocks from 0 (not Anthropic's
//                            block index); text/thinking: a chunk only if it already has text
//   text_delta             → delta.content
//   input_json_delta       → delta.tool_calls[{index:k, function:{arguments: partial_json}}]
//   thinking_delta         → delta.reasoning_content (or nothing when the context turns
//                            reasoning off); signature_delta and citations_delta → nothing (a
//                            chat stream has no place for them: multi-turn thinking with tools
//                            needs the non-stream response's thinking_blocks)
//   content_block_stop     → nothing
//   message_delta          → the finish chunk (delta {}, finish_reason mapped) once; usage
//                            updated (output_tokens is cumulative)
//   message_stop           → the usage chunk {choices:[], usage} when include_usage, then
//                            `data: [DONE]`; the stream is complete
//   ping                   → `: ping` (an SSE comment: keeps intermediaries' idle timers alive)
//   error                  → `data: {"error":{...}}` (type and code as map_anthropic_error gives
//                            them), no [DONE]; the stream has failed
//   unknown event types    → ignored (Anthropic's versioning policy adds event types)
//   malformed data, or content before message_start → `data: {"error":...}` with
//                            errc::upstream_broken; the stream has failed
//
// After the stream completes or fails every further event is ignored. The upstream ending
// before message_stop (a cut) is not written: `finish()` says so, and the gateway ends the
// client's stream with its own error (or retries, when no output was sent: the stream hold).
// When include_usage is on, every chunk carries `"usage":null` but the usage chunk, as OpenAI's.

#include "switchyard/core/error.hpp"
#include "switchyard/providers/anthropic_response.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace boost::json {
class object;
}

namespace switchyard {

/// Translates one Anthropic Messages stream into OpenAI chat chunks.
class anthropic_to_chat_stream {
 public:
  enum class phase {
    awaiting_start,  // nothing or only pings so far
    streaming,       // message_start seen
    completed,       // message_stop seen: ended cleanly
    failed,          // an error event or malformed data: an error chunk was written
  };

  /// How the stream ended, for `finish()`.
  enum class end { clean, cut, failed };

  explicit anthropic_to_chat_stream(chat_response_context context);

  /// Feeds one SSE event (`event` may be "" when the upstream sends no event line: the data's
  /// `type` decides then) and appends what it translates to into `out`.
  void feed(std::string_view event, std::string_view data, std::string& out);

  /// The upstream's body ended: `clean` after message_stop, `failed` after an error chunk,
  /// `cut` otherwise (nothing is written; the gateway reports it).
  end finish() const noexcept;

  phase state() const noexcept { return phase_; }
  /// Content reached `out`: text, reasoning, a tool call or the finish chunk (the role chunk
  /// alone is not output). Before this, a failed attempt may still be retried.
  bool output_started() const noexcept { return output_started_; }
  /// Counts so far (final after message_stop).
  const anthropic_usage& usage() const noexcept { return usage_; }
  /// The mapped finish_reason once message_delta gave one.
  const std::optional<std::string>& finish_reason() const noexcept { return finish_reason_; }
  /// The failure behind `phase::failed` (retry mode `yes` for an upstream overload, server or
  /// rate-limit error, or malformed data, before any output).
  const std::optional<error>& failure() const noexcept { return failure_; }
  /// The chat completion id used on every chunk ("" before message_start).
  const std::string& id() const noexcept { return id_; }

 private:
  enum class block_kind { text, tool, thinking, other };
  struct block {
    block_kind kind = block_kind::other;
    std::int64_t tool_index = 0;
  };

  void dispatch(std::string_view type, const boost::json::object& data, std::string& out);
  void on_message_start(const boost::json::object& data, std::string& out);
  void on_block_start(const boost::json::object& data, std::string& out);
  void on_block_delta(const boost::json::object& data, std::string& out);
  void on_message_delta(const boost::json::object& data, std::string& out);
  void on_message_stop(std::string& out);
  void on_error(const boost::json::object& data, std::string& out);
  /// `data: {prefix"choices":[{"index":0,"delta":<delta>,"logprobs":null,"finish_reason":…}]}`.
  void delta_chunk(std::string_view delta_json, std::string_view finish, std::string& out);
  void fail(error e, std::string_view error_json, std::string& out);
  void malformed(std::string_view what, std::string& out);

  chat_response_context context_;
  phase phase_ = phase::awaiting_start;
  bool output_started_ = false;
  bool finish_sent_ = false;
  std::string id_;
  std::string prefix_;  // `{"id":…,"object":…,"created":…,"model":…,` shared by every chunk
  anthropic_usage usage_;
  std::optional<std::string> finish_reason_;
  std::optional<error> failure_;
  std::unordered_map<std::int64_t, block> blocks_;
  std::int64_t tools_ = 0;
  std::string scratch_;  // reused for deltas
};

}  // namespace switchyard
