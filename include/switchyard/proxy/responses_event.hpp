#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/stream_event.hpp"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// What one Responses API stream event (an SSE event's `data`) says, for relaying it as sent:
/// the facts the meter and the stream hold use, plus what a gateway failure event needs.
///
/// - `holdable`: `response.created`, `response.in_progress`, `response.queued` (nothing for the
///   client yet: the hold may keep waiting);
/// - `output`: every other `response.*` event (an output item, a content part, a text,
///   reasoning or function-call-argument delta, the terminal events);
/// - `error`: the `error` event and `response.failed`;
/// - `usage`: `response.usage` of the terminal events (`response.completed`,
///   `response.incomplete`, `response.failed`): input_tokens, output_tokens, total_tokens,
///   input_tokens_details.cached_tokens.
struct responses_event_facts {
  event_facts facts;
  bool terminal = false;  // response.completed / response.incomplete / response.failed
  /// `response.id` of a response.created / in_progress / terminal event ("" otherwise).
  std::string response_id;
  std::string model;            // `response.model` of those events
  std::int64_t created_at = 0;  // `response.created_at`
  std::optional<std::uint64_t> sequence_number;
};

/// Classifies one Responses stream event's data (padded for simdjson). Unparsable data gives
/// `facts.object == false` (which releases the hold). Pure apart from the reused parser.
responses_event_facts classify_responses_event(simdjson::ondemand::parser& parser,
                                               simdjson::padded_string_view json);

/// The events a gateway failure after a Responses stream started ends it with, as OpenAI ends a
/// failed stream: `event: error` (the documented code/message/param members and the `error`
/// object openai-node raises as an APIError) then `event: response.failed` for `response_id`,
/// numbered from `next_sequence`. Never a silent end. Pure.
struct responses_stream_identity {
  std::string_view response_id;
  std::string_view model;
  std::int64_t created_at = 0;
};
std::string responses_failure_events(const responses_stream_identity& who,
                                     std::uint64_t next_sequence, const error& e);

}  // namespace switchyard
