#pragma once

// Internal to providers/: the pieces of translate_responses_request (responses_request.cpp),
// split by concern: the input items (responses_input.cpp) and the tools, tool choice and text
// format (responses_tools.cpp). Errors are `errc::invalid_request` naming the offending param.

#include "switchyard/core/error.hpp"

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::responses_request_detail {
namespace json = boost::json;

/// An `errc::invalid_request` error naming `param`.
inline error invalid(std::string message, std::string param) {
  return make_error(errc::invalid_request, std::move(message), std::move(param));
}

/// `base[i]`, the param of an array element.
inline std::string at(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

/// `base.key`, the param of a member.
inline std::string member(std::string_view base, std::string_view key) {
  return std::string(base) + "." + std::string(key);
}

/// `key` is there and not null.
inline bool present(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && !v->is_null();
}

/// The string member `key` (absent or null → nullptr); another type is an error.
inline result<const json::string*> optional_string(const json::object& o, std::string_view key,
                                                   std::string_view param) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return nullptr;
  }
  if (!v->is_string()) {
    return invalid("'" + std::string(param) + "' must be a string", std::string(param));
  }
  return &v->get_string();
}

/// Like `optional_string`, but absent or null is an error too.
inline result<const json::string*> required_string(const json::object& o, std::string_view key,
                                                   std::string_view param) {
  auto s = optional_string(o, key, param);
  if (s && *s == nullptr) {
    return invalid("'" + std::string(param) + "' is required", std::string(param));
  }
  return s;
}

/// `v` as an object, else an error naming `param`.
inline result<const json::object*> object_at(const json::value& v, std::string_view param) {
  if (const auto* o = v.if_object(); o != nullptr) {
    return o;
  }
  return invalid("'" + std::string(param) + "' must be an object", std::string(param));
}

/// The chat `messages`: `system` first when given, then the Responses `input` (a string or a
/// list of items).
result<json::array> translate_input(const json::value& input,
                                    std::optional<std::string_view> system);

/// The chat tools, the Response's echo of them, and the names of the custom tools.
struct tools_result {
  json::array chat{};  // chat `tools`
  json::array echo{};  // the Response's `tools`
  std::vector<std::string> custom{};
  std::vector<std::string> names{};
};

/// Responses `tools` → chat tools (function and custom tools; built-in ones refused).
result<tools_result> translate_tools(const json::value* tools);

/// `tool_choice` → the chat one (null: not sent); an `allowed_tools` choice narrows
/// `chat_tools`.
result<json::value> translate_tool_choice(const json::value* choice, json::array& chat_tools);

/// `text.format` → chat `response_format` (null: not sent).
result<json::value> translate_format(const json::object& text);

}  // namespace switchyard::responses_request_detail
