#include "switchyard/providers/responses_chat.hpp"

#include "responses_object.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace switchyard {
namespace json = boost::json;

namespace responses_detail {

std::string item_id(std::string_view prefix, std::string_view response_id, std::size_t index) {
  if (response_id.starts_with("resp_")) {
    response_id.remove_prefix(5);
  }
  std::string id(prefix);
  id += '_';
  id += response_id;
  id += '_';
  id += std::to_string(index);
  return id;
}

namespace {

std::int64_t count(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return std::max<std::int64_t>(v->get_int64(), 0);
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
  }
  return 0;  // a float or anything else is not a count
}

std::int64_t nested_count(const json::object& o, std::string_view member, std::string_view key) {
  const auto* v = o.if_contains(member);
  const auto* inner = v != nullptr ? v->if_object() : nullptr;
  return inner != nullptr ? count(*inner, key) : 0;
}

}  // namespace

std::optional<responses_usage> read_usage(const json::value* usage) {
  const auto* o = usage != nullptr ? usage->if_object() : nullptr;
  if (o == nullptr) {
    return std::nullopt;
  }
  responses_usage u;
  u.tokens.prompt_tokens = count(*o, "prompt_tokens");
  u.tokens.completion_tokens = count(*o, "completion_tokens");
  u.tokens.total_tokens = o->contains("total_tokens")
                              ? count(*o, "total_tokens")
                              : u.tokens.prompt_tokens + u.tokens.completion_tokens;
  u.cached_tokens = nested_count(*o, "prompt_tokens_details", "cached_tokens");
  u.reasoning_tokens = nested_count(*o, "completion_tokens_details", "reasoning_tokens");
  return u;
}

json::object usage_json(const std::optional<responses_usage>& usage) {
  const responses_usage u = usage.value_or(responses_usage{});
  return json::object{
      {"input_tokens", u.tokens.prompt_tokens},
      // cache_write_tokens: required by the schema; chat upstreams do not report writes.
      {"input_tokens_details", {{"cached_tokens", u.cached_tokens}, {"cache_write_tokens", 0}}},
      {"output_tokens", u.tokens.completion_tokens},
      {"output_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}},
      {"total_tokens", u.tokens.total_tokens},
  };
}

std::string_view incomplete_reason(std::string_view finish_reason) noexcept {
  if (finish_reason == "length") {
    return "max_output_tokens";
  }
  if (finish_reason == "content_filter") {
    return "content_filter";
  }
  return {};
}

std::string_view response_error_code(const error& e) noexcept {
  return e.code == errc::rate_limited ? "rate_limit_exceeded" : "server_error";
}

json::object response_json(const responses_context& context, const envelope& e,
                           json::array output) {
  json::object r;
  r["id"] = context.response_id;
  r["object"] = "response";
  r["created_at"] = context.created_at;
  r["status"] = e.status;
  r["background"] = false;
  if (e.status == "completed") {
    r["completed_at"] = context.completed_at != 0 ? context.completed_at : context.created_at;
  } else {
    r["completed_at"] = nullptr;
  }
  if (e.failure != nullptr) {
    r["error"] = {{"code", response_error_code(*e.failure)}, {"message", e.failure->message}};
  } else {
    r["error"] = nullptr;
  }
  if (!e.incomplete_reason.empty()) {
    r["incomplete_details"] = {{"reason", e.incomplete_reason}};
  } else {
    r["incomplete_details"] = nullptr;
  }
  r["model"] = !context.model.empty() ? std::string_view(context.model) : e.model;
  r["output"] = std::move(output);
  for (const auto& member : context.echo) {
    r[member.key()] = member.value();
  }
  // The members the schema requires, for a context not built by translate_responses_request.
  for (const auto& [key, fallback] :
       {std::pair<std::string_view, json::value>{"instructions", nullptr},
        {"parallel_tool_calls", true},
        {"temperature", nullptr},
        {"tool_choice", "auto"},
        {"tools", json::array{}},
        {"top_p", nullptr},
        {"metadata", json::object{}}}) {
    if (!r.contains(key)) {
      r[key] = fallback;
    }
  }
  // Not yet known: left out (the schema's `usage` is an object, not nullable; the SDKs
  // accept it missing).
  if (e.with_usage) {
    r["usage"] = usage_json(e.usage);
  }
  return r;
}

std::string custom_input(std::string_view arguments) {
  boost::system::error_code ec;
  json::value v = json::parse(arguments, ec);
  if (!ec) {
    if (const auto* o = v.if_object(); o != nullptr && o->size() == 1) {
      if (const auto* s = string_member(*o, "input"); s != nullptr) {
        return std::string(view(*s));
      }
    }
  }
  // A model that did not follow the one-parameter schema: hand over what it wrote.
  return std::string(arguments);
}

std::string custom_arguments(std::string_view input) {
  return json::serialize(json::object{{"input", input}});
}

bool is_custom_tool(const responses_context& context, std::string_view name) noexcept {
  return std::find(context.custom_tools.begin(), context.custom_tools.end(), name) !=
         context.custom_tools.end();
}

}  // namespace responses_detail

namespace {

using namespace responses_detail;

error not_chat(std::string message) {
  error e = make_error(errc::upstream_broken, std::move(message));
  e.source = error_source::upstream;
  return e;
}

/// `message.content` as text: a string, or the text of an array of text parts (some servers).
std::string content_text(const json::value* content) {
  if (content == nullptr) {
    return {};
  }
  if (const auto* s = content->if_string(); s != nullptr) {
    return std::string(view(*s));
  }
  std::string text;
  if (const auto* a = content->if_array(); a != nullptr) {
    for (const auto& part : *a) {
      if (const auto* p = part.if_object(); p != nullptr) {
        if (const auto* t = string_member(*p, "text"); t != nullptr) {
          text += view(*t);
        }
      }
    }
  }
  return text;
}

/// The function call arguments as a string (a few servers send an object).
std::string arguments_text(const json::value* arguments) {
  if (arguments == nullptr || arguments->is_null()) {
    return {};
  }
  if (const auto* s = arguments->if_string(); s != nullptr) {
    return std::string(view(*s));
  }
  return json::serialize(*arguments);
}

json::object output_message(std::string id, const std::string& text, const std::string& refusal,
                            std::string_view status) {
  json::array content;
  if (!text.empty()) {
    content.push_back({{"type", "output_text"},
                       {"text", text},
                       {"annotations", json::array{}},
                       {"logprobs", json::array{}}});
  }
  if (!refusal.empty()) {
    content.push_back({{"type", "refusal"}, {"refusal", refusal}});
  }
  return {{"id", std::move(id)},
          {"type", "message"},
          {"status", status},
          {"content", std::move(content)},
          {"role", "assistant"}};
}

json::object reasoning_item(std::string id, const std::string& text) {
  return {{"id", std::move(id)},
          {"type", "reasoning"},
          {"summary", json::array{json::object{{"type", "summary_text"}, {"text", text}}}}};
}

}  // namespace

result<std::string> translate_chat_response(std::string_view chat_body,
                                            const responses_context& context) {
  boost::system::error_code ec;
  json::value v = json::parse(chat_body, ec);
  const auto* body = ec ? nullptr : v.if_object();
  if (body == nullptr) {
    return not_chat("upstream answer is not a JSON object");
  }
  if (const auto* err = body->if_contains("error"); err != nullptr && !err->is_null()) {
    const auto* o = err->if_object();
    const auto* m = o != nullptr ? string_member(*o, "message") : nullptr;
    return not_chat(m != nullptr ? "upstream error: " + std::string(view(*m))
                                 : std::string("upstream error"));
  }
  const auto* choices_v = body->if_contains("choices");
  const auto* choices = choices_v != nullptr ? choices_v->if_array() : nullptr;
  if (choices == nullptr) {
    return not_chat("upstream answer has no choices array");
  }
  const json::object* choice = nullptr;
  for (const auto& c : *choices) {
    const auto* o = c.if_object();
    const auto* index = o != nullptr ? o->if_contains("index") : nullptr;
    if (o != nullptr && (index == nullptr || (index->is_int64() && index->get_int64() == 0) ||
                         (index->is_uint64() && index->get_uint64() == 0))) {
      choice = o;
      break;
    }
  }
  const json::object* message = nullptr;
  std::string finish;
  if (choice != nullptr) {
    if (const auto* m = choice->if_contains("message"); m != nullptr) {
      message = m->if_object();
    }
    if (const auto* f = string_member(*choice, "finish_reason"); f != nullptr) {
      finish = std::string(view(*f));
    }
  }
  const std::string_view reason = incomplete_reason(finish);
  const std::string_view item_status = reason.empty() ? "completed" : "incomplete";

  json::array output;
  if (message != nullptr) {
    std::string reasoning = content_text(message->if_contains("reasoning_content"));
    if (reasoning.empty()) {
      reasoning = content_text(message->if_contains("reasoning"));
    }
    if (!reasoning.empty()) {
      output.push_back(
          reasoning_item(item_id("rs", context.response_id, output.size()), reasoning));
    }
    const std::string text = content_text(message->if_contains("content"));
    const std::string refusal = content_text(message->if_contains("refusal"));
    if (!text.empty() || !refusal.empty()) {
      output.push_back(output_message(item_id("msg", context.response_id, output.size()), text,
                                      refusal, item_status));
    }
    const auto* calls_v = message->if_contains("tool_calls");
    const auto* calls = calls_v != nullptr ? calls_v->if_array() : nullptr;
    for (std::size_t i = 0; calls != nullptr && i < calls->size(); ++i) {
      const auto* call = (*calls)[i].if_object();
      const auto* fn_v = call != nullptr ? call->if_contains("function") : nullptr;
      const auto* fn = fn_v != nullptr ? fn_v->if_object() : nullptr;
      const auto* name = fn != nullptr ? string_member(*fn, "name") : nullptr;
      if (name == nullptr) {
        continue;  // not a function call: nothing a Response can carry
      }
      const auto* id = string_member(*call, "id");
      std::string call_id = id != nullptr && !id->empty()
                                ? std::string(view(*id))
                                : item_id("call", context.response_id, output.size());
      std::string arguments = arguments_text(fn->if_contains("arguments"));
      if (is_custom_tool(context, view(*name))) {
        output.push_back({{"id", item_id("ctc", context.response_id, output.size())},
                          {"type", "custom_tool_call"},
                          {"status", "completed"},
                          {"call_id", std::move(call_id)},
                          {"name", view(*name)},
                          {"input", custom_input(arguments)}});
      } else {
        output.push_back({{"id", item_id("fc", context.response_id, output.size())},
                          {"type", "function_call"},
                          {"status", "completed"},
                          {"arguments", std::move(arguments)},
                          {"call_id", std::move(call_id)},
                          {"name", view(*name)}});
      }
    }
  }
  const auto* model = string_member(*body, "model");
  envelope e{.status = reason.empty() ? "completed" : "incomplete",
             .model = model != nullptr ? view(*model) : std::string_view{},
             .incomplete_reason = reason,
             .with_usage = true,
             .usage = read_usage(body->if_contains("usage"))};
  return json::serialize(response_json(context, e, std::move(output)));
}

std::string response_id_for(std::string_view request_id) {
  std::string id = "resp_";
  for (char c : request_id) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
    if (keep && id.size() < 5 + 64) {
      id += c;
    }
  }
  return id;
}

}  // namespace switchyard
