#include "switchyard/proxy/response_meter.hpp"

#include "switchyard/proxy/responses_event.hpp"
#include "switchyard/proxy/translation.hpp"

#include "switchyard/providers/anthropic_errors.hpp"

namespace switchyard {

namespace {

// A non-stream answer is translated whole: bounded, as every buffer.
constexpr std::size_t max_translated_body = 32u << 20;

}  // namespace

response_meter::response_meter(bool sse, std::size_t max_event_bytes, api_kind dialect)
    : sse_(sse), dialect_(dialect), max_event_bytes_(max_event_bytes), parser_(max_event_bytes) {}

response_meter::~response_meter() = default;

void response_meter::translate(const response_translation& t) {
  translation_ = &t;
  if (sse_) {
    translator_ = std::make_unique<response_translator>(t, max_event_bytes_);
  }
}

std::optional<error> response_meter::translation_failure() const {
  return translator_ ? translator_->failure() : std::nullopt;
}

result<void> response_meter::feed_translated(std::string_view chunk) {
  if (!sse_) {
    if (held_->size() + chunk.size() > max_translated_body) {
      return make_error(errc::upstream_broken, "the upstream's answer is larger than " +
                                                   std::to_string(max_translated_body >> 20) +
                                                   " MiB, the most the gateway translates");
    }
    held_->append(chunk);
    return {};
  }
  events_buffer_.clear();
  auto boundary = parser_.feed(chunk, events_buffer_);
  if (!boundary) {
    return boundary.error();
  }
  for (auto& e : events_buffer_) {
    ++events_;
    translator_->feed(e.event, e.data, *ready_);
  }
  saw_content_ = translator_->output_started();
  // The hold ends with output, or with an in-band failure the relay does not retry.
  hold_released_ = saw_content_ || translator_->failure().has_value();
  if (auto u = translator_->usage()) {
    usage_ = u;
  }
  // Only the size of an incomplete event matters here (the hold's budget, the end of the body).
  if (*boundary == std::string_view::npos) {
    held_->append(chunk);
  } else {
    held_->assign(chunk.substr(*boundary));
  }
  return {};
}

result<void> response_meter::finish_translation() {
  auto r = translate_response_body(*translation_, *held_);
  held_->clear();
  if (!r) {
    return r.error();
  }
  ready_->assign(r->body);
  usage_ = r->usage;
  return {};
}

void response_meter::release_held() {
  if (translation_) {
    // The upstream ended cleanly mid-event: end the event as a blank line would.
    (void)feed_translated("\n\n");
    held_->clear();
    return;
  }
  ready_->append(*held_);
  held_base_ += held_->size();
  held_->clear();
}

std::optional<error> response_meter::end_translated_stream() {
  if (!translator_) {
    return std::nullopt;
  }
  auto e = translator_->finish(*ready_);
  if (auto u = translator_->usage()) {
    usage_ = u;
  }
  return e;
}

void response_meter::fail_stream(const error& e) {
  if (translator_) {
    translator_->fail(e, *ready_);
    return;
  }
  if (dialect_ == api_kind::responses) {
    if (!terminal_) {
      const std::uint64_t next = sequence_base_ + (events_ - sequence_events_);
      ready_->append(responses_failure_events(
          {.response_id = response_id_, .model = response_model_, .created_at = response_created_},
          next, e));
    }
    return;
  }
  if (dialect_ == api_kind::messages) {
    // A Messages stream passed through (its client speaks Messages): Anthropic's error event.
    ready_->append(anthropic_error_event(e));
    return;
  }
  ready_->append(error_event(e));
}

result<void> response_meter::feed(std::string_view chunk, simdjson::ondemand::parser& parser) {
  if (translation_) {
    return feed_translated(chunk);
  }
  if (!sse_) {
    ready_->append(chunk);  // (usage is only injected into streams)
    body_usage_.feed(chunk);
    return {};
  }
  const std::uint64_t chunk_base = parser_.offset();
  events_buffer_.clear();
  auto boundary = parser_.feed(chunk, events_buffer_);
  if (!boundary) {
    return boundary.error();
  }
  std::uint64_t cursor = held_base_;  // everything before it went out already
  for (auto& e : events_buffer_) {
    switch (on_event(e, parser, *edited_)) {
      case verdict::forward:
        continue;  // goes out with the bytes around it
      case verdict::drop:
        forward(cursor, e.begin, chunk, chunk_base);
        break;
      case verdict::edit:
        forward(cursor, e.begin, chunk, chunk_base);
        forward_edited(e, *edited_, chunk, chunk_base);
        break;
    }
    cursor = e.end;
  }
  if (*boundary == std::string_view::npos) {
    // No block ended in this chunk (so no event did either): it waits for the end of its event.
    held_->append(chunk);
    return {};
  }
  const std::uint64_t block_end = chunk_base + *boundary;
  forward(cursor, block_end, chunk, chunk_base);
  held_->assign(chunk.substr(*boundary));
  held_base_ = block_end;
  return {};
}

void response_meter::forward(std::uint64_t from, std::uint64_t to, std::string_view chunk,
                             std::uint64_t chunk_base) {
  if (from >= to) {
    return;
  }
  if (from < chunk_base) {  // the start lies in held_
    const auto h_from = static_cast<std::size_t>(from - held_base_);
    const auto h_to = static_cast<std::size_t>(std::min(to, chunk_base) - held_base_);
    ready_->append(std::string_view(*held_).substr(h_from, h_to - h_from));
    from = chunk_base;
  }
  if (from < to) {
    ready_->append(chunk.substr(static_cast<std::size_t>(from - chunk_base),
                                static_cast<std::size_t>(to - from)));
  }
}

void response_meter::forward_edited(const sse_event& e, std::string_view edited,
                                    std::string_view chunk, std::uint64_t chunk_base) {
  if (e.data_lines == 1) {
    // The data is verbatim on its one line: splice, keeping every other byte of the block.
    forward(e.begin, e.data_offset, chunk, chunk_base);
    ready_->append(edited);
    forward(e.data_offset + e.data.size(), e.end, chunk, chunk_base);
    return;
  }
  // Multi-line data: write the event anew, one `data:` line per line of the edited JSON.
  if (!e.event.empty()) {
    ready_->append("event: ").append(e.event).append("\n");
  }
  std::string_view rest = edited;
  for (;;) {
    const auto nl = rest.find('\n');
    ready_->append("data: ").append(rest.substr(0, nl)).append("\n");
    if (nl == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(nl + 1);
  }
  ready_->append("\n");
}

response_meter::verdict response_meter::on_event(sse_event& e, simdjson::ondemand::parser& parser,
                                                 std::string& edited) {
  ++events_;
  if (dialect_ == api_kind::messages) {
    return on_messages_event(e, parser);
  }
  if (e.data == "[DONE]") {
    saw_done_ = true;
    hold_released_ = true;
    return verdict::forward;
  }
  if (dialect_ == api_kind::responses) {
    on_responses_event(e, parser);
    return verdict::forward;  // relayed as sent
  }
  // After the first output only usage matters. Without stripping, an event that cannot carry
  // token counts needs no parse; with it, one that cannot name `usage` at all.
  if (saw_content_ && !(strip_usage_ ? may_mention_usage(e.data) : may_count_tokens(e.data))) {
    return verdict::forward;
  }
  const auto facts = classify_event(
      parser, simdjson::padded_string_view(e.data.data(), e.data.size(), e.data.capacity()));
  if (facts.output) {
    saw_content_ = true;
  }
  if (!facts.keeps_hold()) {
    hold_released_ = true;
  }
  if (facts.usage) {
    usage_ = facts.usage;
  }
  if (!strip_usage_) {
    return verdict::forward;
  }
  if (facts.usage_only) {
    return verdict::drop;
  }
  if (!facts.null_usage.empty()) {
    without_null_usage(e.data, facts, edited);
    return verdict::edit;
  }
  return verdict::forward;
}

response_meter::verdict response_meter::on_messages_event(const sse_event& e,
                                                          simdjson::ondemand::parser& parser) {
  // After the first output only usage matters, and the text deltas (most events) carry none:
  // their name says so without a parse (Anthropic names every event after its type).
  if (saw_content_ && e.event == "content_block_delta") {
    return verdict::forward;
  }
  const auto facts = classify_messages_event(
      parser, simdjson::padded_string_view(e.data.data(), e.data.size(), e.data.capacity()),
      messages_usage_);
  if (facts.output) {
    saw_content_ = true;
  }
  if (!facts.keeps_hold()) {
    hold_released_ = true;
  }
  if (facts.usage) {
    usage_ = facts.usage;
  }
  return verdict::forward;  // nothing is injected into a Messages stream
}

void response_meter::on_responses_event(sse_event& e, simdjson::ondemand::parser& parser) {
  // After the first output only the terminal event's usage matters (sequence numbers are
  // counted on from the last one read).
  if (saw_content_ && !may_mention_usage(e.data)) {
    return;
  }
  auto r = classify_responses_event(
      parser, simdjson::padded_string_view(e.data.data(), e.data.size(), e.data.capacity()));
  const auto& facts = r.facts;
  if (facts.output) {
    saw_content_ = true;
  }
  if (!facts.keeps_hold()) {
    hold_released_ = true;
  }
  if (facts.usage) {
    usage_ = facts.usage;
  }
  if (r.terminal) {
    terminal_ = true;
    saw_done_ = true;
  }
  if (response_id_.empty() && !r.response_id.empty()) {
    response_id_ = std::move(r.response_id);
    response_model_ = std::move(r.model);
    response_created_ = r.created_at;
  }
  if (r.sequence_number) {
    sequence_base_ = *r.sequence_number + 1;
    sequence_events_ = events_;
  }
}

void response_meter::finish(simdjson::ondemand::parser& parser) {
  if (!sse_ && !translation_) {
    usage_ = dialect_ == api_kind::messages ? body_usage_.finish(parser, read_messages_usage)
                                            : body_usage_.finish(parser);
  }
}

}  // namespace switchyard
