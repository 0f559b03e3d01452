#include "anthropic_messages.hpp"

#include <optional>

namespace switchyard::providers_detail {

namespace {

json::object text_block(std::string_view text) {
  json::object b;
  b["type"] = "text";
  b["text"] = text;
  return b;
}

// `data:<media type>;base64,<payload>` split into its media type and payload.
struct data_url {
  std::string_view media_type;
  std::string_view data;
};

std::optional<data_url> parse_data_url(std::string_view url) {
  constexpr std::string_view scheme = "data:";
  constexpr std::string_view marker = ";base64,";
  if (!url.starts_with(scheme)) {
    return std::nullopt;
  }
  auto at = url.find(marker);
  if (at == std::string_view::npos || at == scheme.size()) {
    return std::nullopt;
  }
  return data_url{url.substr(scheme.size(), at - scheme.size()), url.substr(at + marker.size())};
}

json::object base64_source(const data_url& d) {
  json::object s;
  s["type"] = "base64";
  s["media_type"] = d.media_type;
  s["data"] = d.data;
  return s;
}

result<json::object> image_block(const json::object& part, const std::string& param) {
  const auto* iu = part.if_contains("image_url");
  std::string_view url;
  if (iu != nullptr && iu->is_string()) {
    url = iu->get_string();
  } else if (iu != nullptr && iu->is_object()) {
    url = string_at(iu->get_object(), "url");
  }
  json::object block;
  block["type"] = "image";
  if (auto d = parse_data_url(url)) {
    block["source"] = base64_source(*d);
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    json::object s;
    s["type"] = "url";
    s["url"] = url;
    block["source"] = std::move(s);
  } else {
    return bad("image_url.url must be a base64 data: URL or an http(s) URL",
               member_param(param, "image_url.url"));
  }
  copy_cache_control(part, block);
  return block;
}

result<json::object> file_block(const json::object& part, const std::string& param) {
  const auto* file = part.if_contains("file");
  std::string_view file_data =
      file != nullptr && file->is_object() ? string_at(file->get_object(), "file_data") : "";
  auto d = parse_data_url(file_data);
  if (!d) {
    return bad(
        "only files sent inline as a base64 data: URL (file.file_data) can be forwarded "
        "to this model; file_id is not supported",
        member_param(param, "file"));
  }
  json::object block;
  block["type"] = "document";
  block["source"] = base64_source(*d);
  copy_cache_control(part, block);
  return block;
}

enum class part_use { system, message, tool_result };

// One content part of an OpenAI message → an Anthropic block (appended to `out`).
result<void> append_part(const json::value& v, const std::string& param, part_use use,
                         json::array& out) {
  if (!v.is_object()) {
    return bad("a content part must be an object", param);
  }
  const auto& part = v.get_object();
  const std::string_view type = string_at(part, "type");
  if (type == "text" || type == "refusal") {
    const char* key = type == "text" ? "text" : "refusal";
    const auto* text = part.if_contains(key);
    if (text == nullptr || !text->is_string()) {
      return bad(std::string("a ") + std::string(type) + " part needs a string `" + key + "`",
                 member_param(param, key));
    }
    if (!text->get_string().empty()) {
      json::object b = text_block(text->get_string());
      copy_cache_control(part, b);
      out.push_back(std::move(b));
    }
    return {};
  }
  if (use == part_use::system) {
    return bad("system and developer messages may only contain text parts",
               member_param(param, "type"));
  }
  if (type == "image_url") {
    auto b = image_block(part, param);
    if (!b) {
      return b.error();
    }
    out.push_back(std::move(*b));
    return {};
  }
  if (type == "file" && use == part_use::message) {
    auto b = file_block(part, param);
    if (!b) {
      return b.error();
    }
    out.push_back(std::move(*b));
    return {};
  }
  return bad("content part type '" + std::string(type) + "' is not supported by this model",
             member_param(param, "type"));
}

// A message's `content` (string, parts or null) → blocks appended to `out`.
result<void> append_content(const json::value* content, const std::string& param, part_use use,
                            json::array& out) {
  if (content == nullptr || content->is_null()) {
    return {};
  }
  if (content->is_string()) {
    if (!content->get_string().empty()) {
      out.push_back(text_block(content->get_string()));
    }
    return {};
  }
  if (!content->is_array()) {
    return bad("content must be a string or an array of parts", param);
  }
  const auto& parts = content->get_array();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (auto r = append_part(parts[i], index_param(param, i), use, out); !r) {
      return r;
    }
  }
  return {};
}

result<void> append_tool_calls(const json::value& calls, const std::string& param,
                               json::array& out) {
  if (calls.is_null()) {
    return {};
  }
  if (!calls.is_array()) {
    return bad("tool_calls must be an array", param);
  }
  for (std::size_t i = 0; i < calls.get_array().size(); ++i) {
    const std::string p = index_param(param, i);
    const auto& call = calls.get_array()[i];
    const auto* fn = call.is_object() ? call.get_object().if_contains("function") : nullptr;
    if (fn == nullptr || !fn->is_object()) {
      return bad("a tool call needs a `function` object", member_param(p, "function"));
    }
    const auto& f = fn->get_object();
    const std::string_view id = string_at(call.get_object(), "id");
    const std::string_view name = string_at(f, "name");
    if (id.empty() || name.empty()) {
      return bad("a tool call needs an `id` and a `function.name`", p);
    }
    const auto* args = f.if_contains("arguments");
    json::value input = json::object();
    if (args != nullptr && args->is_string() && !args->get_string().empty()) {
      auto parsed = parse_json(args->get_string());
      if (!parsed || !parsed->is_object()) {
        return bad("function.arguments must be a JSON object serialized as a string",
                   member_param(p, "function.arguments"));
      }
      input = std::move(*parsed);
    } else if (args != nullptr && !args->is_string() && !args->is_null()) {
      return bad("function.arguments must be a string", member_param(p, "function.arguments"));
    }
    json::object b;
    b["type"] = "tool_use";
    b["id"] = id;
    b["name"] = name;
    b["input"] = std::move(input);
    out.push_back(std::move(b));
  }
  return {};
}

// Anthropic turns under construction: consecutive same-role messages merge into one.
struct turns {
  json::array system;
  bool system_blocks = false;  // a system part carries cache_control: keep blocks
  json::array messages;
  std::string last_role;

  void add(std::string_view role, json::array blocks) {
    if (blocks.empty()) {
      return;  // an empty message: nothing to send (Anthropic rejects empty content)
    }
    if (!messages.empty() && last_role == role) {
      auto& content = messages.back().as_object()["content"].as_array();
      for (auto& b : blocks) {
        content.push_back(std::move(b));
      }
      return;
    }
    json::object m;
    m["role"] = role;
    m["content"] = std::move(blocks);
    messages.push_back(std::move(m));
    last_role = role;
  }

  // One plain text block reads better (and is what Anthropic's own examples send) as a string.
  static void simplify(json::object& m) {
    auto& content = m["content"].as_array();
    if (content.size() == 1 && content[0].as_object().size() == 2 &&
        string_at(content[0].as_object(), "type") == "text") {
      json::value text = content[0].as_object()["text"];
      m["content"] = std::move(text);
    }
  }

  json::value system_value() const {
    if (system_blocks) {
      return system;
    }
    std::string joined;
    for (const auto& b : system) {
      if (!joined.empty()) {
        joined += "\n\n";
      }
      joined += string_at(b.as_object(), "text");
    }
    return json::string(joined);
  }
};

result<void> add_message(const json::value& v, std::size_t i, turns& t) {
  const std::string param = index_param("messages", i);
  if (!v.is_object()) {
    return bad("a message must be an object", param);
  }
  const auto& m = v.get_object();
  const std::string_view role = string_at(m, "role");
  const auto* content = m.if_contains("content");
  const std::string content_param = member_param(param, "content");
  json::array blocks;
  if (role == "system" || role == "developer") {
    if (auto r = append_content(content, content_param, part_use::system, blocks); !r) {
      return r;
    }
    for (auto& b : blocks) {
      t.system_blocks = t.system_blocks || b.as_object().contains("cache_control");
      t.system.push_back(std::move(b));
    }
    return {};
  }
  if (role == "user") {
    if (auto r = append_content(content, content_param, part_use::message, blocks); !r) {
      return r;
    }
    t.add("user", std::move(blocks));
    return {};
  }
  if (role == "assistant") {
    if (const auto* thinking = m.if_contains("thinking_blocks");
        thinking != nullptr && thinking->is_array()) {
      for (const auto& b : thinking->get_array()) {
        if (b.is_object()) {
          blocks.push_back(b);  // verbatim: the signature must reach the API unchanged
        }
      }
    }
    if (auto r = append_content(content, content_param, part_use::message, blocks); !r) {
      return r;
    }
    if (const auto* calls = m.if_contains("tool_calls"); calls != nullptr) {
      if (auto r = append_tool_calls(*calls, member_param(param, "tool_calls"), blocks); !r) {
        return r;
      }
    }
    t.add("assistant", std::move(blocks));
    return {};
  }
  if (role == "tool") {
    const std::string_view id = string_at(m, "tool_call_id");
    if (id.empty()) {
      return bad("a tool message needs a `tool_call_id`", member_param(param, "tool_call_id"));
    }
    json::object result;
    result["type"] = "tool_result";
    result["tool_use_id"] = id;
    if (content != nullptr && content->is_string()) {
      result["content"] = content->get_string();
    } else {
      json::array parts;
      if (auto r = append_content(content, content_param, part_use::tool_result, parts); !r) {
        return r;
      }
      result["content"] = std::move(parts);
    }
    json::array one;
    one.push_back(std::move(result));
    t.add("user", std::move(one));
    return {};
  }
  if (role == "function") {
    return bad("the deprecated `function` role is not supported; use tool messages",
               member_param(param, "role"));
  }
  return bad("unknown message role '" + std::string(role) + "'", member_param(param, "role"));
}

}  // namespace

result<chat_turns> translate_messages(const json::array& messages) {
  turns t;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (auto r = add_message(messages[i], i, t); !r) {
      return r.error();
    }
  }
  if (t.messages.empty()) {
    return bad("messages must contain a user or assistant message with content", "messages");
  }
  chat_turns out;
  if (!t.system.empty()) {
    out.system = t.system_value();
  }
  for (auto& m : t.messages) {
    turns::simplify(m.as_object());
  }
  out.messages = std::move(t.messages);
  return out;
}

}  // namespace switchyard::providers_detail
