#include "switchyard/providers/anthropic_stream.hpp"

#include "anthropic_detail.hpp"
#include "switchyard/core/json_text.hpp"
#include "switchyard/providers/anthropic_errors.hpp"

#include <boost/json.hpp>

#include <array>

namespace switchyard {

namespace {

namespace json = boost::json;
using namespace providers_detail;

// One message has a handful of blocks; a stream announcing more is broken or hostile, and each
// costs a map entry.
constexpr std::size_t max_blocks = 4096;

constexpr std::array<std::string_view, 8> known_events{"message_start",
                                                       "content_block_start",
                                                       "content_block_delta",
                                                       "content_block_stop",
                                                       "message_delta",
                                                       "message_stop",
                                                       "ping",
                                                       "error"};

bool known(std::string_view type) {
  for (auto k : known_events) {
    if (k == type) {
      return true;
    }
  }
  return false;
}

void append_quoted(std::string& out, std::string_view text) {
  out.push_back('"');
  append_json_escaped(out, text);
  out.push_back('"');
}

}  // namespace

anthropic_to_chat_stream::anthropic_to_chat_stream(chat_response_context context)
    : context_(std::move(context)) {}

void anthropic_to_chat_stream::feed(std::string_view event, std::string_view data,
                                    std::string& out) {
  if (phase_ == phase::completed || phase_ == phase::failed) {
    return;
  }
  if (!event.empty() && !known(event)) {
    return;  // a new event type: ignored, as Anthropic's versioning policy asks
  }
  // Event data is small; a stack buffer keeps the parse free of heap allocations mostly.
  std::array<unsigned char, 2048> buffer;
  json::monotonic_resource resource(buffer.data(), buffer.size());
  auto parsed = parse_json(data, &resource);
  if (!parsed || !parsed->is_object()) {
    malformed("the data of a " + std::string(event.empty() ? "message" : event) +
                  " event is not a JSON object",
              out);
    return;
  }
  const auto& object = parsed->get_object();
  std::string_view type = event.empty() ? string_at(object, "type") : event;
  if (!known(type)) {
    return;
  }
  dispatch(type, object, out);
}

void anthropic_to_chat_stream::dispatch(std::string_view type, const json::object& data,
                                        std::string& out) {
  if (type == "ping") {
    out += ": ping\n\n";
    return;
  }
  if (type == "error") {
    on_error(data, out);
    return;
  }
  if (type == "message_start") {
    if (phase_ == phase::awaiting_start) {
      on_message_start(data, out);
    }
    return;  // a repeated message_start changes nothing
  }
  if (phase_ == phase::awaiting_start) {
    malformed(std::string(type) + " before message_start", out);
    return;
  }
  if (type == "content_block_start") {
    on_block_start(data, out);
  } else if (type == "content_block_delta") {
    on_block_delta(data, out);
  } else if (type == "message_delta") {
    on_message_delta(data, out);
  } else if (type == "message_stop") {
    on_message_stop(out);
  }
  // content_block_stop: nothing to say in a chat stream
}

void anthropic_to_chat_stream::on_message_start(const json::object& data, std::string& out) {
  const auto* message = data.if_contains("message");
  if (message == nullptr || !message->is_object()) {
    malformed("message_start without a message object", out);
    return;
  }
  const auto& m = message->get_object();
  id_ = chat_completion_id(string_at(m, "id"));
  prefix_ = "{\"id\":";
  append_quoted(prefix_, id_);
  prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":";
  prefix_ += std::to_string(context_.created);
  prefix_ += ",\"model\":";
  append_quoted(prefix_,
                context_.model.empty() ? string_at(m, "model") : std::string_view(context_.model));
  prefix_ += ",";
  if (const auto* u = m.if_contains("usage"); u != nullptr && u->is_object()) {
    update_usage(u->get_object(), usage_);
  }
  phase_ = phase::streaming;
  delta_chunk(R"({"role":"assistant","content":""})", "", out);
}

void anthropic_to_chat_stream::on_block_start(const json::object& data, std::string& out) {
  const auto index = as_int(data.if_contains("index"));
  const auto* cb = data.if_contains("content_block");
  if (!index || cb == nullptr || !cb->is_object()) {
    malformed("content_block_start without an index and a content_block", out);
    return;
  }
  if (blocks_.size() >= max_blocks && !blocks_.contains(*index)) {
    malformed("too many content blocks", out);
    return;
  }
  const auto& b = cb->get_object();
  const std::string_view type = string_at(b, "type");
  block& entry = blocks_[*index];
  if (type == "text") {
    entry = {block_kind::text, 0};
    if (const std::string_view text = string_at(b, "text"); !text.empty()) {
      scratch_ = "{\"content\":";
      append_quoted(scratch_, text);
      scratch_ += "}";
      output_started_ = true;
      delta_chunk(scratch_, "", out);
    }
  } else if (type == "tool_use") {
    entry = {block_kind::tool, tools_++};
    std::string arguments;
    if (const auto* input = b.if_contains("input");
        input != nullptr && input->is_object() && !input->get_object().empty()) {
      arguments = json::serialize(*input);  // a block that arrives whole (not seen so far)
    }
    scratch_ = "{\"tool_calls\":[{\"index\":" + std::to_string(entry.tool_index) + ",\"id\":";
    append_quoted(scratch_, string_at(b, "id"));
    scratch_ += ",\"type\":\"function\",\"function\":{\"name\":";
    append_quoted(scratch_, string_at(b, "name"));
    scratch_ += ",\"arguments\":";
    append_quoted(scratch_, arguments);
    scratch_ += "}}]}";
    output_started_ = true;
    delta_chunk(scratch_, "", out);
  } else if (type == "thinking") {
    entry = {block_kind::thinking, 0};
    if (const std::string_view text = string_at(b, "thinking");
        !text.empty() && context_.reasoning) {
      scratch_ = "{\"reasoning_content\":";
      append_quoted(scratch_, text);
      scratch_ += "}";
      output_started_ = true;
      delta_chunk(scratch_, "", out);
    }
  } else {
    entry = {block_kind::other, 0};  // redacted_thinking, server tools: nothing to show
  }
}

void anthropic_to_chat_stream::on_block_delta(const json::object& data, std::string& out) {
  const auto index = as_int(data.if_contains("index"));
  const auto* d = data.if_contains("delta");
  if (!index || d == nullptr || !d->is_object()) {
    malformed("content_block_delta without an index and a delta", out);
    return;
  }
  const auto& delta = d->get_object();
  const std::string_view type = string_at(delta, "type");
  if (type == "text_delta") {
    const std::string_view text = string_at(delta, "text");
    if (text.empty()) {
      return;
    }
    scratch_ = "{\"content\":";
    append_quoted(scratch_, text);
    scratch_ += "}";
  } else if (type == "input_json_delta") {
    auto it = blocks_.find(*index);
    const std::string_view partial = string_at(delta, "partial_json");
    if (it == blocks_.end() || it->second.kind != block_kind::tool || partial.empty()) {
      return;
    }
    scratch_ = "{\"tool_calls\":[{\"index\":" + std::to_string(it->second.tool_index) +
               ",\"function\":{\"arguments\":";
    append_quoted(scratch_, partial);
    scratch_ += "}}]}";
  } else if (type == "thinking_delta") {
    const std::string_view text = string_at(delta, "thinking");
    if (text.empty() || !context_.reasoning) {
      return;
    }
    scratch_ = "{\"reasoning_content\":";
    append_quoted(scratch_, text);
    scratch_ += "}";
  } else {
    return;  // signature_delta, citations_delta, new delta types
  }
  output_started_ = true;
  delta_chunk(scratch_, "", out);
}

void anthropic_to_chat_stream::on_message_delta(const json::object& data, std::string& out) {
  if (const auto* u = data.if_contains("usage"); u != nullptr && u->is_object()) {
    update_usage(u->get_object(), usage_);
  }
  const auto* d = data.if_contains("delta");
  if (d == nullptr || !d->is_object()) {
    return;
  }
  const std::string_view stop = string_at(d->get_object(), "stop_reason");
  if (stop.empty() || finish_sent_) {
    return;
  }
  finish_reason_ = std::string(chat_finish_reason(stop));
  finish_sent_ = true;
  output_started_ = true;
  delta_chunk("{}", *finish_reason_, out);
}

void anthropic_to_chat_stream::on_message_stop(std::string& out) {
  if (!finish_sent_) {
    // A stream that completes without a stop_reason still ends its choice, as OpenAI's do.
    finish_reason_ = "stop";
    finish_sent_ = true;
    delta_chunk("{}", *finish_reason_, out);
  }
  if (context_.include_usage) {
    out += "data: ";
    out += prefix_;
    out += "\"choices\":[],\"usage\":";
    append_chat_usage(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  phase_ = phase::completed;
}

void anthropic_to_chat_stream::on_error(const json::object& data, std::string& out) {
  std::string_view type;
  std::string_view message;
  if (const auto* e = data.if_contains("error"); e != nullptr && e->is_object()) {
    type = string_at(e->get_object(), "type");
    message = string_at(e->get_object(), "message");
  }
  const openai_error_kind kind = openai_error_for(type, 0);
  error e = upstream_answer(kind.status,
                            kind.retryable && !output_started_ ? retry_mode::yes : retry_mode::no);
  e.message = message.empty() ? std::string("upstream stream error") : std::string(message);
  fail(std::move(e),
       openai_error_json(type, message.empty() ? "upstream stream error" : message, 0), out);
}

void anthropic_to_chat_stream::delta_chunk(std::string_view delta_json, std::string_view finish,
                                           std::string& out) {
  out += "data: ";
  out += prefix_;
  out += "\"choices\":[{\"index\":0,\"delta\":";
  out += delta_json;
  out += ",\"logprobs\":null,\"finish_reason\":";
  if (finish.empty()) {
    out += "null";
  } else {
    append_quoted(out, finish);
  }
  out += "}]";
  if (context_.include_usage) {
    out += ",\"usage\":null";
  }
  out += "}\n\n";
}

void anthropic_to_chat_stream::fail(error e, std::string_view error_json, std::string& out) {
  out += "data: ";
  out += error_json;
  out += "\n\n";
  failure_ = std::move(e);
  phase_ = phase::failed;
}

void anthropic_to_chat_stream::malformed(std::string_view what, std::string& out) {
  error e = make_error(errc::upstream_broken,
                       "upstream sent a malformed Anthropic stream: " + std::string(what));
  if (!output_started_) {
    e.retry = retry_mode::yes;
  }
  const std::string body = error_body(e);
  fail(std::move(e), body, out);
}

anthropic_to_chat_stream::end anthropic_to_chat_stream::finish() const noexcept {
  switch (phase_) {
    case phase::completed:
      return end::clean;
    case phase::failed:
      return end::failed;
    default:
      return end::cut;
  }
}

}  // namespace switchyard
