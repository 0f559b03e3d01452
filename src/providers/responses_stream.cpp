#include "switchyard/providers/responses_stream.hpp"

#include "responses_object.hpp"

#include <boost/json.hpp>

#include <utility>

namespace switchyard {
namespace json = boost::json;
using namespace responses_detail;

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

/// A non-empty string member, or "".
std::string_view text_member(const json::object& o, std::string_view key) {
  const auto* s = string_member(o, key);
  return s != nullptr ? view(*s) : std::string_view{};
}

bool is_first_choice(const json::object& choice) {
  const auto* index = choice.if_contains("index");
  return index == nullptr || (index->is_int64() && index->get_int64() == 0) ||
         (index->is_uint64() && index->get_uint64() == 0);
}

}  // namespace

chat_to_responses_stream::chat_to_responses_stream(responses_context context)
    : context_(std::move(context)) {}

void chat_to_responses_stream::emit(std::string_view type, json::object body, std::string& out) {
  json::object event;
  event.reserve(body.size() + 2);
  event["type"] = type;
  event["sequence_number"] = sequence_++;
  for (auto& m : body) {
    event[m.key()] = std::move(m.value());
  }
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += json::serialize(event);
  out += "\n\n";
}

void chat_to_responses_stream::start(std::string& out) {
  if (started_) {
    return;
  }
  started_ = true;
  const envelope e{.status = "in_progress", .model = upstream_model_};
  emit("response.created", {{"response", response_json(context_, e, {})}}, out);
  emit("response.in_progress", {{"response", response_json(context_, e, {})}}, out);
}

result<void> chat_to_responses_stream::feed(std::string_view data, std::string& out) {
  if (state_ != responses_stream_state::open) {
    return {};
  }
  if (trim(data) == "[DONE]") {
    complete(out);
    return {};
  }
  return chunk(data, out);
}

result<void> chat_to_responses_stream::finish(std::string& out) {
  if (state_ != responses_stream_state::open) {
    return {};
  }
  if (finish_reason_) {
    complete(out);  // a server that ends without `[DONE]` after the choice finished
    return {};
  }
  return broken("upstream stream ended before completion", out);
}

result<void> chat_to_responses_stream::chunk(std::string_view data, std::string& out) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (o == nullptr) {
    return broken("upstream sent a stream event that is not a JSON object", out);
  }
  if (const auto* err = o->if_contains("error"); err != nullptr && !err->is_null()) {
    const auto* eo = err->if_object();
    const std::string_view message = eo != nullptr ? text_member(*eo, "message") : "";
    return broken(
        message.empty() ? std::string("upstream error") : "upstream error: " + std::string(message),
        out);
  }
  if (upstream_model_.empty()) {
    upstream_model_ = std::string(text_member(*o, "model"));  // Azure's first chunk has ""
  }
  start(out);
  auto u = read_usage(o->if_contains("usage"));
  if (!u) {
    // Groq reports stream usage under `x_groq.usage` (as proxy/stream_event reads it).
    if (const auto* groq = o->if_contains("x_groq"); groq != nullptr && groq->is_object()) {
      u = read_usage(groq->get_object().if_contains("usage"));
    }
  }
  if (u) {
    usage_ = u;
  }
  const auto* choices_v = o->if_contains("choices");
  const auto* choices = choices_v != nullptr ? choices_v->if_array() : nullptr;
  if (choices == nullptr) {
    return {};  // not a chunk we know (e.g. a keep-alive object): nothing to say
  }
  for (const auto& c : *choices) {
    const auto* choice = c.if_object();
    if (choice == nullptr || !is_first_choice(*choice)) {
      continue;  // the gateway never asks for n > 1
    }
    if (const auto* d = choice->if_contains("delta"); d != nullptr && d->is_object()) {
      const auto& delta = d->get_object();
      std::string_view reasoning = text_member(delta, "reasoning_content");
      if (reasoning.empty()) {
        reasoning = text_member(delta, "reasoning");  // vLLM's newer name
      }
      if (!reasoning.empty()) {
        reasoning_delta(reasoning, out);
      }
      if (auto text = text_member(delta, "content"); !text.empty()) {
        content_delta(part_kind::text, text, out);
      }
      if (auto refusal = text_member(delta, "refusal"); !refusal.empty()) {
        content_delta(part_kind::refusal, refusal, out);
      }
      if (const auto* calls = delta.if_contains("tool_calls"); calls != nullptr) {
        if (const auto* list = calls->if_array(); list != nullptr) {
          for (const auto& call : *list) {
            if (const auto* co = call.if_object(); co != nullptr) {
              tool_call_delta(*co, out);
            }
          }
        }
      }
    }
    if (const auto* f = string_member(*choice, "finish_reason"); f != nullptr) {
      finish_reason_ = std::string(view(*f));
    }
  }
  return {};
}

std::size_t chat_to_responses_stream::add_item(item it, std::string& out) {
  const std::size_t index = items_.size();
  items_.push_back(std::move(it));
  emit("response.output_item.added", {{"output_index", index}, {"item", item_json(items_.back())}},
       out);
  return index;
}

json::object chat_to_responses_stream::item_json(const item& it) const {
  switch (it.kind) {
    case item_kind::message: {
      json::array content;
      for (const auto& [kind, text] : it.parts) {
        if (kind == part_kind::text) {
          content.push_back({{"type", "output_text"},
                             {"text", text},
                             {"annotations", json::array{}},
                             {"logprobs", json::array{}}});
        } else {
          content.push_back({{"type", "refusal"}, {"refusal", text}});
        }
      }
      return {{"id", it.id},
              {"type", "message"},
              {"status", it.status},
              {"content", std::move(content)},
              {"role", "assistant"}};
    }
    case item_kind::reasoning: {
      json::array summary;
      if (!it.text.empty()) {
        summary.push_back({{"type", "summary_text"}, {"text", it.text}});
      }
      return {{"id", it.id}, {"type", "reasoning"}, {"summary", std::move(summary)}};
    }
    case item_kind::function_call:
      return {{"id", it.id},          {"type", "function_call"}, {"status", it.status},
              {"arguments", it.text}, {"call_id", it.call_id},   {"name", it.name}};
    case item_kind::custom_tool_call:
      break;
  }
  // The AI SDK accepts only status "completed" on a finished custom_tool_call (the schema has
  // no status for it): an incomplete response says the rest.
  return {{"id", it.id},
          {"type", "custom_tool_call"},
          {"status", it.open ? "in_progress" : "completed"},
          {"call_id", it.call_id},
          {"name", it.name},
          {"input", it.open ? std::string() : custom_input(it.text)}};
}

json::array chat_to_responses_stream::output_json() const {
  json::array output;
  output.reserve(items_.size());
  for (const auto& it : items_) {
    output.push_back(item_json(it));
  }
  return output;
}

void chat_to_responses_stream::reasoning_delta(std::string_view delta, std::string& out) {
  if (!open_reasoning_) {
    if (open_message_) {
      close_item(*open_message_, "completed", out);
    }
    item it{.kind = item_kind::reasoning};
    it.id = item_id("rs", context_.response_id, items_.size());
    open_reasoning_ = add_item(std::move(it), out);
    const item& r = items_[*open_reasoning_];
    emit("response.reasoning_summary_part.added",
         {{"item_id", r.id},
          {"output_index", *open_reasoning_},
          {"summary_index", 0},
          {"part", {{"type", "summary_text"}, {"text", ""}}}},
         out);
  }
  item& r = items_[*open_reasoning_];
  r.text += delta;
  emit("response.reasoning_summary_text.delta",
       {{"item_id", r.id},
        {"output_index", *open_reasoning_},
        {"summary_index", 0},
        {"delta", delta}},
       out);
}

void chat_to_responses_stream::content_delta(part_kind kind, std::string_view delta,
                                             std::string& out) {
  if (open_reasoning_) {
    close_item(*open_reasoning_, "completed", out);
  }
  if (!open_message_) {
    item it{.kind = item_kind::message};
    it.id = item_id("msg", context_.response_id, items_.size());
    open_message_ = add_item(std::move(it), out);
  }
  const std::size_t index = *open_message_;
  item& m = items_[index];
  if (!m.part_open || m.parts.back().first != kind) {
    if (m.part_open) {
      close_part(index, out);
    }
    m.parts.emplace_back(kind, std::string());
    m.part_open = true;
    json::object part = kind == part_kind::text
                            ? json::object{{"type", "output_text"},
                                           {"text", ""},
                                           {"annotations", json::array{}},
                                           {"logprobs", json::array{}}}
                            : json::object{{"type", "refusal"}, {"refusal", ""}};
    emit("response.content_part.added",
         {{"item_id", m.id},
          {"output_index", index},
          {"content_index", m.parts.size() - 1},
          {"part", std::move(part)}},
         out);
  }
  m.parts.back().second += delta;
  json::object body{{"item_id", m.id},
                    {"output_index", index},
                    {"content_index", m.parts.size() - 1},
                    {"delta", delta}};
  if (kind == part_kind::text) {
    body["logprobs"] = json::array{};
  }
  emit(kind == part_kind::text ? "response.output_text.delta" : "response.refusal.delta",
       std::move(body), out);
}

void chat_to_responses_stream::tool_call_delta(const json::object& call, std::string& out) {
  const std::string_view id = text_member(call, "id");
  const auto* index_v = call.if_contains("index");
  pending_call* pending = nullptr;
  if (index_v != nullptr && (index_v->is_int64() || index_v->is_uint64())) {
    const std::int64_t index = index_v->is_int64()
                                   ? index_v->get_int64()
                                   : static_cast<std::int64_t>(index_v->get_uint64());
    for (auto& c : calls_) {
      pending = c.index == index ? &c : pending;
    }
    if (pending == nullptr) {
      pending = &calls_.emplace_back(pending_call{.index = index});
    }
  } else {
    // No index (a few servers): a new id starts a call, otherwise it continues the last one.
    for (auto& c : calls_) {
      pending = !id.empty() && c.call_id == id ? &c : pending;
    }
    if (pending == nullptr && (calls_.empty() || !id.empty())) {
      pending = &calls_.emplace_back(
          pending_call{.index = -1 - static_cast<std::int64_t>(calls_.size())});
    }
    pending = pending != nullptr ? pending : &calls_.back();
  }
  if (!pending->announced && pending->call_id.empty() && !id.empty()) {
    pending->call_id = std::string(id);
  }
  std::string_view arguments;
  if (const auto* f = call.if_contains("function"); f != nullptr && f->is_object()) {
    const auto& fn = f->get_object();
    if (const auto name = text_member(fn, "name"); !name.empty() && pending->name.empty()) {
      pending->name = std::string(name);
    }
    arguments = text_member(fn, "arguments");
  }
  if (!pending->announced) {
    pending->arguments += arguments;
    if (!pending->name.empty()) {
      announce(*pending, out);
    }
    return;
  }
  item& it = items_[pending->item];
  if (arguments.empty() || !it.open) {
    return;
  }
  it.text += arguments;
  if (it.kind == item_kind::function_call) {
    emit("response.function_call_arguments.delta",
         {{"item_id", it.id}, {"output_index", pending->item}, {"delta", arguments}}, out);
  }
}

void chat_to_responses_stream::announce(pending_call& call, std::string& out) {
  close_text_items(out);  // a message or reasoning before the calls is finished by now
  const bool custom = is_custom_tool(context_, call.name);
  item it{.kind = custom ? item_kind::custom_tool_call : item_kind::function_call};
  it.id = item_id(custom ? "ctc" : "fc", context_.response_id, items_.size());
  it.call_id =
      !call.call_id.empty() ? call.call_id : item_id("call", context_.response_id, items_.size());
  it.name = call.name;
  call.item = add_item(std::move(it), out);
  call.announced = true;
  item& added = items_[call.item];
  added.text = std::move(call.arguments);
  call.arguments.clear();
  if (!custom && !added.text.empty()) {
    emit("response.function_call_arguments.delta",
         {{"item_id", added.id}, {"output_index", call.item}, {"delta", added.text}}, out);
  }
}

void chat_to_responses_stream::close_part(std::size_t index, std::string& out) {
  item& m = items_[index];
  m.part_open = false;
  const auto& [kind, text] = m.parts.back();
  const std::size_t content_index = m.parts.size() - 1;
  if (kind == part_kind::text) {
    emit("response.output_text.done",
         {{"item_id", m.id},
          {"output_index", index},
          {"content_index", content_index},
          {"text", text},
          {"logprobs", json::array{}}},
         out);
    emit("response.content_part.done",
         {{"item_id", m.id},
          {"output_index", index},
          {"content_index", content_index},
          {"part",
           {{"type", "output_text"},
            {"text", text},
            {"annotations", json::array{}},
            {"logprobs", json::array{}}}}},
         out);
  } else {
    emit("response.refusal.done",
         {{"item_id", m.id},
          {"output_index", index},
          {"content_index", content_index},
          {"refusal", text}},
         out);
    emit("response.content_part.done",
         {{"item_id", m.id},
          {"output_index", index},
          {"content_index", content_index},
          {"part", {{"type", "refusal"}, {"refusal", text}}}},
         out);
  }
}

void chat_to_responses_stream::close_item(std::size_t index, std::string_view status,
                                          std::string& out) {
  item& it = items_[index];
  if (!it.open) {
    return;
  }
  switch (it.kind) {
    case item_kind::message:
      if (it.part_open) {
        close_part(index, out);
      }
      open_message_.reset();
      break;
    case item_kind::reasoning:
      emit("response.reasoning_summary_text.done",
           {{"item_id", it.id}, {"output_index", index}, {"summary_index", 0}, {"text", it.text}},
           out);
      emit("response.reasoning_summary_part.done",
           {{"item_id", it.id},
            {"output_index", index},
            {"summary_index", 0},
            {"part", {{"type", "summary_text"}, {"text", it.text}}}},
           out);
      open_reasoning_.reset();
      break;
    case item_kind::function_call:
      emit("response.function_call_arguments.done",
           {{"item_id", it.id}, {"output_index", index}, {"name", it.name}, {"arguments", it.text}},
           out);
      break;
    case item_kind::custom_tool_call: {
      std::string input = custom_input(it.text);
      if (!input.empty()) {
        emit("response.custom_tool_call_input.delta",
             {{"item_id", it.id}, {"output_index", index}, {"delta", input}}, out);
      }
      emit("response.custom_tool_call_input.done",
           {{"item_id", it.id}, {"output_index", index}, {"input", std::move(input)}}, out);
      break;
    }
  }
  it.open = false;
  it.status = status;
  emit("response.output_item.done", {{"output_index", index}, {"item", item_json(it)}}, out);
}

void chat_to_responses_stream::close_text_items(std::string& out) {
  if (open_reasoning_) {
    close_item(*open_reasoning_, "completed", out);
  }
  if (open_message_) {
    close_item(*open_message_, "completed", out);
  }
}

void chat_to_responses_stream::complete(std::string& out) {
  start(out);
  const std::string_view reason = incomplete_reason(finish_reason_.value_or(""));
  const std::string_view status = reason.empty() ? "completed" : "incomplete";
  // Calls that never got a name never reached the client and cannot be called: dropped.
  for (std::size_t i = 0; i < items_.size(); ++i) {
    close_item(i, status, out);
  }
  const envelope e{.status = status,
                   .model = upstream_model_,
                   .incomplete_reason = reason,
                   .with_usage = true,
                   .usage = usage_};
  state_ = reason.empty() ? responses_stream_state::completed : responses_stream_state::incomplete;
  emit(reason.empty() ? "response.completed" : "response.incomplete",
       {{"response", response_json(context_, e, output_json())}}, out);
}

void chat_to_responses_stream::fail(const error& e, std::string& out) {
  if (state_ != responses_stream_state::open) {
    return;
  }
  start(out);
  for (auto& it : items_) {
    if (it.open) {
      it.status = "incomplete";
    }
  }
  // As OpenAI does: an `error` event, then the failed response. The event has both shapes: the
  // documented one (code, message, param at the top) and the one OpenAI sends (an `error`
  // object), which is what openai-node 6.x raises as an APIError; the AI SDK reads either.
  const std::string_view code = response_error_code(e);
  emit("error",
       {{"code", code},
        {"message", e.message},
        {"param", nullptr},
        {"error", {{"type", code}, {"code", code}, {"message", e.message}, {"param", nullptr}}}},
       out);
  const envelope env{.status = "failed",
                     .model = upstream_model_,
                     .failure = &e,
                     .with_usage = usage_.has_value(),
                     .usage = usage_};
  state_ = responses_stream_state::failed;
  emit("response.failed", {{"response", response_json(context_, env, output_json())}}, out);
}

error chat_to_responses_stream::broken(std::string message, std::string& out) {
  error e = make_error(errc::upstream_broken, std::move(message));
  e.source = error_source::upstream;
  fail(e, out);
  return e;
}

}  // namespace switchyard
