#include "switchyard/providers/anthropic_chat.hpp"

#include "json_detail.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <vector>

namespace switchyard {

namespace {

namespace json = boost::json;
using namespace providers_detail;

error bad(std::string message, std::string param) {
  return make_error(errc::invalid_request, std::move(message), std::move(param));
}

std::string index_param(std::string_view base, std::size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

std::string member_param(std::string_view base, std::string_view name) {
  return std::string(base) + "." + std::string(name);
}

void copy_cache_control(const json::object& from, json::object& to) {
  if (const auto* cc = from.if_contains("cache_control"); cc != nullptr && !cc->is_null()) {
    to["cache_control"] = *cc;
  }
}

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
    if (type != "text") {
      return bad("response_format '" + std::string(type) +
                     "' is not supported by this model; describe the format in the prompt or "
                     "use a tool",
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
  turns t;
  for (std::size_t i = 0; i < messages->get_array().size(); ++i) {
    if (auto r = add_message(messages->get_array()[i], i, t); !r) {
      return r.error();
    }
  }
  if (t.messages.empty()) {
    return bad("messages must contain a user or assistant message with content", "messages");
  }
  if (!t.system.empty()) {
    out["system"] = t.system_value();
  }
  for (auto& m : t.messages) {
    turns::simplify(m.as_object());
  }
  out["messages"] = std::move(t.messages);

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
