#include "switchyard/providers/anthropic_response.hpp"

#include "anthropic_detail.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace {

namespace json = boost::json;
using namespace providers_detail;

error malformed(std::string what) {
  return make_error(errc::upstream_broken, "upstream sent an invalid Messages response: " + what);
}

struct message_parts {
  std::string text;
  std::string reasoning;
  json::array thinking_blocks;
  json::array tool_calls;
};

result<message_parts> read_content(const json::array& content) {
  message_parts p;
  for (const auto& v : content) {
    if (!v.is_object()) {
      return malformed("a content block is not an object");
    }
    const auto& b = v.get_object();
    const std::string_view type = string_at(b, "type");
    if (type == "text") {
      p.text += string_at(b, "text");
    } else if (type == "tool_use") {
      const auto* input = b.if_contains("input");
      json::object fn;
      fn["name"] = string_at(b, "name");
      fn["arguments"] = input != nullptr ? json::serialize(*input) : std::string("{}");
      json::object call;
      call["id"] = string_at(b, "id");
      call["type"] = "function";
      call["function"] = std::move(fn);
      p.tool_calls.push_back(std::move(call));
    } else if (type == "thinking") {
      p.reasoning += string_at(b, "thinking");
      p.thinking_blocks.push_back(v);
    } else if (type == "redacted_thinking") {
      p.thinking_blocks.push_back(v);
    }
  }
  return p;
}

}  // namespace

std::string_view chat_finish_reason(std::string_view stop_reason) noexcept {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "tool_use") {
    return "tool_calls";
  }
  if (stop_reason == "refusal") {
    return "content_filter";
  }
  return "stop";  // end_turn, stop_sequence, pause_turn and reasons added later
}

std::string chat_completion_id(std::string_view message_id) {
  if (message_id.starts_with("msg_")) {
    message_id.remove_prefix(4);
  }
  return "chatcmpl-" + std::string(message_id.empty() ? "anthropic" : message_id);
}

void append_chat_usage(std::string& out, const anthropic_usage& u) {
  const token_usage t = u.openai();
  out += "{\"prompt_tokens\":" + std::to_string(t.prompt_tokens);
  out += ",\"completion_tokens\":" + std::to_string(t.completion_tokens);
  out += ",\"total_tokens\":" + std::to_string(t.total_tokens);
  out +=
      ",\"prompt_tokens_details\":{\"cached_tokens\":" + std::to_string(u.cache_read_input_tokens) +
      "}";
  out +=
      ",\"completion_tokens_details\":{\"reasoning_tokens\":" + std::to_string(u.thinking_tokens) +
      "}";
  out += ",\"cache_read_input_tokens\":" + std::to_string(u.cache_read_input_tokens);
  out += ",\"cache_creation_input_tokens\":" + std::to_string(u.cache_creation_input_tokens);
  out += "}";
}

result<chat_response> translate_messages_response(std::string_view messages_body,
                                                  const chat_response_context& context) {
  auto parsed = parse_json(messages_body);
  if (!parsed || !parsed->is_object()) {
    return malformed("not a JSON object");
  }
  const auto& m = parsed->get_object();
  if (string_at(m, "type") != "message") {
    return malformed("type is not \"message\"");
  }
  const auto* content = m.if_contains("content");
  if (content == nullptr || !content->is_array()) {
    return malformed("content is not an array");
  }
  auto parts = read_content(content->get_array());
  if (!parts) {
    return parts.error();
  }
  chat_response r;
  if (const auto* u = m.if_contains("usage"); u != nullptr && u->is_object()) {
    update_usage(u->get_object(), r.usage);
  }
  r.finish_reason = chat_finish_reason(string_at(m, "stop_reason"));

  json::object message;
  message["role"] = "assistant";
  if (parts->text.empty() && !parts->tool_calls.empty()) {
    message["content"] = nullptr;
  } else {
    message["content"] = parts->text;
  }
  if (context.reasoning && !parts->reasoning.empty()) {
    message["reasoning_content"] = parts->reasoning;
  }
  if (!parts->thinking_blocks.empty()) {
    message["thinking_blocks"] = std::move(parts->thinking_blocks);
  }
  if (!parts->tool_calls.empty()) {
    message["tool_calls"] = std::move(parts->tool_calls);
  }
  json::object choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = r.finish_reason;

  json::object out;
  out["id"] = chat_completion_id(string_at(m, "id"));
  out["object"] = "chat.completion";
  out["created"] = context.created;
  out["model"] = context.model.empty() ? string_at(m, "model") : std::string_view(context.model);
  out["choices"] = json::array{std::move(choice)};
  r.body = json::serialize(out);
  r.body.pop_back();  // the closing brace: usage goes last, in append_chat_usage's fixed order
  r.body += ",\"usage\":";
  append_chat_usage(r.body, r.usage);
  r.body += "}";
  return r;
}

}  // namespace switchyard
