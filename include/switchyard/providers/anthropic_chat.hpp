#pragma once

// OpenAI chat request → Anthropic Messages request (protocol.md §3.3 "Request OpenAI →
// Anthropic"), pure: a JSON body in, a JSON body out. The response side is in
// anthropic_response.hpp (non-stream) and anthropic_stream.hpp (stream).
//
// Field by field (docs/anthropic-egress.md has the same table for users):
//
//   model                        → `options.model` (the upstream's name), else the client's
//   messages[system|developer]   → top-level `system` (all of them, in order, wherever they are:
//                                  Anthropic has no system role); a string joined with "\n\n",
//                                  or text blocks when a part carries `cache_control`
//   messages[user|assistant]     → `messages`, consecutive same-role messages merged (the API
//                                  requires alternation); a message left without content
//                                  (empty string, no parts) is dropped
//   messages[tool]               → `tool_result` blocks in one user message (consecutive tool
//                                  messages and a following user message merge)
//   assistant tool_calls         → `tool_use` blocks, `input` = the parsed `arguments` ("" →
//                                  {}); arguments that are not a JSON object → 400
//   assistant thinking_blocks    → sent back first, verbatim (LiteLLM's extension; signatures
//                                  are bound to the model, see ingress.md)
//   content parts                → text → text, image_url → image (data: URL → base64 source,
//                                  http(s) → url source), file with a PDF data URL → document;
//                                  input_audio, file_id → 400; `cache_control` on a part kept
//   max_completion_tokens ?? max_tokens ?? options.default_max_tokens → `max_tokens` (required)
//   stop (string | array)        → `stop_sequences`
//   temperature                  → clamped to [0, 1] (OpenAI allows 0–2; values above 1 mean
//                                  "more random" on both sides, so 1 is the closest Anthropic
//                                  has; scaling by ½ would change every ordinary 0–1 setting)
//   top_p; top_k, thinking       → as is (top_k and thinking are Anthropic extensions)
//   tools[function]              → {name, description, input_schema: parameters ??
//                                  {"type":"object"}}; `strict` dropped; other tool types → 400
//   tool_choice                  → auto → auto, required → any, none → none, {function:{name}}
//                                  → {type:tool, name}; parallel_tool_calls:false →
//                                  disable_parallel_tool_use:true
//   safety_identifier ?? user    → metadata.user_id
//   stream                       → `stream`; it and stream_options.include_usage are returned
//                                  for the response side
//   response_format json_schema  → output_config.format {type: json_schema, schema} (Anthropic's
//                                  structured outputs; `name` and `strict` dropped; the answer
//                                  is JSON text, as OpenAI's)
//   rejected (400, param named): n > 1, logprobs: true, top_logprobs, non-empty logit_bias,
//       response_format json_object (no schema to give), audio, modalities with "audio",
//       functions / function_call, web_search_options, role "function"
//   dropped (no Anthropic counterpart; best-effort hints in OpenAI too): seed,
//       presence_penalty, frequency_penalty, metadata, store, service_tier, prompt_cache_key,
//       reasoning_effort, verbosity, prediction, message `name`, any unknown member (Anthropic
//       rejects unknown members, so forwarding them would turn a tolerated field into a 400)
//
// Numbers are re-serialized by Boost.JSON (0.7 becomes 7E-1: the same JSON number); a body
// with a number out of double range is refused (it would serialize as a non-JSON Infinity).

#include "switchyard/core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

/// What the gateway decides for the Messages request, beyond the client's body.
struct anthropic_request_options {
  /// The upstream's model name (after the experiment's rewrite); "" keeps the client's `model`.
  std::string model{};
  /// `max_tokens` when the client sets neither `max_completion_tokens` nor `max_tokens`.
  std::int64_t default_max_tokens = 4096;
};

/// A translated request: the Messages body, and what the response side must remember.
struct anthropic_chat_request {
  std::string body;            // the Messages JSON, compact, members in a fixed order
  bool stream = false;         // the client asked `stream: true`
  bool include_usage = false;  // the client asked `stream_options.include_usage: true`
};

/// Translates an OpenAI chat completions body into an Anthropic Messages body. Invalid JSON, a
/// wrong type or an unsupported feature gives `errc::invalid_request` with the offending field
/// in `param` (e.g. `messages[2].tool_calls[0].function.arguments`). Pure.
result<anthropic_chat_request> translate_chat_request(std::string_view chat_body,
                                                      const anthropic_request_options& options);

}  // namespace switchyard
