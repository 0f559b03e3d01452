#pragma once

#include "switchyard/core/api_kind.hpp"
#include "switchyard/core/error.hpp"

#include <simdjson.h>
#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// The endpoints the gateway proxies: OpenAI's three, the Responses API, and Anthropic's
/// Messages API with its token counter.
enum class endpoint { chat_completions, completions, embeddings, responses, messages, count_tokens };

/// The API dialect a client speaks on `e` (count_tokens belongs to the Messages API).
api_kind endpoint_api(endpoint e) noexcept;

/// The endpoint's path below `/v1`, e.g. "/chat/completions".
std::string_view endpoint_path(endpoint e) noexcept;

/// Stable label for logs and metrics.
std::string_view endpoint_label(endpoint e) noexcept;

/// Where one top-level member of the request object sits in the body (byte offsets), so that a
/// rewrite can keep every other byte as the client sent it.
struct body_member {
  std::string_view key;         // raw (still escaped) key text, a view into the body
  std::size_t begin = 0;        // the key's opening quote
  std::size_t value_begin = 0;  // first byte of the value
};

/// What the gateway needs from a request body, found in one On-Demand pass.
struct request_fields {
  std::string model;             // unescaped
  std::size_t model_offset = 0;  // byte range of the model's JSON string token, quotes included
  std::size_t model_length = 0;
  bool stream = false;
  bool include_usage = false;               // stream_options.include_usage
  std::optional<std::uint64_t> max_tokens;  // max_completion_tokens, else max_tokens
  std::uint64_t n = 1;                      // choices requested
  // For rewriting (experiments, usage injection); offsets into the parsed body.
  boost::container::small_vector<body_member, 16> members;
  std::size_t object_end = 0;  // the closing '}'
  bool has_stream_options = false;
  bool store = false;                    // `store: true` (OpenAI accepts metadata only then)
  std::size_t first_message_begin = 0;   // chat: messages[0]'s '{' (0 = none)
  std::size_t second_message_begin = 0;  // chat: messages[1]'s '{' (0 = none)
  bool first_message_system = false;     // chat: messages[0].role is system or developer
  bool prompt_is_string = false;         // completions: `prompt` is one string…
  std::string prompt;                    // …unescaped (only kept for completions)
  /// Messages: the form of the top-level `system` (a string, or an array of text blocks).
  enum class system_form : std::uint8_t { none, string, blocks };
  system_form system = system_form::none;
  /// Messages: `metadata.user_id` as raw JSON text between its quotes ("" = none), the Messages
  /// API's counterpart of chat's `user` (assignment `unit: body:user`). A view into the body.
  std::string_view metadata_user;
  const body_member* find(std::string_view key) const noexcept;
  /// Offset just past member `i`'s value.
  std::size_t member_end(std::string_view body, std::size_t i) const noexcept;
};

/// Parses and validates a request body for `ep`. `body` must have at least
/// `simdjson::SIMDJSON_PADDING` bytes of capacity past its size (see `pad_for_simdjson`).
/// Errors are 400 `invalid_request_error` naming the field. Messages and count_tokens bodies
/// need `model` and a non-empty `messages` array of objects; Messages also `max_tokens`, a
/// non-negative integer (Anthropic refuses a request without it, and the gateway's token
/// reservation needs it); `system` must be a string or an array of objects (text blocks). `validate` (the default) first
/// checks the whole body strictly (`validate_json_body`: RFC 8259, no duplicate keys); only a
/// body the gateway produced itself from a validated one may skip it.
result<request_fields> parse_request_body(endpoint ep, simdjson::ondemand::parser& parser,
                                          const std::string& body, bool validate = true);

/// Grows `body`'s capacity so simdjson can read it in place (no copy when it already fits), plus
/// `headroom` bytes when it must grow (room for a rewrite that follows).
void pad_for_simdjson(std::string& body, std::size_t headroom = 0);

/// `body` with the model token replaced by `model` as a JSON string; every other byte kept.
std::string splice_model(std::string_view body, const request_fields& fields,
                         std::string_view model);

}  // namespace switchyard
