#include "switchyard/providers/anthropic_chat.hpp"

#include "anthropic_messages.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace switchyard {

namespace {

using namespace providers_detail;

// Fields an Anthropic upstream cannot honour, refused rather than silently ignored.
result<void> refuse_unsupported(const json::object& body) {
  auto present = [&](std::string_view key) {
    const auto* v = body.if_contains(key);
    return v != nullptr && !v->is_null() ? v : nullptr;
  };
  if (const auto* n = present("n"); n != nullptr && as_int(n).value_or(0) != 1) {
    return bad("n must be 1 for this model (Anthropic returns one choice)", "n");
  }
  if (const auto* lp = present("logprobs"); lp != nullptr && !(lp->is_bool() && !lp->get_bool())) {
    return bad("logprobs are not available for this model", "logprobs");
  }
  if (present("top_logprobs") != nullptr) {
    return bad("logprobs are not available for this model", "top_logprobs");
  }
  if (const auto* lb = present("logit_bias");
      lb != nullptr && !(lb->is_object() && lb->get_object().empty())) {
    return bad("logit_bias is not supported by this model", "logit_bias");
  }
  if (const auto* rf = present("response_format"); rf != nullptr) {
    const std::string_view type = rf->is_object() ? string_at(rf->get_object(), "type") : "";
    if (type != "text" && type != "json_schema") {
      return bad("response_format '" + std::string(type) +
                     "' is not supported by this model; use json_schema (structured outputs)",
                 "response_format.type");
    }
  }
  if (present("audio") != nullptr) {
    return bad("audio output is not supported by this model", "audio");
  }
  if (const auto* mod = present("modalities"); mod != nullptr && mod->is_array()) {
    for (const auto& m : mod->get_array()) {
      if (m.is_string() && m.get_string() != "text") {
        return bad("only the text modality is supported by this model", "modalities");
      }
    }
  }
  for (std::string_view key : {"functions", "function_call"}) {
    if (present(key) != nullptr) {
      return bad("the deprecated `" + std::string(key) + "` is not supported; use tools",
                 std::string(key));
    }
  }
  if (present("web_search_options") != nullptr) {
    return bad("web_search_options is not supported by this model", "web_search_options");
  }
  return {};
}

result<json::array> translate_tools(const json::value& tools) {
  if (!tools.is_array()) {
    return bad("tools must be an array", "tools");
  }
  json::array out;
  for (std::size_t i = 0; i < tools.get_array().size(); ++i) {
    const std::string p = index_param("tools", i);
    const auto& tool = tools.get_array()[i];
    if (!tool.is_object() || string_at(tool.get_object(), "type") != "function") {
      return bad("only function tools are supported by this model", member_param(p, "type"));
    }
    const auto* fn = tool.get_object().if_contains("function");
    if (fn == nullptr || !fn->is_object() || string_at(fn->get_object(), "name").empty()) {
      return bad("a function tool needs a `function.name`", member_param(p, "function.name"));
    }
    const auto& f = fn->get_object();
    json::object t;
    t["name"] = string_at(f, "name");
    if (const auto* d = f.if_contains("description"); d != nullptr && d->is_string()) {
      t["description"] = *d;
    }
    const auto* params = f.if_contains("parameters");
    if (params != nullptr && params->is_object()) {
      t["input_schema"] = *params;
    } else if (params == nullptr || params->is_null()) {
      t["input_schema"] = json::object{{"type", "object"}};  // OpenAI: "omitting = no params"
    } else {
      return bad("function.parameters must be a JSON Schema object",
                 member_param(p, "function.parameters"));
    }
    copy_cache_control(tool.get_object(), t);
    out.push_back(std::move(t));
  }
  return out;
}

result<json::object> translate_tool_choice(const json::value* choice, const json::value* parallel) {
  json::object out;
  if (choice == nullptr || choice->is_null() ||
      (choice->is_string() && choice->get_string() == "auto")) {
    out["type"] = "auto";
  } else if (choice->is_string() && choice->get_string() == "required") {
    out["type"] = "any";
  } else if (choice->is_string() && choice->get_string() == "none") {
    out["type"] = "none";
  } else if (choice->is_object() && string_at(choice->get_object(), "type") == "function") {
    const auto* fn = choice->get_object().if_contains("function");
    const std::string_view name =
        fn != nullptr && fn->is_object() ? string_at(fn->get_object(), "name") : "";
    if (name.empty()) {
      return bad("tool_choice.function.name is required", "tool_choice.function.name");
    }
    out["type"] = "tool";
    out["name"] = name;
  } else {
    return bad("tool_choice must be auto, required, none or a function", "tool_choice");
  }
  if (parallel != nullptr && parallel->is_bool() && !parallel->get_bool() &&
      string_at(out, "type") != "none") {
    out["disable_parallel_tool_use"] = true;
  }
  return out;
}

result<std::int64_t> max_tokens(const json::object& body, std::int64_t fallback) {
  for (std::string_view key : {"max_completion_tokens", "max_tokens"}) {
    const auto* v = body.if_contains(key);
    if (v == nullptr || v->is_null()) {
      continue;
    }
    auto n = as_int(v);
    if (!n || *n < 1) {
      return bad(std::string(key) + " must be a positive integer", std::string(key));
    }
    return *n;
  }
  return fallback;
}

result<json::array> stop_sequences(const json::value& stop) {
  json::array out;
  if (stop.is_string()) {
    if (!stop.get_string().empty()) {
      out.push_back(stop);
    }
    return out;
  }
  if (!stop.is_array()) {
    return bad("stop must be a string or an array of strings", "stop");
  }
  for (const auto& s : stop.get_array()) {
    if (!s.is_string()) {
      return bad("stop must be a string or an array of strings", "stop");
    }
    if (!s.get_string().empty()) {
      out.push_back(s);
    }
  }
  return out;
}

// The sampling members, in output order, into `out`.
result<void> sampling(const json::object& body, json::object& out) {
  if (const auto* t = body.if_contains("temperature"); t != nullptr && !t->is_null()) {
    auto x = as_number(t);
    if (!x || *x < 0 || *x > 2) {
      return bad("temperature must be a number between 0 and 2", "temperature");
    }
    out["temperature"] = std::min(*x, 1.0);
  }
  if (const auto* p = body.if_contains("top_p"); p != nullptr && !p->is_null()) {
    auto x = as_number(p);
    if (!x || *x < 0 || *x > 1) {
      return bad("top_p must be a number between 0 and 1", "top_p");
    }
    out["top_p"] = *x;
  }
  if (const auto* k = body.if_contains("top_k"); k != nullptr && !k->is_null()) {
    auto x = as_int(k);
    if (!x || *x < 0) {
      return bad("top_k must be a non-negative integer", "top_k");
    }
    out["top_k"] = *x;
  }
  return {};
}

result<void> tooling(const json::object& body, json::object& out) {
  const auto* tools = body.if_contains("tools");
  if (tools == nullptr || tools->is_null() || (tools->is_array() && tools->get_array().empty())) {
    return {};  // no tools: tool_choice has nothing to choose from and is dropped
  }
  auto t = translate_tools(*tools);
  if (!t) {
    return t.error();
  }
  auto choice = translate_tool_choice(body.if_contains("tool_choice"),
                                      body.if_contains("parallel_tool_calls"));
  if (!choice) {
    return choice.error();
  }
  out["tools"] = std::move(*t);
  out["tool_choice"] = std::move(*choice);
  return {};
}

// response_format json_schema → output_config.format (Anthropic's structured outputs: the
// answer is the JSON text in a text block, so the response side needs nothing special).
result<void> output_format(const json::object& body, json::object& out) {
  const auto* rf = body.if_contains("response_format");
  if (rf == nullptr || !rf->is_object() || string_at(rf->get_object(), "type") != "json_schema") {
    return {};
  }
  const auto* js = rf->get_object().if_contains("json_schema");
  const auto* schema =
      js != nullptr && js->is_object() ? js->get_object().if_contains("schema") : nullptr;
  if (schema == nullptr || !schema->is_object()) {
    return bad("response_format.json_schema.schema must be a JSON Schema object",
               "response_format.json_schema.schema");
  }
  json::object format;
  format["type"] = "json_schema";
  format["schema"] = *schema;
  out["output_config"] = json::object{{"format", std::move(format)}};
  return {};
}

}  // namespace

result<anthropic_chat_request> translate_chat_request(std::string_view chat_body,
                                                      const anthropic_request_options& options) {
  auto parsed = parse_json(chat_body);
  if (!parsed || !parsed->is_object()) {
    return bad("the request body must be a JSON object", "");
  }
  const auto& body = parsed->get_object();
  if (auto r = refuse_unsupported(body); !r) {
    return r.error();
  }
  json::object out;
  std::string_view model = options.model;
  if (model.empty()) {
    model = string_at(body, "model");
  }
  if (model.empty()) {
    return bad("model is required", "model");
  }
  out["model"] = model;
  auto max = max_tokens(body, options.default_max_tokens);
  if (!max) {
    return max.error();
  }
  out["max_tokens"] = *max;

  const auto* messages = body.if_contains("messages");
  if (messages == nullptr || !messages->is_array()) {
    return bad("messages must be an array", "messages");
  }
  auto turns = translate_messages(messages->get_array());
  if (!turns) {
    return turns.error();
  }
  if (!turns->system.is_null()) {
    out["system"] = std::move(turns->system);
  }
  out["messages"] = std::move(turns->messages);

  if (const auto* stop = body.if_contains("stop"); stop != nullptr && !stop->is_null()) {
    auto s = stop_sequences(*stop);
    if (!s) {
      return s.error();
    }
    if (!s->empty()) {
      out["stop_sequences"] = std::move(*s);
    }
  }
  if (auto r = sampling(body, out); !r) {
    return r.error();
  }
  if (auto r = tooling(body, out); !r) {
    return r.error();
  }
  if (auto r = output_format(body, out); !r) {
    return r.error();
  }
  std::string_view user = string_at(body, "safety_identifier");
  if (user.empty()) {
    user = string_at(body, "user");
  }
  if (!user.empty()) {
    out["metadata"] = json::object{{"user_id", user}};
  }
  if (const auto* thinking = body.if_contains("thinking");
      thinking != nullptr && thinking->is_object()) {
    out["thinking"] = *thinking;
  }
  anthropic_chat_request req;
  if (const auto* s = body.if_contains("stream"); s != nullptr && !s->is_null()) {
    if (!s->is_bool()) {
      return bad("stream must be a boolean", "stream");
    }
    req.stream = s->get_bool();
  }
  if (req.stream) {
    out["stream"] = true;
    if (const auto* so = body.if_contains("stream_options"); so != nullptr && so->is_object()) {
      const auto* iu = so->get_object().if_contains("include_usage");
      req.include_usage = iu != nullptr && iu->is_bool() && iu->get_bool();
    }
  }
  req.body = json::serialize(out);
  return req;
}

}  // namespace switchyard
