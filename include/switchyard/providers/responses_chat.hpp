#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/core/token_usage.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

// The Responses API (`POST /v1/responses`) translated to and from OpenAI chat completions, for
// upstreams that only speak chat (llama.cpp, Ollama, LM Studio, vLLM without Responses, and the
// Anthropic translation, which composes with this one). Pure: strings in, strings out.
//
// The stateless subset is translated; what needs OpenAI-side state or OpenAI-hosted execution
// is refused with `errc::invalid_request` naming the offending `param`:
// - `store: true` (explicit). `store` defaults to true in the API, but no client that sends
//   nothing expects storage it never asked for, and the official SDKs (openai-node, the AI SDK)
//   leave it out unless the user sets it, so refusing an absent `store` would refuse every
//   default client. Absent / null / false: translated, nothing is stored, the Response echoes
//   `store: false`.
// - `previous_response_id`, `conversation`, `prompt` (a stored prompt), `background: true`,
//   `item_reference` input items (the AI SDK sends them for earlier output items unless its
//   `store` provider option is false), non-empty `context_management`.
// - built-in tools (web_search*, file_search, computer*, code_interpreter, image_generation, mcp,
//   local_shell, shell, apply_patch, tool_search, …) and tool choices naming them;
//   `top_logprobs` > 0 (output logprobs are not translated); an `input_image` given only by
//   `file_id` (chat has no image file ids) and an `input_file` given by `file_url`.
//
// Mappings (Responses → chat):
// - `instructions` → a leading `system` message (or `responses_request_options::instructions`,
//   the gateway's experiment prompt, instead); `developer` and `system` input messages →
//   `system` messages (chat-only servers such as Ollama and llama.cpp do not know `developer`).
// - message content parts: input_text/output_text → text, input_image (URL or data URL) →
//   image_url, input_file (file_data or file_id) → file, refusal → refusal; one text part
//   becomes a plain string.
// - `function_call` / `custom_tool_call` items → `tool_calls` on an assistant message
//   (consecutive calls, and a call right after assistant text, share one message);
//   `function_call_output` / `custom_tool_call_output` → `tool` messages (text output only).
//   `reasoning` items are dropped: chat has no standard way to send reasoning back (DeepSeek's
//   docs say not to).
// - function tools → chat function tools; a `custom` tool (free-form input, e.g. Codex's
//   `apply_patch`) → a function tool of the same name with one required string parameter
//   `input` (its grammar, which chat cannot enforce, is appended to the description); a call of
//   it comes back as a `custom_tool_call` whose `input` is that string.
// - tool_choice (none/auto/required, a function or custom tool by name; `allowed_tools` → its
//   mode with `tools` narrowed to the allowed ones), `parallel_tool_calls` (only with tools:
//   OpenAI refuses it otherwise), `max_output_tokens` → `max_completion_tokens` (or
//   `max_tokens`), temperature, top_p, `reasoning.effort` → `reasoning_effort`,
//   `text.format` (json_schema / json_object) → `response_format`, `text.verbosity` →
//   `verbosity`, user, safety_identifier, prompt_cache_key, service_tier; `stream` → `stream`
//   with `stream_options.include_usage` (so that usage is metered).
// - `metadata` is echoed in the Response, not sent upstream (OpenAI's chat refuses `metadata`
//   without `store`). `include`, `truncation`, `max_tool_calls`, `stream_options` and unknown
//   members are accepted and not forwarded.
//
// Mappings back (chat → Response): see `translate_chat_response` and responses_stream.hpp;
// `reasoning_content` / `reasoning` becomes a reasoning item with one `summary_text` part (the
// AI SDK reads only summaries), a call of a custom tool a `custom_tool_call`. Item ids are
// `msg_`/`rs_`/`fc_`/`ctc_` + the response id's suffix + the output index; a call without an
// upstream id gets `call_…` the same way.

/// Which chat member carries `max_output_tokens`.
enum class max_tokens_field { max_completion_tokens, max_tokens };

/// How a Responses request is turned into a chat request.
struct responses_request_options {
  /// When set, the leading system message instead of the client's `instructions` (the
  /// gateway's experiment prompt). The Response still echoes what the client sent.
  std::optional<std::string> instructions{};
  max_tokens_field max_tokens = max_tokens_field::max_completion_tokens;
};

/// What translating the answer needs from the request and the gateway: one response id for the
/// whole answer (so that the stream and the non-stream forms agree), the clock, and the request
/// fields a Response object repeats.
struct responses_context {
  std::string response_id{};      // "resp_…" (see `response_id_for`)
  std::int64_t created_at = 0;    // unix seconds
  std::int64_t completed_at = 0;  // unix seconds; 0 = `created_at`
  std::string model{};            // echoed as `model`; "" = the model the upstream names
  /// The echoed request fields, in order (instructions, tools, tool_choice, temperature, …),
  /// every one the Response schema requires present. Built by `translate_responses_request`.
  boost::json::object echo{};
  /// Names of the request's `custom` tools: a chat call of one becomes a `custom_tool_call`.
  std::vector<std::string> custom_tools{};
};

/// The chat request, and the context for translating its answer.
struct translated_request {
  std::string body;  // the chat completions request body (JSON)
  bool stream = false;
  /// `echo`, `model` (the requested one) and `custom_tools` filled; `response_id` and the clock
  /// are the caller's to set.
  responses_context context;
};

/// Token counts of a Response's `usage`, read from the chat usage object.
struct responses_usage {
  token_usage tokens{};               // input / output / total
  std::int64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens
  std::int64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens
};

/// Translates a `POST /v1/responses` body into a chat completions body (see the mapping above).
/// Independent of whitespace and member order; invalid or untranslatable input gives
/// `errc::invalid_request` with the offending `param`.
result<translated_request> translate_responses_request(
    std::string_view body, const responses_request_options& options = {});

/// Translates a chat completion (non-stream answer) into a Response object: output items
/// (reasoning from `reasoning_content`/`reasoning`, the message with `output_text` and
/// `refusal` parts, function and custom tool calls), status `completed`, or `incomplete` with
/// `incomplete_details.reason` `max_output_tokens` (finish_reason `length`) or `content_filter`,
/// usage (zeros when the upstream sent none: SDKs require the object). A body that is not a chat
/// completion, or carries an `error`, is an `errc::upstream_broken` error.
result<std::string> translate_chat_response(std::string_view chat_body,
                                            const responses_context& context);

/// A Response id for the gateway request `request_id`: "resp_" followed by its letters, digits,
/// '-' and '_' (other bytes dropped), at most 64 of them.
std::string response_id_for(std::string_view request_id);

}  // namespace switchyard
