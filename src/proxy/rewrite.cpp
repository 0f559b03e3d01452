#include "switchyard/proxy/rewrite.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>

namespace switchyard {

namespace {

template <class Keys>
bool named(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::string* set_value(const body_edit& e, std::string_view key) {
  for (const auto& [k, v] : e.set) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

// Chat messages with the system prompt first: inserted, or in place of messages[0].
void append_messages(std::string& out, std::string_view body, const request_fields& f,
                     std::size_t value_begin, std::size_t value_end, const body_edit& e) {
  out += R"([{"role":"system","content":")";
  out += e.system_message;
  out += "\"}";
  std::size_t rest = value_begin + 1;  // after '['
  if (e.replace_system && f.first_message_system) {
    // Drop messages[0]: continue at messages[1], or close the array when it was the only one.
    rest = f.second_message_begin ? f.second_message_begin : value_end - 1;
  }
  std::string_view tail = body.substr(rest, value_end - rest);
  std::size_t first = tail.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && tail[first] != ']') {
    out.push_back(',');
  }
  out.append(tail);
}

// Messages: the top-level `system` with the prompt (`e.system_message`) first. `value_begin`,
// `value_end`: the client's `system` value, when there is one.
void append_system(std::string& out, std::string_view body, const request_fields& f,
                   std::size_t value_begin, std::size_t value_end, const body_edit& e) {
  using form = request_fields::system_form;
  if (e.replace_system || f.system == form::none) {
    out.push_back('"');
    out += e.system_message;
    out.push_back('"');
    return;
  }
  out += R"([{"type":"text","text":")";
  out += e.system_message;
  out += "\"}";
  const std::string_view client = body.substr(value_begin, value_end - value_begin);
  if (f.system == form::string) {
    out += R"(,{"type":"text","text":)";
    out.append(client);  // the client's string token, escapes as sent
    out += "}]";
    return;
  }
  // Blocks: the client's array after its '[' (its blocks byte for byte, cache_control kept).
  std::string_view tail = client.substr(1);
  std::size_t first = tail.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && tail[first] != ']') {
    out.push_back(',');
  }
  out.append(tail);
}

}  // namespace

std::optional<std::pair<std::string_view, std::string>> messages_param(endpoint ep,
                                                                      std::string_view key,
                                                                      std::string_view json) {
  static constexpr std::array<std::string_view, 9> messages_keys = {
      "temperature", "top_p",       "top_k", "max_tokens",  "stop_sequences",
      "thinking",    "tool_choice", "tools", "service_tier"};
  static constexpr std::array<std::string_view, 3> count_keys = {"thinking", "tool_choice",
                                                                 "tools"};
  if (ep == endpoint::count_tokens) {
    if (named(count_keys, key)) {
      return std::pair{key, std::string(json)};
    }
    return std::nullopt;
  }
  if (named(messages_keys, key)) {
    return std::pair{key, std::string(json)};
  }
  if (key == "max_completion_tokens") {
    return std::pair{std::string_view("max_tokens"), std::string(json)};
  }
  if (key == "stop") {
    std::string v(json);
    if (!v.empty() && v.front() == '"') {
      v = "[" + v + "]";  // OpenAI's string form; Anthropic takes a list
    }
    return std::pair{std::string_view("stop_sequences"), std::move(v)};
  }
  return std::nullopt;
}

std::string apply_edit(std::string_view body, const request_fields& f, const body_edit& e) {
  std::string out;
  apply_edit_to(out, body, f, e);
  return out;
}

void apply_edit_to(std::string& out, std::string_view body, const request_fields& f,
                   const body_edit& e, std::size_t extra_capacity) {
  // An upper bound of the result: the body, the new texts, and each set member's key, quotes,
  // colon and comma; so that appending never reallocates and the padding fits after it.
  std::size_t bound = body.size() + e.system_message.size() + e.prompt.size() + 64 +
                      (e.messages_system ? 64 : 0);  // the text blocks around a Messages system
  for (const auto& [k, v] : e.set) {
    bound += k.size() + v.size() + 4;
  }
  out.clear();
  out.reserve(bound + extra_capacity);
  out.push_back('{');
  bool first = true;
  auto sep = [&] {
    if (!first) {
      out.push_back(',');
    }
    first = false;
  };
  // Keys already replaced (a duplicate key is replaced once). An edit sets a handful of members:
  // on the stack, no allocation.
  boost::container::small_vector<std::string_view, 8> done;
  for (std::size_t i = 0; i < f.members.size(); ++i) {
    const auto& m = f.members[i];
    if (named(e.remove, m.key) || named(done, m.key)) {
      continue;  // removed, or a duplicate key already replaced
    }
    const std::size_t end = f.member_end(body, i);
    const std::string_view head = body.substr(m.begin, m.value_begin - m.begin);  // "key":
    sep();
    if (const auto* v = set_value(e, m.key)) {
      out.append(head);
      out += *v;
      done.push_back(m.key);
    } else if (m.key == "system" && e.messages_system && !e.system_message.empty()) {
      out.append(head);
      append_system(out, body, f, m.value_begin, end, e);
      done.push_back(m.key);
    } else if (m.key == "messages" && !e.system_message.empty() && !e.messages_system) {
      out.append(head);
      append_messages(out, body, f, m.value_begin, end, e);
    } else if (m.key == "prompt" && !e.prompt.empty()) {
      out.append(head);
      out.push_back('"');
      out += e.prompt;
      out.push_back('"');
    } else {
      out.append(body.substr(m.begin, end - m.begin));
    }
  }
  for (const auto& [k, v] : e.set) {
    if (!named(done, k)) {
      sep();
      out.push_back('"');
      out.append(k);
      out += "\":";
      out += v;
    }
  }
  if (e.messages_system && !e.system_message.empty() && !named(done, "system")) {
    sep();  // no client `system`: the prompt is the system prompt
    out += R"("system":)";
    append_system(out, body, f, 0, 0, e);
  }
  out.push_back('}');
}

std::optional<std::string> usage_stream_options(std::string_view body, const request_fields& f) {
  if (!f.stream || f.include_usage) {
    return std::nullopt;
  }
  const auto* m = f.find("stream_options");
  if (!m || !f.has_stream_options) {
    return std::string(R"({"include_usage":true})");
  }
  // The client set other options (or include_usage: false): keep them, turn usage on.
  std::size_t i = static_cast<std::size_t>(m - f.members.data());
  boost::system::error_code ec;
  auto v =
      boost::json::parse(body.substr(m->value_begin, f.member_end(body, i) - m->value_begin), ec);
  if (ec || !v.is_object()) {
    return std::string(R"({"include_usage":true})");
  }
  v.as_object()["include_usage"] = true;
  return boost::json::serialize(v);
}

}  // namespace switchyard
