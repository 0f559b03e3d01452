#pragma once

// The Anthropic Messages stream as the meter sees it (pure): which events carry output, which
// keep the stream hold, and the usage, which Anthropic splits over two events.
//
//   event                 output  hold      usage
//   message_start         no      keeps     message.usage: input, cache read/write (output is a
//                                           placeholder)
//   ping                  no      keeps
//   content_block_start   tool_use, server_tool_use, redacted_thinking, or a text/thinking block
//                         that starts with text: yes; else no (keeps)
//   content_block_delta   yes (text, thinking, signature, input_json, citations deltas)
//   content_block_stop    no      keeps
//   message_delta         yes (stop_reason: the answer's end, like chat's finish_reason)
//                                           usage: cumulative output (and, in newer API versions,
//                                           the input and cache counts again)
//   message_stop, unknown no      releases
//   error                 error   releases
//
// Anthropic's `input_tokens` excludes the cached prompt: the gateway's prompt tokens are
// input + cache reads + cache writes, with the two cache counts kept apart as well.

#include "switchyard/proxy/stream_event.hpp"

#include <simdjson.h>

#include <cstdint>
#include <optional>

namespace switchyard {

/// The counts a Messages response reported so far (each the latest value seen; absent ones 0).
struct messages_usage {
  std::int64_t input = 0;
  std::int64_t cache_read = 0;   // cache_read_input_tokens
  std::int64_t cache_write = 0;  // cache_creation_input_tokens
  std::int64_t output = 0;
  bool seen = false;  // some event had a usage object

  /// Takes the counts `usage` names (null or missing members leave the earlier value).
  void read(simdjson::ondemand::object& usage);
  /// As the gateway counts: prompt = input + cache reads + cache writes, completion = output.
  token_usage total() const noexcept;
};

/// Classifies one Messages stream event's data (which must have simdjson::SIMDJSON_PADDING
/// readable bytes past its end), per the table above; `usage` is this event's own counts only.
/// Unparsable data gives `object == false`. Pure apart from the reused parser.
event_facts classify_messages_event(simdjson::ondemand::parser& parser,
                                    simdjson::padded_string_view data);

/// The same, adding the event's counts to `running`; `usage` is then the stream's total so far
/// (set once any event carried usage).
event_facts classify_messages_event(simdjson::ondemand::parser& parser,
                                    simdjson::padded_string_view data, messages_usage& running);

/// A non-stream Message's top-level `usage` object, as the gateway counts it. Pure.
token_usage read_messages_usage(simdjson::ondemand::object& usage);

}  // namespace switchyard
