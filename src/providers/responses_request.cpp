// translate_responses_request: a Responses request → a chat completions request (the mapping
// and what is refused are documented in responses_chat.hpp).

#include "switchyard/providers/responses_chat.hpp"

#include "json_detail.hpp"
#include "responses_object.hpp"
#include "responses_request_detail.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <string>
#include <utility>

namespace switchyard {
namespace json = boost::json;
using namespace responses_detail;
using namespace responses_request_detail;

namespace {

using providers_detail::max_json_depth;

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
  if (!providers_detail::finite_numbers(v)) {
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

  const auto* input = req.if_contains("input");
  if (input == nullptr || input->is_null()) {
    return invalid("'input' is required", "input");
  }
  std::optional<std::string_view> system;
  if (options.instructions) {
    system = *options.instructions;
  } else if (*instructions != nullptr) {
    system = view(**instructions);
  }
  auto messages = translate_input(*input, system);
  if (!messages) {
    return messages.error();
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
  json::object chat{{"model", **model}, {"messages", std::move(*messages)}};
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

#undef SWITCHYARD_TRY

}  // namespace switchyard
