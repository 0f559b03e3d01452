#pragma once

// OpenAI chat `messages` → Anthropic `system` + `messages` (the content half of
// translate_chat_request, anthropic_chat.hpp documents the mapping; tested through it). Not a
// public header: Boost.JSON values in, Boost.JSON values out.

#include "switchyard/core/error.hpp"

#include "json_detail.hpp"

#include <boost/json.hpp>

#include <string>
#include <string_view>

namespace switchyard::providers_detail {

namespace json = boost::json;

/// A refusal of the client's request, naming the member.
inline error bad(std::string message, std::string param) {
  return make_error(errc::invalid_request, std::move(message), std::move(param));
}

/// `base[i]`.
inline std::string index_param(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

/// `base.name`.
inline std::string member_param(std::string_view base, std::string_view name) {
  return std::string(base) + "." + std::string(name);
}

/// Copies a non-null `cache_control` member (prompt caching markers must survive).
inline void copy_cache_control(const json::object& from, json::object& to) {
  if (const auto* cc = from.if_contains("cache_control"); cc != nullptr && !cc->is_null()) {
    to["cache_control"] = *cc;
  }
}

/// The translated conversation.
struct chat_turns {
  json::value system;    // null when there is no system text
  json::array messages;  // non-empty, alternating roles
};

/// Translates the `messages` array of a chat request (param names start with "messages").
result<chat_turns> translate_messages(const json::array& messages);

}  // namespace switchyard::providers_detail
