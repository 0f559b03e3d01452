#pragma once

// Which translation a request needs on its way to one target, and the request/response
// translation itself, composed from the pure translators in providers/ (anthropic_chat,
// anthropic_response, anthropic_stream, responses_chat, responses_stream). Pure: no sockets.
//
// The plan for a client API on an upstream (its `apis:`):
//
//   client API           upstream serves it   else                           else
//   chat                 pass-through         messages → chat→Messages       refused
//   completions          pass-through         refused
//   embeddings           pass-through         refused
//   responses            pass-through         chat → Responses→chat          messages →
//                                                                            Responses→chat→Messages
//   messages             pass-through         refused (no translation from Messages)
//
// A refusal is a 400 invalid_request naming the model, the upstream and the API (param
// `model`), in the client API's error shape (proxy/fail.cpp).

#include "switchyard/config/config.hpp"
#include "switchyard/core/api_kind.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/token_usage.hpp"
#include "switchyard/providers/anthropic_response.hpp"
#include "switchyard/providers/anthropic_stream.hpp"
#include "switchyard/providers/responses_chat.hpp"
#include "switchyard/providers/responses_stream.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// What happens to a request between the client's API and the upstream's.
enum class translation : std::uint8_t {
  none,                   // pass-through: the client's API is the upstream's
  responses_to_chat,      // Responses client, chat upstream
  chat_to_messages,       // chat client, Anthropic upstream
  responses_to_messages,  // Responses client, Anthropic upstream (through chat)
};

/// Stable label for logs.
std::string_view translation_label(translation t) noexcept;

/// The translation for one target, and the endpoint the upstream receives.
struct translation_plan {
  translation kind = translation::none;
  endpoint upstream = endpoint::chat_completions;
  /// The API of the upstream's answer (what the meter reads when passing it through).
  api_kind upstream_api() const noexcept { return endpoint_api(upstream); }
};

/// The plan for a request on client endpoint `client` to upstream `up` for the gateway model
/// `model` (named in the refusal). Errors: 400 invalid_request (param `model`) when `up` neither
/// serves the client's API nor one it translates to. Pure.
result<translation_plan> plan_translation(endpoint client, const upstream_config& up,
                                          std::string_view model);

/// Whether the upstream's error answers are Anthropic's, mapped for an OpenAI-shaped client.
constexpr bool maps_anthropic_errors(translation t) noexcept {
  return t == translation::chat_to_messages || t == translation::responses_to_messages;
}

/// What translating the answer of one target needs, fixed when its request is translated.
struct response_translation {
  translation kind = translation::none;
  chat_response_context chat{};   // Messages → chat (chat_to_messages, responses_to_messages)
  responses_context responses{};  // chat → Responses (responses_to_chat, responses_to_messages)
};

/// The gateway's inputs to a request translation.
struct request_translation_inputs {
  std::string_view upstream_model;      // what the upstream receives as `model`
  std::int64_t default_max_tokens = 4096;  // anthropic: when the client sets none
  std::string_view request_id;          // the Response id is derived from it
  std::int64_t unix_seconds = 0;        // `created` / `created_at`
  /// Chat clients: the gateway injected stream usage the client did not ask for (strip it).
  bool strip_usage = false;
};

/// Translates the client's request body for `plan` (not `none`) into the upstream's body;
/// fills `out` for the response side. Errors: 400 invalid_request with the offending `param`
/// (an untranslatable feature, `store: true` on a translated Responses route…). Pure.
result<std::string> translate_request(const translation_plan& plan, std::string_view body,
                                      const request_translation_inputs& in,
                                      response_translation& out);

/// A translated non-stream answer and what the gateway meters.
struct translated_body {
  std::string body;
  std::optional<token_usage> usage;
};

/// Translates a whole non-stream 2xx answer. A body that is not what the upstream's API
/// answers gives errc::upstream_broken. Pure.
result<translated_body> translate_response_body(const response_translation& t,
                                                std::string_view body);

/// Translates one upstream stream into the client's, event by event (a fresh one per attempt:
/// a retry before any output discards the previous one's state). The output goes to the
/// caller's buffer as complete SSE events.
class response_translator {
 public:
  response_translator(const response_translation& t, std::size_t max_event_bytes);

  /// One complete upstream SSE event (`event` may be "").
  void feed(std::string_view event, std::string_view data, std::string& out);

  /// The upstream body ended. Ends the client's stream properly: nothing more when it
  /// completed; when it was cut (or the upstream's own error ended it) the client's error is
  /// written (chat: the error event; Responses: `error` + `response.failed`), and that error
  /// returned. nullopt = completed.
  std::optional<error> finish(std::string& out);

  /// Ends the client's stream after a gateway failure `e` (the upstream broke off, a deadline
  /// passed): chat → the error event, Responses → `error` + `response.failed`. Nothing when the
  /// stream already ended.
  void fail(const error& e, std::string& out);

  /// Output reached the client's stream (the stream hold may release).
  bool output_started() const noexcept;
  /// The upstream's stream failed in-band (an error event, malformed data): what it said.
  std::optional<error> failure() const;
  /// The counts so far, in the OpenAI view (cache reads/writes kept apart); nullopt before the
  /// upstream reported any.
  std::optional<token_usage> usage() const;

 private:
  void feed_chat(std::string_view chat_sse, std::string& out);
  bool ended() const noexcept;

  translation kind_;
  std::optional<anthropic_to_chat_stream> anthropic_;
  std::optional<chat_to_responses_stream> responses_;
  // Chained (Responses → chat → Messages): the chat chunks between the two translators.
  sse_parser chat_sse_;
  std::vector<sse_event> chat_events_;
  std::string chat_buf_;
  std::optional<error> failure_;
};

}  // namespace switchyard
