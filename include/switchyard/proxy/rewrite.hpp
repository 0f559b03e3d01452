#pragma once

#include "switchyard/proxy/request_body.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

/// Changes to a request body, applied member by member: every member not named here keeps the
/// client's exact bytes (only the whitespace between top-level members is normalised).
struct body_edit {
  /// Top-level members set to JSON text: replaced in place when present, appended otherwise.
  std::vector<std::pair<std::string_view, std::string>> set;
  /// Top-level members dropped.
  std::vector<std::string_view> remove;
  /// Chat: a system message's content, already JSON-escaped (without quotes); "" = none.
  std::string system_message;
  /// Chat: the system message replaces messages[0] when that is a system/developer message.
  /// Messages: the prompt replaces the client's `system` (else it is prepended to it).
  bool replace_system = false;
  /// Messages API: `system_message` goes into the top-level `system` instead of `messages`:
  /// with `replace_system` (or no client `system`) `system` becomes that string; otherwise it is
  /// prepended as its own text block, the client's system text (a string, wrapped as one text
  /// block, or its blocks, byte for byte with their `cache_control`) following it.
  bool messages_system = false;
  /// Completions: the new `prompt`, already JSON-escaped; "" = unchanged.
  std::string prompt;

  bool empty() const noexcept {
    return set.empty() && remove.empty() && system_message.empty() && prompt.empty();
  }

  /// Back to no change, keeping the capacity of the lists and strings (a reused edit).
  void clear() noexcept {
    set.clear();
    remove.clear();
    system_message.clear();
    replace_system = false;
    messages_system = false;
    prompt.clear();
  }
};

/// A variant's parameter `key` (JSON text `json`) as the Messages API (`ep` messages or
/// count_tokens) takes it: the member name and value to set, or nullopt when Anthropic has no
/// such parameter and it is dropped (Anthropic refuses unknown members). Messages keeps
/// temperature, top_p, top_k, max_tokens, stop_sequences, thinking, tool_choice, tools,
/// service_tier; `max_completion_tokens` becomes `max_tokens` and `stop` `stop_sequences` (a
/// string wrapped in an array). count_tokens keeps only what changes the count (thinking,
/// tool_choice, tools). Pure.
std::optional<std::pair<std::string_view, std::string>> messages_param(endpoint ep,
                                                                      std::string_view key,
                                                                      std::string_view json);

/// `body` (parsed into `fields`) with `edit` applied. Pure.
std::string apply_edit(std::string_view body, const request_fields& fields, const body_edit& edit);

/// The same into `out` (replaced; it must not alias `body`), with at least `extra_capacity`
/// bytes of capacity left past the result (e.g. simdjson's padding), so that a reused `out`
/// allocates only when a body is larger than any before it.
void apply_edit_to(std::string& out, std::string_view body, const request_fields& fields,
                   const body_edit& edit, std::size_t extra_capacity = 0);

/// The `stream_options` a streaming request needs so that the upstream reports usage, given the
/// client's own (`fields`): nullopt when nothing must change (the client asked for usage).
/// Otherwise the JSON text for the member, keeping the client's other options.
std::optional<std::string> usage_stream_options(std::string_view body,
                                                const request_fields& fields);

}  // namespace switchyard
