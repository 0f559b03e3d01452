// translate_responses_request: a Responses request → a chat completions request (the mapping
// and what is refused are documented in responses_chat.hpp).

#include "switchyard/providers/responses_chat.hpp"

#include "responses_object.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <string>
#include <utility>

namespace switchyard {
namespace json = boost::json;
using namespace responses_detail;

namespace {

constexpr std::size_t max_json_depth = 64;

error invalid(std::string message, std::string param) {
  return make_error(errc::invalid_request, std::move(message), std::move(param));
}

std::string at(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

std::string member(std::string_view base, std::string_view key) {
  return std::string(base) + "." + std::string(key);
}

/// Boost.JSON reads 1e400 as infinity and would write it back as `Infinity`, which is not JSON:
/// refuse such numbers anywhere in the request. Depth is bounded by the parser's max_depth.
bool all_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& e : v.get_array()) {
        if (!all_finite(e)) {
          return false;
        }
      }
      return true;
    case json::kind::object:
      for (const auto& m : v.get_object()) {
        if (!all_finite(m.value())) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

bool present(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && !v->is_null();
}

/// The string member `key` (absent or null → nullptr); another type is an error.
result<const json::string*> optional_string(const json::object& o, std::string_view key,
                                            std::string_view param) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return nullptr;
  }
  if (!v->is_string()) {
    return invalid("'" + std::string(param) + "' must be a string", std::string(param));
  }
  return &v->get_string();
}

result<const json::string*> required_string(const json::object& o, std::string_view key,
                                            std::string_view param) {
  auto s = optional_string(o, key, param);
  if (s && *s == nullptr) {
    return invalid("'" + std::string(param) + "' is required", std::string(param));
  }
  return s;
}

result<const json::object*> object_at(const json::value& v, std::string_view param) {
  if (const auto* o = v.if_object(); o != nullptr) {
    return o;
  }
  return invalid("'" + std::string(param) + "' must be an object", std::string(param));
}

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

/// Built-in tool types: executed by OpenAI, so they cannot be offered on a translated route.
std::string builtin_refusal(std::string_view type) {
  return "the built-in tool '" + std::string(type) +
         "' runs on OpenAI's side and is not available on this route; only 'function' and "
         "'custom' tools are";
}

struct tools_result {
  json::array chat;  // chat `tools`
  json::array echo;  // the Response's `tools`
  std::vector<std::string> custom;
  std::vector<std::string> names;
};

result<void> add_function_tool(const json::object& t, std::string_view param, tools_result& out) {
  auto name = required_string(t, "name", member(param, "name"));
  if (!name) {
    return name.error();
  }
  auto description = optional_string(t, "description", member(param, "description"));
  if (!description) {
    return description.error();
  }
  json::object fn{{"name", **name}};
  json::object echo{{"type", "function"}, {"name", **name}};
  if (*description != nullptr) {
    fn["description"] = **description;
  }
  echo["description"] = *description != nullptr ? json::value(**description) : nullptr;
  const auto* params = t.if_contains("parameters");
  if (params != nullptr && !params->is_null()) {
    if (!params->is_object()) {
      return invalid("'" + member(param, "parameters") + "' must be an object",
                     member(param, "parameters"));
    }
    fn["parameters"] = *params;
  }
  echo["parameters"] = params != nullptr ? *params : json::value(nullptr);
  const auto* strict = t.if_contains("strict");
  if (strict != nullptr && !strict->is_null()) {
    if (!strict->is_bool()) {
      return invalid("'" + member(param, "strict") + "' must be a boolean",
                     member(param, "strict"));
    }
    fn["strict"] = *strict;
  }
  echo["strict"] = strict != nullptr ? *strict : json::value(nullptr);
  out.chat.push_back({{"type", "function"}, {"function", std::move(fn)}});
  out.echo.push_back(std::move(echo));
  out.names.emplace_back(view(**name));
  return {};
}

result<void> add_custom_tool(const json::object& t, std::string_view param, tools_result& out) {
  auto name = required_string(t, "name", member(param, "name"));
  if (!name) {
    return name.error();
  }
  auto description = optional_string(t, "description", member(param, "description"));
  if (!description) {
    return description.error();
  }
  std::string text = *description != nullptr ? std::string(view(**description)) : std::string();
  if (const auto* f = t.if_contains("format"); f != nullptr && f->is_object()) {
    const auto& format = f->get_object();
    const auto* syntax = string_member(format, "syntax");
    const auto* definition = string_member(format, "definition");
    if (definition != nullptr) {
      // Chat cannot constrain the input by a grammar; the model at least reads it.
      text += text.empty() ? "" : "\n\n";
      text += "The input must match this ";
      text += syntax != nullptr ? view(*syntax) : std::string_view("formal");
      text += " grammar:\n";
      text += view(*definition);
    }
  }
  json::object fn{{"name", **name}};
  if (!text.empty()) {
    fn["description"] = text;
  }
  fn["parameters"] = {{"type", "object"},
                      {"properties", {{"input", {{"type", "string"}}}}},
                      {"required", json::array{"input"}},
                      {"additionalProperties", false}};
  out.chat.push_back({{"type", "function"}, {"function", std::move(fn)}});
  out.echo.push_back(t);
  out.custom.emplace_back(view(**name));
  out.names.emplace_back(view(**name));
  return {};
}

result<tools_result> translate_tools(const json::value* tools) {
  tools_result out;
  if (tools == nullptr || tools->is_null()) {
    return out;
  }
  const auto* list = tools->if_array();
  if (list == nullptr) {
    return invalid("'tools' must be an array", "tools");
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string param = at("tools", i);
    auto o = object_at((*list)[i], param);
    if (!o) {
      return o.error();
    }
    auto type = required_string(**o, "type", member(param, "type"));
    if (!type) {
      return type.error();
    }
    const std::string_view t = view(**type);
    result<void> added = t == "function" ? add_function_tool(**o, param, out)
                         : t == "custom"
                             ? add_custom_tool(**o, param, out)
                             : result<void>(invalid(builtin_refusal(t), member(param, "type")));
    if (!added) {
      return added.error();
    }
    for (std::size_t j = 0; j + 1 < out.names.size(); ++j) {
      if (out.names[j] == out.names.back()) {
        return invalid("two tools are named '" + out.names.back() + "'", member(param, "name"));
      }
    }
  }
  return out;
}

/// Keeps only the chat tools named in an `allowed_tools` choice.
result<void> narrow_tools(const json::object& choice, json::array& chat_tools) {
  const auto* allowed_v = choice.if_contains("tools");
  const auto* allowed = allowed_v != nullptr ? allowed_v->if_array() : nullptr;
  if (allowed == nullptr) {
    return invalid("'tool_choice.tools' must be an array", "tool_choice.tools");
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < allowed->size(); ++i) {
    const auto* o = (*allowed)[i].if_object();
    const auto* type = o != nullptr ? string_member(*o, "type") : nullptr;
    const auto* name = o != nullptr ? string_member(*o, "name") : nullptr;
    if (type == nullptr || (*type != "function" && *type != "custom") || name == nullptr) {
      return invalid("allowed tools must be function or custom tools named by 'name'",
                     at("tool_choice.tools", i));
    }
    names.emplace_back(view(*name));
  }
  json::array kept;
  for (auto& t : chat_tools) {
    const auto& name = t.as_object().at("function").as_object().at("name").as_string();
    if (std::find(names.begin(), names.end(), view(name)) != names.end()) {
      kept.push_back(std::move(t));
    }
  }
  chat_tools = std::move(kept);
  return {};
}

/// `tool_choice` → the chat one (nullptr: not sent).
result<json::value> translate_tool_choice(const json::value* choice, json::array& chat_tools) {
  if (choice == nullptr || choice->is_null()) {
    return json::value(nullptr);
  }
  if (const auto* s = choice->if_string(); s != nullptr) {
    if (*s == "none" || *s == "auto" || *s == "required") {
      return json::value(*s);
    }
    return invalid("'tool_choice' must be none, auto, required or an object", "tool_choice");
  }
  const auto* o = choice->if_object();
  const auto* type = o != nullptr ? string_member(*o, "type") : nullptr;
  if (type == nullptr) {
    return invalid("'tool_choice' must be none, auto, required or an object with a 'type'",
                   "tool_choice");
  }
  if (*type == "function" || *type == "custom") {
    const auto* name = string_member(*o, "name");
    if (name == nullptr) {
      return invalid("'tool_choice.name' is required", "tool_choice.name");
    }
    return json::value{{"type", "function"}, {"function", {{"name", *name}}}};
  }
  if (*type == "allowed_tools") {
    const auto* mode = string_member(*o, "mode");
    if (mode == nullptr || (*mode != "auto" && *mode != "required")) {
      return invalid("'tool_choice.mode' must be auto or required", "tool_choice.mode");
    }
    if (auto narrowed = narrow_tools(*o, chat_tools); !narrowed) {
      return narrowed.error();
    }
    return json::value(*mode);
  }
  return invalid(builtin_refusal(view(*type)), "tool_choice.type");
}

/// `text.format` → chat `response_format` (nullptr: not sent).
result<json::value> translate_format(const json::object& text) {
  const auto* f = text.if_contains("format");
  if (f == nullptr || f->is_null()) {
    return json::value(nullptr);
  }
  const auto* format = f->if_object();
  const auto* type = format != nullptr ? string_member(*format, "type") : nullptr;
  if (type == nullptr) {
    return invalid("'text.format' must be an object with a 'type'", "text.format");
  }
  if (*type == "text") {
    return json::value(nullptr);
  }
  if (*type == "json_object") {
    return json::value{{"type", "json_object"}};
  }
  if (*type == "json_schema") {
    const auto* name = string_member(*format, "name");
    const auto* schema = format->if_contains("schema");
    if (name == nullptr) {
      return invalid("'text.format.name' is required", "text.format.name");
    }
    if (schema == nullptr || !schema->is_object()) {
      return invalid("'text.format.schema' must be an object", "text.format.schema");
    }
    json::object js{{"name", *name}};
    if (const auto* d = string_member(*format, "description"); d != nullptr) {
      js["description"] = *d;
    }
    js["schema"] = *schema;
    if (const auto* s = format->if_contains("strict"); s != nullptr && s->is_bool()) {
      js["strict"] = *s;
    }
    return json::value{{"type", "json_schema"}, {"json_schema", std::move(js)}};
  }
  return invalid("'text.format.type' must be text, json_object or json_schema", "text.format.type");
}

result<void> refuse_stateful(const json::object& req) {
  if (const auto* s = req.if_contains("store"); s != nullptr && !s->is_null()) {
    if (!s->is_bool()) {
      return invalid("'store' must be a boolean", "store");
    }
    if (s->get_bool()) {
      return invalid(
          "store: true is not supported on this route: responses are translated to "
          "chat completions and not stored; send store: false or leave it out",
          "store");
    }
  }
  if (const auto* b = req.if_contains("background");
      b != nullptr && b->is_bool() && b->get_bool()) {
    return invalid("background responses are not supported on this route", "background");
  }
  for (std::string_view key : {"previous_response_id", "conversation", "prompt"}) {
    if (present(req, key)) {
      return invalid("'" + std::string(key) +
                         "' needs state stored by OpenAI, which this route does not keep: send "
                         "the whole conversation as input items",
                     std::string(key));
    }
  }
  if (const auto* c = req.if_contains("context_management");
      c != nullptr && !c->is_null() && !(c->is_array() && c->get_array().empty())) {
    return invalid("'context_management' is not supported on this route", "context_management");
  }
  if (const auto* t = req.if_contains("top_logprobs"); t != nullptr && !t->is_null() &&
                                                       !(t->is_int64() && t->get_int64() == 0) &&
                                                       !(t->is_uint64() && t->get_uint64() == 0)) {
    return invalid("'top_logprobs' is not supported on this route", "top_logprobs");
  }
  return {};
}

/// Copies a number member (`key`) to `chat[as]` and `echo[key]` (null when absent).
result<void> copy_number(const json::object& req, std::string_view key, std::string_view as,
                         json::object& chat, json::object& echo) {
  const auto* v = req.if_contains(key);
  if (v == nullptr || v->is_null()) {
    echo[key] = nullptr;
    return {};
  }
  if (!v->is_number()) {
    return invalid("'" + std::string(key) + "' must be a number", std::string(key));
  }
  chat[as] = *v;
  echo[key] = *v;
  return {};
}

/// Copies a string member to the chat request and the echo. Absent: echoed as null, or not at
/// all for `user` (the schema's `user` is a string, not nullable).
result<void> copy_string(const json::object& req, std::string_view key, json::object& chat,
                         json::object& echo) {
  auto s = optional_string(req, key, key);
  if (!s) {
    return s.error();
  }
  if (*s != nullptr) {
    chat[key] = **s;
    echo[key] = **s;
  } else if (key != "user") {
    echo[key] = nullptr;
  }
  return {};
}

#define SWITCHYARD_TRY(expr)   \
  if (auto r_ = (expr); !r_) { \
    return r_.error();         \
  }

}  // namespace

result<translated_request> translate_responses_request(std::string_view body,
                                                       const responses_request_options& options) {
  json::parse_options po;
  po.max_depth = max_json_depth;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, po);
  if (ec || !v.is_object()) {
    return invalid("the request body must be a JSON object", "");
  }
  if (!all_finite(v)) {
    return invalid("the request body has a number out of range", "");
  }
  const json::object& req = v.get_object();
  SWITCHYARD_TRY(refuse_stateful(req));

  auto model = required_string(req, "model", "model");
  if (!model) {
    return model.error();
  }
  auto instructions = optional_string(req, "instructions", "instructions");
  if (!instructions) {
    return instructions.error();
  }

  message_builder mb;
  if (options.instructions) {
    mb.system(*options.instructions);
  } else if (*instructions != nullptr) {
    mb.system(view(**instructions));
  }
  const auto* input = req.if_contains("input");
  if (input == nullptr || input->is_null()) {
    return invalid("'input' is required", "input");
  }
  if (const auto* s = input->if_string(); s != nullptr) {
    mb.messages.push_back({{"role", "user"}, {"content", *s}});
  } else if (const auto* items = input->if_array(); items != nullptr) {
    for (std::size_t i = 0; i < items->size(); ++i) {
      SWITCHYARD_TRY(mb.item((*items)[i], at("input", i)));
    }
  } else {
    return invalid("'input' must be a string or an array of input items", "input");
  }

  auto tools = translate_tools(req.if_contains("tools"));
  if (!tools) {
    return tools.error();
  }
  auto choice = translate_tool_choice(req.if_contains("tool_choice"), tools->chat);
  if (!choice) {
    return choice.error();
  }

  translated_request out;
  json::object chat{{"model", **model}, {"messages", std::move(mb.messages)}};
  json::object& echo = out.context.echo;
  echo["instructions"] = *instructions != nullptr ? json::value(**instructions) : nullptr;

  const bool has_tools = !tools->chat.empty();
  if (has_tools) {
    chat["tools"] = std::move(tools->chat);
  }
  if (!choice->is_null() && has_tools) {
    chat["tool_choice"] = *choice;
  }
  const auto* parallel = req.if_contains("parallel_tool_calls");
  if (parallel != nullptr && !parallel->is_null() && !parallel->is_bool()) {
    return invalid("'parallel_tool_calls' must be a boolean", "parallel_tool_calls");
  }
  if (parallel != nullptr && parallel->is_bool() && has_tools) {
    chat["parallel_tool_calls"] = *parallel;  // OpenAI refuses it without tools
  }

  json::object text_echo{{"format", {{"type", "text"}}}};
  if (const auto* t = req.if_contains("text"); t != nullptr && !t->is_null()) {
    auto text = object_at(*t, "text");
    if (!text) {
      return text.error();
    }
    auto format = translate_format(**text);
    if (!format) {
      return format.error();
    }
    if (!format->is_null()) {
      chat["response_format"] = *format;
    }
    if (const auto* f = (*text)->if_contains("format"); f != nullptr && f->is_object()) {
      text_echo["format"] = *f;
    }
    if (const auto* verbosity = string_member(**text, "verbosity"); verbosity != nullptr) {
      chat["verbosity"] = *verbosity;
      text_echo["verbosity"] = *verbosity;
    }
  }

  const auto* max_out = req.if_contains("max_output_tokens");
  if (max_out != nullptr && !max_out->is_null()) {
    if (!max_out->is_int64() && !max_out->is_uint64()) {
      return invalid("'max_output_tokens' must be an integer", "max_output_tokens");
    }
    chat[options.max_tokens == max_tokens_field::max_tokens ? "max_tokens"
                                                            : "max_completion_tokens"] = *max_out;
  }
  echo["max_output_tokens"] = max_out != nullptr ? *max_out : json::value(nullptr);
  echo["max_tool_calls"] = nullptr;
  echo["parallel_tool_calls"] =
      parallel != nullptr && parallel->is_bool() ? parallel->get_bool() : true;
  echo["previous_response_id"] = nullptr;

  json::object reasoning_echo{{"effort", nullptr}, {"summary", nullptr}};
  if (const auto* r = req.if_contains("reasoning"); r != nullptr && !r->is_null()) {
    auto reasoning = object_at(*r, "reasoning");
    if (!reasoning) {
      return reasoning.error();
    }
    auto effort = optional_string(**reasoning, "effort", "reasoning.effort");
    if (!effort) {
      return effort.error();
    }
    if (*effort != nullptr) {
      chat["reasoning_effort"] = **effort;
      reasoning_echo["effort"] = **effort;
    }
    if (const auto* summary = string_member(**reasoning, "summary"); summary != nullptr) {
      reasoning_echo["summary"] = *summary;
    }
  }
  echo["reasoning"] = std::move(reasoning_echo);

  SWITCHYARD_TRY(copy_number(req, "temperature", "temperature", chat, echo));
  SWITCHYARD_TRY(copy_number(req, "top_p", "top_p", chat, echo));
  SWITCHYARD_TRY(copy_string(req, "user", chat, echo));
  SWITCHYARD_TRY(copy_string(req, "safety_identifier", chat, echo));
  SWITCHYARD_TRY(copy_string(req, "prompt_cache_key", chat, echo));
  SWITCHYARD_TRY(copy_string(req, "service_tier", chat, echo));
  echo["store"] = false;
  echo["text"] = std::move(text_echo);
  echo["tool_choice"] =
      req.if_contains("tool_choice") != nullptr && !req.at("tool_choice").is_null()
          ? req.at("tool_choice")
          : json::value("auto");
  echo["tools"] = std::move(tools->echo);
  echo["top_logprobs"] = 0;
  const auto* truncation = string_member(req, "truncation");
  echo["truncation"] = truncation != nullptr ? json::value(*truncation) : json::value("disabled");
  const auto* metadata = req.if_contains("metadata");
  if (metadata != nullptr && !metadata->is_null() && !metadata->is_object()) {
    return invalid("'metadata' must be an object", "metadata");
  }
  echo["metadata"] = metadata != nullptr && metadata->is_object() ? *metadata : json::object{};

  const auto* stream = req.if_contains("stream");
  if (stream != nullptr && !stream->is_null() && !stream->is_bool()) {
    return invalid("'stream' must be a boolean", "stream");
  }
  out.stream = stream != nullptr && stream->is_bool() && stream->get_bool();
  if (out.stream) {
    chat["stream"] = true;
    chat["stream_options"] = {{"include_usage", true}};
  }

  out.body = json::serialize(chat);
  out.context.model = std::string(view(**model));
  out.context.custom_tools = std::move(tools->custom);
  return out;
}

}  // namespace switchyard
