#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/providers/responses_chat.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// How a translated Responses stream ended (or that it has not).
enum class responses_stream_state { open, completed, incomplete, failed };

/// Turns an upstream chat completions stream into a Responses event stream, incrementally: fed
/// one SSE event's `data` at a time (as `sse_parser` dispatches it, `[DONE]` included), it
/// appends complete Responses events (`event: <type>\ndata: {...}\n\n`) to the caller's buffer.
///
/// The events: `response.created` and `response.in_progress` with the first upstream event; per
/// output item `response.output_item.added` … `response.output_item.done` in between, with
/// - a message: `response.content_part.added`, `response.output_text.delta`… (or
///   `response.refusal.delta`…), `response.output_text.done`, `response.content_part.done`;
/// - reasoning (`reasoning_content` / `reasoning` deltas): a reasoning item with one summary
///   part (`response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta`…,
///   `.done`, `response.reasoning_summary_part.done`) — the AI SDK renders only summaries;
/// - a function call: `response.function_call_arguments.delta`… and `.done`; calls stay open
///   until the choice finishes, so interleaved parallel calls keep their own items;
/// - a call of a `custom` tool: one `response.custom_tool_call_input.delta` with the whole input
///   and `.done` when the call ends (the input has to be un-escaped from the arguments JSON);
/// and last `response.completed`, or `response.incomplete` (finish_reason `length` →
/// `max_output_tokens`, `content_filter`), with the whole Response and its usage (from the
/// `include_usage` chunk; zeros when none came). `sequence_number` counts from 0 over every
/// event, one response id throughout, item ids and indexes consistent with `output`.
///
/// Tolerated: chunks with `choices: []` (Azure's `prompt_filter_results`, the usage chunk),
/// choices other than index 0, unknown members, `[DONE]` missing after a finish_reason (see
/// `finish`). An upstream `error` object, data that is not a JSON object, or a stream cut before
/// it finished ends the stream with an `error` event and `response.failed` (as OpenAI itself does)
/// and returns the error; nothing is emitted after a terminal event.
///
/// Metering and the stream hold read `output_started`, `usage` and `state`. Before
/// `output_started` the buffer holds only `response.created`/`response.in_progress`: a relay
/// that retries then must discard them and start a new translator.
class chat_to_responses_stream {
 public:
  explicit chat_to_responses_stream(responses_context context);

  /// Consumes one upstream event's `data`. On a failure (an upstream `error` object, malformed
  /// data) appends `error` + `response.failed` and returns the error (`errc::upstream_broken`,
  /// source upstream). After a terminal event: does nothing.
  result<void> feed(std::string_view data, std::string& out);

  /// The upstream body ended. Without `[DONE]`: completes if the choice had finished (a
  /// finish_reason was seen), else fails ("upstream stream ended before completion"). Does
  /// nothing after a terminal event.
  result<void> finish(std::string& out);

  /// Ends the stream with `error` + `response.failed` carrying `e.message` (e.g. the upstream
  /// connection broke, a deadline passed). Emits `response.created` first if nothing was sent
  /// yet, so that the client's accumulator has a response to fail. No-op after a terminal event.
  void fail(const error& e, std::string& out);

  /// Some output item was added (content, reasoning or a tool call has reached the client).
  bool output_started() const noexcept { return !items_.empty(); }
  /// `response.created` has been emitted.
  bool started() const noexcept { return started_; }
  responses_stream_state state() const noexcept { return state_; }
  /// The usage the upstream reported (its `include_usage` chunk), if any.
  const std::optional<responses_usage>& usage() const noexcept { return usage_; }
  /// The sequence number the next event gets (= events emitted so far).
  std::uint64_t next_sequence_number() const noexcept { return sequence_; }

 private:
  enum class item_kind { message, reasoning, function_call, custom_tool_call };
  enum class part_kind { text, refusal };
  struct item {
    item_kind kind = item_kind::message;
    std::string id{};
    std::string call_id{};
    std::string name{};
    std::string text{};  // reasoning text, function arguments or custom tool arguments
    std::vector<std::pair<part_kind, std::string>> parts{};  // message content parts
    bool part_open = false;                                  // the last part is still open
    bool open = true;
    std::string_view status = "in_progress";
  };
  struct pending_call {
    std::int64_t index = 0;  // the chat `tool_calls[].index`
    std::size_t item = 0;    // index into items_ once announced
    bool announced = false;  // output_item.added emitted (it needs the name)
    std::string call_id{};
    std::string name{};
    std::string arguments{};  // buffered before the announcement
  };

  void start(std::string& out);
  void emit(std::string_view type, boost::json::object body, std::string& out);
  result<void> chunk(std::string_view data, std::string& out);
  void reasoning_delta(std::string_view delta, std::string& out);
  void content_delta(part_kind kind, std::string_view delta, std::string& out);
  void tool_call_delta(const boost::json::object& call, std::string& out);
  void announce(pending_call& call, std::string& out);
  std::size_t add_item(item it, std::string& out);
  boost::json::object item_json(const item& it) const;
  boost::json::array output_json() const;
  void close_part(std::size_t index, std::string& out);
  void close_item(std::size_t index, std::string_view status, std::string& out);
  void close_text_items(std::string& out);
  void complete(std::string& out);
  error broken(std::string message, std::string& out);

  responses_context context_;
  std::uint64_t sequence_ = 0;
  bool started_ = false;
  responses_stream_state state_ = responses_stream_state::open;
  std::vector<item> items_;
  std::optional<std::size_t> open_message_;
  std::optional<std::size_t> open_reasoning_;
  std::vector<pending_call> calls_;
  std::optional<std::string> finish_reason_;
  std::optional<responses_usage> usage_;
  std::string upstream_model_;
};

}  // namespace switchyard
