// The `input` items of a Responses request → chat messages (see responses_chat.hpp).

#include "responses_object.hpp"
#include "responses_request_detail.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace switchyard::responses_request_detail {
using responses_detail::custom_arguments;
using responses_detail::string_member;
using responses_detail::view;

namespace {

/// Chat content from a list of text parts: one part → a string, several → text parts.
json::value text_content(json::array parts) {
  if (parts.size() == 1) {
    return parts[0].as_object()["text"];
  }
  return parts;
}

bool all_text(const json::array& parts) {
  for (const auto& p : parts) {
    if (p.as_object().at("type").as_string() != "text") {
      return false;
    }
  }
  return true;
}

/// One Responses content part → a chat content part, for a message of role `role`.
result<json::object> content_part(const json::value& v, std::string_view role,
                                  std::string_view param) {
  auto o = object_at(v, param);
  if (!o) {
    return o.error();
  }
  const json::object& part = **o;
  auto type = required_string(part, "type", member(param, "type"));
  if (!type) {
    return type.error();
  }
  const std::string_view t = view(**type);
  if (t == "input_text" || t == "output_text" || t == "text") {
    auto text = required_string(part, "text", member(param, "text"));
    if (!text) {
      return text.error();
    }
    return json::object{{"type", "text"}, {"text", **text}};
  }
  if (t == "refusal" && role == "assistant") {
    auto refusal = required_string(part, "refusal", member(param, "refusal"));
    if (!refusal) {
      return refusal.error();
    }
    return json::object{{"type", "refusal"}, {"refusal", **refusal}};
  }
  if (role != "user" && role != "tool") {
    return invalid("content part type '" + std::string(t) + "' is not allowed in a '" +
                       std::string(role) + "' message",
                   member(param, "type"));
  }
  if (t == "input_image") {
    auto url = optional_string(part, "image_url", member(param, "image_url"));
    if (!url) {
      return url.error();
    }
    if (*url == nullptr) {
      return invalid(
          "input_image needs 'image_url' on this route (a 'file_id' needs OpenAI's file "
          "storage)",
          member(param, "image_url"));
    }
    json::object image{{"url", **url}};
    if (const auto* d = string_member(part, "detail");
        d != nullptr && (*d == "low" || *d == "high" || *d == "auto")) {
      image["detail"] = *d;
    }
    return json::object{{"type", "image_url"}, {"image_url", std::move(image)}};
  }
  if (t == "input_file") {
    if (present(part, "file_url")) {
      return invalid("input_file by 'file_url' cannot be translated to chat completions",
                     member(param, "file_url"));
    }
    json::object file;
    for (std::string_view key : {"file_data", "file_id", "filename"}) {
      auto s = optional_string(part, key, member(param, key));
      if (!s) {
        return s.error();
      }
      if (*s != nullptr) {
        file[key] = **s;
      }
    }
    if (!file.contains("file_data") && !file.contains("file_id")) {
      return invalid("input_file needs 'file_data' or 'file_id'", member(param, "file_data"));
    }
    return json::object{{"type", "file"}, {"file", std::move(file)}};
  }
  return invalid("content part type '" + std::string(t) + "' cannot be translated",
                 member(param, "type"));
}

/// A message's `content` (a string or a list of parts) → chat content.
result<json::value> message_content(const json::value* content, std::string_view role,
                                    std::string_view param) {
  if (content == nullptr || content->is_null()) {
    return invalid("'" + std::string(param) + "' is required", std::string(param));
  }
  if (content->is_string()) {
    return json::value(content->get_string());
  }
  const auto* list = content->if_array();
  if (list == nullptr) {
    return invalid("'" + std::string(param) + "' must be a string or an array", std::string(param));
  }
  json::array parts;
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto part = content_part((*list)[i], role, at(param, i));
    if (!part) {
      return part.error();
    }
    parts.push_back(std::move(*part));
  }
  if (parts.size() == 1 && all_text(parts)) {
    return text_content(std::move(parts));
  }
  return json::value(std::move(parts));
}

/// Builds the chat `messages` from `instructions` and `input`.
class message_builder {
 public:
  json::array messages;

  void system(std::string_view text) {
    messages.push_back({{"role", "system"}, {"content", text}});
    assistant_open_ = false;
  }

  result<void> item(const json::value& v, std::string_view param) {
    auto o = object_at(v, param);
    if (!o) {
      return o.error();
    }
    const json::object& it = **o;
    auto type = optional_string(it, "type", member(param, "type"));
    if (!type) {
      return type.error();
    }
    const std::string_view t = *type != nullptr ? view(**type) : std::string_view("message");
    if (t == "message") {
      return message(it, param);
    }
    if (t == "function_call" || t == "custom_tool_call") {
      return call(it, t == "custom_tool_call", param);
    }
    if (t == "function_call_output" || t == "custom_tool_call_output") {
      return call_output(it, param);
    }
    if (t == "reasoning") {
      return {};  // dropped: see responses_chat.hpp
    }
    if (t == "item_reference") {
      return invalid(
          "'item_reference' input items need stored responses, which this route does "
          "not keep: send the items themselves (with the AI SDK, set the provider "
          "option store: false)",
          std::string(param));
    }
    return invalid("input item type '" + std::string(t) + "' cannot be translated on this route",
                   member(param, "type"));
  }

 private:
  bool assistant_open_ = false;  // the last message is an assistant one tool calls may join

  result<void> message(const json::object& it, std::string_view param) {
    auto role = required_string(it, "role", member(param, "role"));
    if (!role) {
      return role.error();
    }
    std::string_view r = view(**role);
    if (r != "user" && r != "assistant" && r != "system" && r != "developer") {
      return invalid("role '" + std::string(r) + "' must be user, assistant, system or developer",
                     member(param, "role"));
    }
    if (r == "developer") {
      r = "system";  // chat-only servers (Ollama, llama.cpp) do not know `developer`
    }
    auto content = message_content(it.if_contains("content"), r, member(param, "content"));
    if (!content) {
      return content.error();
    }
    json::object m{{"role", r}};
    // An assistant refusal part goes to chat's own `refusal` member.
    if (auto* parts = content->if_array(); parts != nullptr && r == "assistant") {
      json::array kept;
      for (auto& p : *parts) {
        if (p.as_object().at("type").as_string() == "refusal") {
          m["refusal"] = p.as_object().at("refusal");
        } else {
          kept.push_back(std::move(p));
        }
      }
      if (kept.size() == 1) {
        m["content"] = text_content(std::move(kept));
      } else if (kept.empty()) {
        m["content"] = nullptr;
      } else {
        m["content"] = std::move(kept);
      }
    } else {
      m["content"] = std::move(*content);
    }
    messages.push_back(std::move(m));
    assistant_open_ = r == "assistant";
    return {};
  }

  result<void> call(const json::object& it, bool custom, std::string_view param) {
    auto call_id = required_string(it, "call_id", member(param, "call_id"));
    if (!call_id) {
      return call_id.error();
    }
    auto name = required_string(it, "name", member(param, "name"));
    if (!name) {
      return name.error();
    }
    auto args = required_string(it, custom ? "input" : "arguments",
                                member(param, custom ? "input" : "arguments"));
    if (!args) {
      return args.error();
    }
    json::object tool_call{
        {"id", **call_id},
        {"type", "function"},
        {"function",
         {{"name", **name},
          {"arguments", custom ? json::string(custom_arguments(view(**args))) : **args}}}};
    if (!assistant_open_) {
      messages.push_back({{"role", "assistant"}, {"content", nullptr}});
      assistant_open_ = true;
    }
    json::object& assistant = messages.back().as_object();
    auto* calls = assistant.if_contains("tool_calls");
    if (calls == nullptr) {
      calls = &(assistant["tool_calls"] = json::array{});
    }
    calls->as_array().push_back(std::move(tool_call));
    return {};
  }

  result<void> call_output(const json::object& it, std::string_view param) {
    auto call_id = required_string(it, "call_id", member(param, "call_id"));
    if (!call_id) {
      return call_id.error();
    }
    const auto* output = it.if_contains("output");
    if (output == nullptr || output->is_null()) {
      return invalid("'" + member(param, "output") + "' is required", member(param, "output"));
    }
    json::value content;
    if (output->is_string()) {
      content = output->get_string();
    } else {
      auto c = message_content(output, "tool", member(param, "output"));
      if (!c) {
        return c.error();
      }
      if (const auto* parts = c->if_array(); parts != nullptr && !all_text(*parts)) {
        return invalid("only text tool output can be translated to a chat tool message",
                       member(param, "output"));
      }
      content = std::move(*c);
    }
    messages.push_back({{"role", "tool"}, {"tool_call_id", **call_id}, {"content", content}});
    assistant_open_ = false;
    return {};
  }
};

}  // namespace

result<json::array> translate_input(const json::value& input,
                                    std::optional<std::string_view> system) {
  message_builder mb;
  if (system) {
    mb.system(*system);
  }
  if (const auto* s = input.if_string(); s != nullptr) {
    mb.messages.push_back({{"role", "user"}, {"content", *s}});
  } else if (const auto* items = input.if_array(); items != nullptr) {
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (auto added = mb.item((*items)[i], at("input", i)); !added) {
        return added.error();
      }
    }
  } else {
    return invalid("'input' must be a string or an array of input items", "input");
  }
  return std::move(mb.messages);
}

}  // namespace switchyard::responses_request_detail
