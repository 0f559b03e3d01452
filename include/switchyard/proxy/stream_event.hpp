#pragma once

#include "switchyard/core/token_usage.hpp"

#include <simdjson.h>

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// What one upstream JSON document (an SSE event's data, or an error body) says, as far as the
/// gateway cares. Every field comes from a real parse, so it does not depend on whitespace,
/// member order, escapes, unknown members or the number of choices.
struct event_facts {
  bool object = false;   // the data parsed as a JSON object
  bool choices = false;  // it has a `choices` array (a chat or completion chunk)
  std::size_t choice_count = 0;
  /// Any choice carries output: a non-empty `content`, `text`, `reasoning_content`,
  /// `reasoning` or `refusal`, non-empty `tool_calls`, a `function_call` or `audio`, or a
  /// `finish_reason`.
  bool output = false;
  std::optional<token_usage> usage;  // `usage`, else `x_groq.usage` (Groq)
  /// `choices: []` with a `usage` object: the chunk `stream_options.include_usage` adds.
  bool usage_only = false;
  bool error = false;               // a top-level `error` member that is not null
  bool insufficient_quota = false;  // error.code or error.type is "insufficient_quota"
  /// Byte ranges to cut to remove the top-level `"usage": null` members (with one adjacent
  /// comma), leaving valid JSON. At most one in a valid document; kept as a list for duplicates.
  boost::container::small_vector<std::pair<std::size_t, std::size_t>, 1> null_usage;
  /// Another dialect's event that says nothing yet (Responses' `response.created` /
  /// `response.in_progress`, Messages' `message_start` / `ping`): it keeps the hold like a chat
  /// chunk without output.
  bool holdable = false;

  /// The stream hold may keep waiting after this event only when it is a chunk without output
  /// (or a `holdable` event); anything else (output, an error, usage, something we cannot
  /// classify) releases the hold.
  bool keeps_hold() const noexcept { return object && (choices || holdable) && !output && !error; }
};

/// Classifies `json` (which must have simdjson::SIMDJSON_PADDING readable bytes past its end).
/// Unparsable input gives `object == false`. Pure apart from the reused parser.
event_facts classify_event(simdjson::ondemand::parser& parser, simdjson::padded_string_view json);

/// True when an upstream error body's top-level `error` object has `"code"` or `"type"` equal to
/// "insufficient_quota" (from a real parse, so spacing, member order and escapes do not matter;
/// a body that is not JSON is not one). `body` need not be padded: it is copied.
bool says_insufficient_quota(simdjson::ondemand::parser& parser, std::string_view body);

/// True when `json` cannot contain a member named "usage" (so a chunk without one needs no
/// parse after the hold): such a key is spelled `usage` or uses a `\u` escape. Pure.
bool may_mention_usage(std::string_view json) noexcept;

/// True when `json` may carry token counts (`prompt_tokens`, `completion_tokens`,
/// `total_tokens`, spelled out or with a `\u` escape). Pure.
bool may_count_tokens(std::string_view json) noexcept;

/// `json` with the `null_usage` ranges of its facts removed. Pure.
std::string without_null_usage(std::string_view json, const event_facts& facts);
/// The same into `out` (replaced), so that a relay reuses one buffer for every event.
void without_null_usage(std::string_view json, const event_facts& facts, std::string& out);

/// Reads a `usage` object's counts (`prompt_tokens`, `completion_tokens`, `total_tokens`; the
/// total is their sum when absent). Pure.
token_usage read_usage(simdjson::ondemand::object& usage);

}  // namespace switchyard
