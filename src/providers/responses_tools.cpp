// The tools, tool choice and text format of a Responses request → chat (see
// responses_chat.hpp).

#include "responses_object.hpp"
#include "responses_request_detail.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace switchyard::responses_request_detail {
using responses_detail::string_member;
using responses_detail::view;

namespace {

/// Built-in tool types: executed by OpenAI, so they cannot be offered on a translated route.
std::string builtin_refusal(std::string_view type) {
  return "the built-in tool '" + std::string(type) +
         "' runs on OpenAI's side and is not available on this route; only 'function' and "
         "'custom' tools are";
}

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace switchyard::responses_request_detail
