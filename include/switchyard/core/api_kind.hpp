#pragma once

#include <cstdint>
#include <string_view>

namespace switchyard {

/// The API dialects the gateway speaks, as clients send them and as upstreams serve them. A
/// request whose client API the upstream does not serve is translated (via chat) or refused.
enum class api_kind : std::uint8_t { chat, completions, embeddings, responses, messages };

/// A set of api_kind (`apis:` of an upstream).
using api_set = std::uint8_t;

constexpr api_set api_bit(api_kind a) noexcept {
  return static_cast<api_set>(1u << static_cast<unsigned>(a));
}

constexpr bool serves(api_set set, api_kind a) noexcept { return (set & api_bit(a)) != 0; }

/// The config spelling: chat, completions, embeddings, responses, messages.
constexpr std::string_view api_name(api_kind a) noexcept {
  switch (a) {
    case api_kind::chat:
      return "chat";
    case api_kind::completions:
      return "completions";
    case api_kind::embeddings:
      return "embeddings";
    case api_kind::responses:
      return "responses";
    case api_kind::messages:
      return "messages";
  }
  return "";
}

}  // namespace switchyard
