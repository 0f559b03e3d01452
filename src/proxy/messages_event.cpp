#include "switchyard/proxy/messages_event.hpp"

namespace switchyard {

namespace {

namespace od = simdjson::ondemand;
using od::json_type;

// `content_block_start`: a block that is output from its start.
bool block_starts_output(od::value block) {
  od::object b;
  if (block.get_object().get(b)) {
    return false;
  }
  std::string_view type;
  std::string_view text;
  bool has_text = false;
  for (auto field : b) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return false;
    }
    if (key == "type") {
      if (v.get_string().get(type)) {
        return false;
      }
    } else if (key == "text" || key == "thinking") {
      has_text = !v.get_string().get(text) && !text.empty();
    }
  }
  if (type == "text" || type == "thinking") {
    return has_text;  // usually "": the deltas carry the text
  }
  return !type.empty();  // tool_use, server_tool_use, redacted_thinking, web results…
}

}  // namespace

void messages_usage::read(od::object& usage) {
  seen = true;
  for (auto field : usage) {
    std::string_view key;
    std::int64_t n = 0;
    if (field.unescaped_key().get(key)) {
      return;
    }
    if (field.value().get_int64().get(n)) {
      continue;  // null (cache counts may be), or an object such as `cache_creation`
    }
    if (key == "input_tokens") {
      input = n;
    } else if (key == "output_tokens") {
      output = n;
    } else if (key == "cache_read_input_tokens") {
      cache_read = n;
    } else if (key == "cache_creation_input_tokens") {
      cache_write = n;
    }
  }
}

token_usage messages_usage::total() const noexcept {
  token_usage u;
  u.prompt_tokens = input + cache_read + cache_write;
  u.completion_tokens = output;
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  u.cache_read_tokens = cache_read;
  u.cache_write_tokens = cache_write;
  return u;
}

token_usage read_messages_usage(od::object& usage) {
  messages_usage m;
  m.read(usage);
  return m.total();
}

event_facts classify_messages_event(od::parser& parser, simdjson::padded_string_view data) {
  messages_usage own;
  return classify_messages_event(parser, data, own);
}

event_facts classify_messages_event(od::parser& parser, simdjson::padded_string_view data,
                                    messages_usage& running) {
  event_facts f;
  od::document doc;
  od::object top;
  if (parser.iterate(data).get(doc) || doc.get_object().get(top)) {
    return f;
  }
  // Members in any order: `type` first in Anthropic's streams, but a parse does not rely on it.
  std::string_view type;
  bool usage_here = false;
  bool block_output = false;
  for (auto field : top) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return event_facts{};
    }
    json_type t{};
    if (v.type().get(t)) {
      return event_facts{};
    }
    if (key == "type") {
      if (t != json_type::string || v.get_string().get(type)) {
        return event_facts{};
      }
    } else if (key == "message" && t == json_type::object) {  // message_start
      od::object msg;
      od::object u;
      if (!v.get_object().get(msg) && !msg.find_field_unordered("usage").get_object().get(u)) {
        running.read(u);
        usage_here = true;
      }
    } else if (key == "usage" && t == json_type::object) {  // message_delta
      od::object u;
      if (!v.get_object().get(u)) {
        running.read(u);
        usage_here = true;
      }
    } else if (key == "content_block") {  // content_block_start
      block_output = block_starts_output(v);
    } else if (key == "error" && t != json_type::null) {
      f.error = true;
    }
  }
  if (!doc.is_alive() || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return event_facts{};  // a parse error on the way, or bytes after the object
  }
  f.object = true;
  if (usage_here) {
    f.usage = running.total();
  }
  if (type == "error") {
    f.error = true;
  } else if (type == "content_block_delta" || type == "message_delta") {
    f.output = true;
  } else if (type == "content_block_start") {
    f.output = block_output;
    f.holdable = !block_output;
  } else if (type == "message_start" || type == "ping" || type == "content_block_stop") {
    f.holdable = true;
  }
  return f;
}

}  // namespace switchyard
