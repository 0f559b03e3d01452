#pragma once

#include "switchyard/core/api_kind.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/recycled_string.hpp"
#include "switchyard/proxy/messages_event.hpp"
#include "switchyard/proxy/stream_event.hpp"
#include "switchyard/proxy/usage_scanner.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

class response_translator;
struct response_translation;

/// Watches an upstream response body on its way to the client. For SSE it decides what may be
/// forwarded now (whole event blocks only, so a broken upstream never leaves half an event in
/// front of the final error event), classifies each event with a real JSON parse (output,
/// usage, errors) and, when asked, removes what the gateway itself injected (the usage-only
/// chunk and `"usage": null` members); every other byte goes out exactly as the upstream sent
/// it, comments and keep-alives included. For other bodies it forwards everything at once and
/// finds the top-level `usage` wherever it sits.
///
/// The dialect is the API of the upstream's answer: chat (and completions) chunks are read by
/// `classify_event`, Responses events by `classify_responses_event` (usage from the terminal
/// event; the hold kept by `response.created`/`in_progress`), Messages events by H3's
/// classifier. In translation mode (`translate`) every complete upstream event goes through a
/// `response_translator` and only its output reaches `ready()`; a non-SSE body is gathered
/// whole (bounded) and translated by `finish_translation`.
class response_meter {
 public:
  response_meter(bool sse, std::size_t max_event_bytes, api_kind dialect = api_kind::chat);
  ~response_meter();
  response_meter(const response_meter&) = delete;
  response_meter& operator=(const response_meter&) = delete;

  /// Translates the upstream's answer for the client (before the first `feed`).
  void translate(const response_translation& t);
  bool translating() const noexcept { return translation_ != nullptr; }
  /// Translation mode, non-SSE: the whole body has been fed; translates it into `ready()`.
  /// Errors: errc::upstream_broken (not what the upstream's API answers, or too large).
  result<void> finish_translation();
  /// Translation mode, SSE: the upstream body ended cleanly. Ends the client's stream (see
  /// response_translator::finish); the error when it did not complete.
  std::optional<error> end_translated_stream();
  /// Ends the client's stream after gateway failure `e` (after the stream started): the
  /// translator's failure in translation mode; in a Responses pass-through stream that has not
  /// ended, `error` + `response.failed`; in a Messages stream Anthropic's error event; the chat
  /// error event otherwise. Into `ready()`.
  void fail_stream(const error& e);
  /// Translation mode: the upstream's stream failed in-band (e.g. an overloaded error event).
  std::optional<error> translation_failure() const;

  api_kind dialect() const noexcept { return dialect_; }

  /// Takes the next body bytes; afterwards `ready()` holds what may go to the client.
  result<void> feed(std::string_view chunk, simdjson::ondemand::parser& parser);

  /// Bytes to forward; the caller clears it once written.
  std::string& ready() noexcept { return *ready_; }

  /// Moves bytes held back for an incomplete event into `ready()` (the upstream ended cleanly);
  /// in translation mode the incomplete event is ended and translated.
  void release_held();

  /// Call at the end of the body (non-SSE) to read `usage`.
  void finish(simdjson::ondemand::parser& parser);

  /// The gateway asked the upstream for usage the client did not ask for: drop the usage-only
  /// chunk and the `"usage": null` members so the client sees the stream it asked for.
  void strip_usage(bool on) noexcept { strip_usage_ = on; }

  /// The API the upstream's body speaks (chat by default): a Messages body is classified by
  /// `classify_messages_event` (proxy/messages_event.hpp) and its usage read with Anthropic's
  /// names.
  void dialect(api_kind api) noexcept { dialect_ = api; }

  bool sse() const noexcept { return sse_; }
  /// An event carried output (a token, text, reasoning, a refusal, a tool call, a finish).
  bool saw_content() const noexcept { return saw_content_; }
  /// An event ended the stream hold: output, or anything that is not a chunk without output
  /// (an error event, something unparsable), which the client should see rather than wait.
  bool hold_released() const noexcept { return hold_released_; }
  bool saw_done() const noexcept { return saw_done_; }  // `data: [DONE]`
  std::uint64_t events() const noexcept { return events_; }
  const std::optional<token_usage>& usage() const noexcept { return usage_; }
  /// Bytes held back because their event is not complete yet.
  std::size_t held_bytes() const noexcept { return held_->size(); }

 private:
  // What the relay does with one event's bytes.
  enum class verdict { forward, drop, edit };
  verdict on_event(sse_event& e, simdjson::ondemand::parser& parser, std::string& edited);
  void on_responses_event(sse_event& e, simdjson::ondemand::parser& parser);
  result<void> feed_translated(std::string_view chunk);
  // Appends stream bytes [from, to) from held_ (which starts at held_base_) and `chunk`.
  void forward(std::uint64_t from, std::uint64_t to, std::string_view chunk,
               std::uint64_t chunk_base);
  void forward_edited(const sse_event& e, std::string_view edited, std::string_view chunk,
                      std::uint64_t chunk_base);

  verdict on_messages_event(const sse_event& e, simdjson::ondemand::parser& parser);

  bool sse_;
  api_kind dialect_;
  std::size_t max_event_bytes_;
  bool strip_usage_ = false;
  messages_usage messages_usage_;  // a Messages stream's counts, over its events
  sse_parser parser_;
  std::vector<sse_event> events_buffer_;
  // The byte buffers are recycled per thread (a response reuses the capacity of the ones
  // before it instead of allocating its own).
  recycled_string held_;         // SSE bytes after the last complete block
  recycled_string edited_;       // an event with the injected `"usage": null` cut (reused)
  std::uint64_t held_base_ = 0;  // stream offset of held_'s first byte
  recycled_string ready_;        // bytes ready for the client
  usage_scanner body_usage_;     // non-SSE
  bool saw_content_ = false;
  bool hold_released_ = false;
  bool saw_done_ = false;
  std::uint64_t events_ = 0;
  std::optional<token_usage> usage_;
  // Responses pass-through: what a gateway failure event needs.
  std::string response_id_;
  std::string response_model_;
  std::int64_t response_created_ = 0;
  std::uint64_t sequence_base_ = 0;    // the sequence number after the last one read…
  std::uint64_t sequence_events_ = 0;  // …and `events_` then (events since count on)
  bool terminal_ = false;              // a terminal Responses event went by
  const response_translation* translation_ = nullptr;  // the request's; outlives the meter
  std::unique_ptr<response_translator> translator_;   // SSE in translation mode
};

}  // namespace switchyard
