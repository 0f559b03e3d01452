#pragma once

// Anthropic Messages response → OpenAI chat completion (protocol.md §3.3 "Response Anthropic →
// OpenAI"), pure, plus the pieces the stream translator (anthropic_stream.hpp) shares:
//
//   content text blocks   → message.content (concatenated; null when there are only tool calls)
//   tool_use              → message.tool_calls[{id, type:function, function:{name,
//                           arguments: the serialized input}}]
//   thinking              → message.reasoning_content (DeepSeek's and vLLM's name, which the
//                           AI SDK and LiteLLM read), unless the context turns reasoning off;
//                           thinking and redacted_thinking blocks also verbatim in
//                           message.thinking_blocks, so that a client can send them back (the
//                           request side reads that member)
//   other blocks          → dropped (server tool results, citations have no chat counterpart)
//   stop_reason           → finish_reason: end_turn, stop_sequence, pause_turn → stop;
//                           max_tokens, model_context_window_exceeded → length; tool_use →
//                           tool_calls; refusal → content_filter; anything else → stop
//   usage                 → prompt_tokens = input + cache_read + cache_creation,
//                           prompt_tokens_details.cached_tokens = cache_read, completion_tokens =
//                           output, completion_tokens_details.reasoning_tokens = the reported
//                           thinking tokens; Anthropic's cache_read_input_tokens and
//                           cache_creation_input_tokens are repeated at the top of usage
//   id                    → "chatcmpl-" + the msg_ id without its prefix (stable per message)
//   model                 → the context's model, else Anthropic's `model`

#include "switchyard/core/error.hpp"
#include "switchyard/core/token_usage.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

/// Token counts as Anthropic reports them. `input_tokens` excludes cache reads and writes.
struct anthropic_usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_input_tokens = 0;
  std::int64_t cache_creation_input_tokens = 0;
  std::int64_t thinking_tokens = 0;  // usage.output_tokens_details.thinking_tokens, when given

  /// The OpenAI view: prompt = input + cache read + cache creation, completion = output.
  token_usage openai() const noexcept {
    const std::int64_t prompt =
        input_tokens + cache_read_input_tokens + cache_creation_input_tokens;
    return {prompt, output_tokens, prompt + output_tokens};
  }
};

/// What the response side needs from the request and the gateway.
struct chat_response_context {
  std::string model{};         // reported `model`; "" = the model Anthropic names
  std::int64_t created = 0;    // `created` (Unix seconds, from the caller's clock: pure code)
  bool include_usage = false;  // stream: the client asked stream_options.include_usage
  bool reasoning = true;       // thinking → reasoning_content; false drops it
};

/// A translated non-stream response, with what the gateway meters.
struct chat_response {
  std::string body;
  anthropic_usage usage;
  std::string finish_reason;
};

/// Translates a Messages response body (a 200's) into a chat.completion body. A body that is
/// not a Messages object gives `errc::upstream_broken`. Pure.
result<chat_response> translate_messages_response(std::string_view messages_body,
                                                  const chat_response_context& context);

/// The chat `finish_reason` for an Anthropic `stop_reason` (see the table above).
std::string_view chat_finish_reason(std::string_view stop_reason) noexcept;

/// "chatcmpl-" + `message_id` without a leading "msg_" ("chatcmpl-anthropic" when empty).
std::string chat_completion_id(std::string_view message_id);

/// Appends the OpenAI `usage` object for `u` (compact JSON, fixed member order) to `out`.
void append_chat_usage(std::string& out, const anthropic_usage& u);

}  // namespace switchyard
