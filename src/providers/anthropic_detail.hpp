#pragma once

// Reading Anthropic members shared by the response and stream translators (not public).

#include "switchyard/providers/anthropic_response.hpp"

#include "json_detail.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace switchyard::providers_detail {

/// Token counts above this are not real (and summing a few near INT64_MAX would overflow): they
/// are clamped here.
constexpr std::int64_t max_token_count = std::int64_t{1} << 48;

/// Updates `u` from an Anthropic `usage` object: only the counts it carries (message_delta may
/// repeat some or all of them; its output_tokens is cumulative, so it replaces).
inline void update_usage(const boost::json::object& usage, anthropic_usage& u) {
  auto set = [&](std::string_view key, std::int64_t& field) {
    if (usage.if_contains(key) != nullptr) {
      field = std::min(count_at(usage, key), max_token_count);
    }
  };
  set("input_tokens", u.input_tokens);
  set("output_tokens", u.output_tokens);
  set("cache_read_input_tokens", u.cache_read_input_tokens);
  set("cache_creation_input_tokens", u.cache_creation_input_tokens);
  if (const auto* d = usage.if_contains("output_tokens_details"); d != nullptr && d->is_object()) {
    if (d->get_object().if_contains("thinking_tokens") != nullptr) {
      u.thinking_tokens = std::min(count_at(d->get_object(), "thinking_tokens"), max_token_count);
    }
  }
}

}  // namespace switchyard::providers_detail
