#pragma once

// Internal to providers/: the pieces of a Response object shared by the non-stream translation
// (responses_chat.cpp) and the stream translation (responses_stream.cpp), so that both build
// the same ids, usage and envelope.

#include "switchyard/core/error.hpp"
#include "switchyard/providers/responses_chat.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::responses_detail {

/// `<prefix>_<response id without "resp_">_<index>`: unique within the response, the same in
/// the stream and the non-stream answer.
std::string item_id(std::string_view prefix, std::string_view response_id, std::size_t index);

/// Counts from a chat `usage` object (`prompt_tokens`, `completion_tokens`, `total_tokens`,
/// `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`);
/// nothing when `usage` is missing, null or not an object.
std::optional<responses_usage> read_usage(const boost::json::value* usage);

/// The Response `usage` object (every member the schema requires; zeros for `nullopt`).
boost::json::object usage_json(const std::optional<responses_usage>& usage);

/// `incomplete_details.reason` for a chat finish_reason: "max_output_tokens" (length),
/// "content_filter", or "" (complete).
std::string_view incomplete_reason(std::string_view finish_reason) noexcept;

/// What a Response envelope needs besides its output.
struct envelope {
  std::string_view status{};             // in_progress, completed, incomplete, failed
  std::string_view model{};              // the upstream's, used when the context has none
  std::string_view incomplete_reason{};  // "" = incomplete_details null
  const error* failure = nullptr;        // error object for status failed
  bool with_usage = false;               // false: no usage member (not known yet)
  std::optional<responses_usage> usage{};
};

/// A whole Response object: id, object, created_at, status, error, incomplete_details, model,
/// output, the echoed request fields, usage.
boost::json::object response_json(const responses_context& context, const envelope& e,
                                  boost::json::array output);

/// The Response `error.code` for `e` (the ResponseErrorCode enum: rate_limit_exceeded or
/// server_error).
std::string_view response_error_code(const error& e) noexcept;

/// A custom tool's raw input from the arguments of its chat function call: the string member
/// `input` when the arguments are such an object, else the arguments as they are.
std::string custom_input(std::string_view arguments);

/// The chat arguments a custom tool call's `input` becomes: `{"input":"…"}`.
std::string custom_arguments(std::string_view input);

/// Whether `name` is one of the context's custom tools.
bool is_custom_tool(const responses_context& context, std::string_view name) noexcept;

/// `v` as a std::string_view (for Boost.JSON strings).
inline std::string_view view(const boost::json::string& s) noexcept {
  return {s.data(), s.size()};
}

/// The string member `key` of `o`, or nullptr.
inline const boost::json::string* string_member(const boost::json::object& o,
                                                std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

}  // namespace switchyard::responses_detail
