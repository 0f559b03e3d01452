#include "switchyard/proxy/translation.hpp"

#include "switchyard/providers/anthropic_chat.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace {

std::string_view type_name(upstream_type t) noexcept {
  switch (t) {
    case upstream_type::openai:
      return "openai";
    case upstream_type::azure:
      return "azure";
    case upstream_type::anthropic:
      return "anthropic";
  }
  return "";
}

std::string_view api_title(api_kind a) noexcept {
  switch (a) {
    case api_kind::chat:
      return "chat completions";
    case api_kind::completions:
      return "completions";
    case api_kind::embeddings:
      return "embeddings";
    case api_kind::responses:
      return "Responses";
    case api_kind::messages:
      return "Anthropic Messages";
  }
  return "";
}

error refused(api_kind client, const upstream_config& up, std::string_view model,
              std::string_view why) {
  return make_error(errc::invalid_request,
                    "The model `" + std::string(model) + "` is served by upstream " + up.name +
                        " (type " + std::string(type_name(up.kind)) + "), which does not serve the " +
                        std::string(api_title(client)) + " API; " + std::string(why),
                    "model");
}

// The OpenAI view of Anthropic's counts, the cache reads and writes kept apart.
token_usage openai_usage(const anthropic_usage& a) noexcept {
  token_usage u = a.openai();
  u.cache_read_tokens = a.cache_read_input_tokens;
  u.cache_write_tokens = a.cache_creation_input_tokens;
  return u;
}

token_usage responses_tokens(const responses_usage& r) noexcept {
  token_usage u = r.tokens;
  u.cache_read_tokens = r.cached_tokens;
  return u;
}

// A chat completion's `usage` (prompt/completion/total and cached tokens), if any.
std::optional<token_usage> chat_body_usage(std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  const auto* u = v.as_object().if_contains("usage");
  if (!u || !u->is_object()) {
    return std::nullopt;
  }
  const auto& o = u->as_object();
  auto num = [](const boost::json::object& obj, std::string_view key) -> std::int64_t {
    const auto* x = obj.if_contains(key);
    return x && x->is_int64() ? x->as_int64() : x && x->is_uint64() ? static_cast<std::int64_t>(x->as_uint64()) : 0;
  };
  token_usage t{num(o, "prompt_tokens"), num(o, "completion_tokens"), num(o, "total_tokens")};
  if (t.total_tokens == 0) {
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
  }
  if (const auto* d = o.if_contains("prompt_tokens_details"); d && d->is_object()) {
    t.cache_read_tokens = num(d->as_object(), "cached_tokens");
  }
  return t;
}

// The translated chat body with `model` set to the upstream's name (the Responses translation
// keeps the client's).
result<std::string> with_model(std::string body, std::string_view model) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return make_error(errc::internal, "the translated chat request does not parse");
  }
  auto& o = v.as_object();
  if (const auto* m = o.if_contains("model"); m && m->is_string() && m->as_string() == model) {
    return body;
  }
  o["model"] = model;
  return boost::json::serialize(v);
}

}  // namespace

std::string_view translation_label(translation t) noexcept {
  switch (t) {
    case translation::none:
      return "none";
    case translation::responses_to_chat:
      return "responses_to_chat";
    case translation::chat_to_messages:
      return "chat_to_messages";
    case translation::responses_to_messages:
      return "responses_to_messages";
  }
  return "";
}

result<translation_plan> plan_translation(endpoint client, const upstream_config& up,
                                          std::string_view model) {
  const api_kind api = endpoint_api(client);
  if (serves(up.apis, api)) {
    return translation_plan{translation::none, client};
  }
  switch (api) {
    case api_kind::chat:
      if (serves(up.apis, api_kind::messages)) {
        return translation_plan{translation::chat_to_messages, endpoint::messages};
      }
      return refused(api, up, model, "add chat to its `apis:` if it does");
    case api_kind::responses:
      if (serves(up.apis, api_kind::chat)) {
        return translation_plan{translation::responses_to_chat, endpoint::chat_completions};
      }
      if (serves(up.apis, api_kind::messages)) {
        return translation_plan{translation::responses_to_messages, endpoint::messages};
      }
      return refused(api, up, model, "nor chat completions or Anthropic Messages, which the "
                                     "gateway translates Responses requests to");
    case api_kind::completions:
    case api_kind::embeddings:
      return refused(api, up, model,
                     "the gateway translates only chat completions and Responses requests to "
                     "other APIs");
    case api_kind::messages:
      return refused(api, up, model,
                     "the gateway passes Messages requests through to upstreams that serve "
                     "them (type anthropic) and does not translate them");
  }
  return refused(api, up, model, "");
}

result<std::string> translate_request(const translation_plan& plan, std::string_view body,
                                      const request_translation_inputs& in,
                                      response_translation& out) {
  out = response_translation{};
  out.kind = plan.kind;
  const anthropic_request_options anthropic{.model = std::string(in.upstream_model),
                                            .default_max_tokens = in.default_max_tokens};
  switch (plan.kind) {
    case translation::none:
      return std::string(body);
    case translation::chat_to_messages: {
      auto r = translate_chat_request(body, anthropic);
      if (!r) {
        return r.error();
      }
      // The client's own include_usage decides the usage chunk; usage the gateway injected is
      // not shown (Anthropic reports usage anyway).
      out.chat = chat_response_context{.model = {},
                                       .created = in.unix_seconds,
                                       .include_usage = r->include_usage && !in.strip_usage,
                                       .reasoning = true};
      return std::move(r->body);
    }
    case translation::responses_to_chat:
    case translation::responses_to_messages: {
      auto r = translate_responses_request(body, {});
      if (!r) {
        return r.error();
      }
      out.responses = std::move(r->context);
      out.responses.response_id = response_id_for(in.request_id);
      out.responses.created_at = in.unix_seconds;
      if (plan.kind == translation::responses_to_chat) {
        return with_model(std::move(r->body), in.upstream_model);
      }
      auto a = translate_chat_request(r->body, anthropic);
      if (!a) {
        return a.error();
      }
      // The chat chunks between the translators carry usage: the Response reports it.
      out.chat = chat_response_context{
          .model = {}, .created = in.unix_seconds, .include_usage = true, .reasoning = true};
      return std::move(a->body);
    }
  }
  return std::string(body);
}

result<translated_body> translate_response_body(const response_translation& t,
                                                std::string_view body) {
  switch (t.kind) {
    case translation::none:
      return translated_body{std::string(body), std::nullopt};
    case translation::chat_to_messages: {
      auto r = translate_messages_response(body, t.chat);
      if (!r) {
        return r.error();
      }
      return translated_body{std::move(r->body), openai_usage(r->usage)};
    }
    case translation::responses_to_chat: {
      auto r = translate_chat_response(body, t.responses);
      if (!r) {
        return r.error();
      }
      return translated_body{std::move(*r), chat_body_usage(body)};
    }
    case translation::responses_to_messages: {
      auto chat = translate_messages_response(body, t.chat);
      if (!chat) {
        return chat.error();
      }
      auto r = translate_chat_response(chat->body, t.responses);
      if (!r) {
        return r.error();
      }
      return translated_body{std::move(*r), openai_usage(chat->usage)};
    }
  }
  return translated_body{std::string(body), std::nullopt};
}

response_translator::response_translator(const response_translation& t,
                                         std::size_t max_event_bytes)
    : kind_(t.kind), chat_sse_(max_event_bytes) {
  if (kind_ == translation::chat_to_messages || kind_ == translation::responses_to_messages) {
    anthropic_.emplace(t.chat);
  }
  if (kind_ == translation::responses_to_chat || kind_ == translation::responses_to_messages) {
    responses_.emplace(t.responses);
  }
}

void response_translator::feed(std::string_view event, std::string_view data, std::string& out) {
  switch (kind_) {
    case translation::none:
      return;
    case translation::chat_to_messages:
      anthropic_->feed(event, data, out);
      return;
    case translation::responses_to_chat:
      if (auto r = responses_->feed(data, out); !r && !failure_) {
        failure_ = r.error();
      }
      return;
    case translation::responses_to_messages:
      chat_buf_.clear();
      anthropic_->feed(event, data, chat_buf_);
      feed_chat(chat_buf_, out);
      return;
  }
}

void response_translator::feed_chat(std::string_view chat_sse, std::string& out) {
  chat_events_.clear();
  if (auto r = chat_sse_.feed(chat_sse, chat_events_); !r) {
    responses_->fail(r.error(), out);  // cannot happen: the translator writes whole events
    return;
  }
  for (const auto& e : chat_events_) {
    if (auto r = responses_->feed(e.data, out); !r && !failure_) {
      failure_ = r.error();
    }
  }
}

bool response_translator::ended() const noexcept {
  if (responses_) {
    return responses_->state() != responses_stream_state::open;
  }
  return anthropic_ && (anthropic_->state() == anthropic_to_chat_stream::phase::completed ||
                        anthropic_->state() == anthropic_to_chat_stream::phase::failed);
}

std::optional<error> response_translator::finish(std::string& out) {
  if (anthropic_ && anthropic_->finish() == anthropic_to_chat_stream::end::cut) {
    error e = make_error(errc::upstream_broken, "upstream ended the stream before message_stop");
    e.source = error_source::upstream;
    if (responses_) {
      responses_->fail(e, out);
    } else {
      out += error_event(e);
    }
    return e;
  }
  if (responses_) {
    if (auto r = responses_->finish(out); !r) {
      return r.error();
    }
  }
  return failure();
}

void response_translator::fail(const error& e, std::string& out) {
  if (ended()) {
    return;
  }
  if (responses_) {
    responses_->fail(e, out);
  } else {
    out += error_event(e);
  }
}

bool response_translator::output_started() const noexcept {
  if (responses_) {
    return responses_->output_started();
  }
  return anthropic_ && anthropic_->output_started();
}

std::optional<error> response_translator::failure() const {
  // The Anthropic side knows whether the upstream's error is worth a retry (overloaded…).
  if (anthropic_ && anthropic_->failure()) {
    return anthropic_->failure();
  }
  return failure_;
}

std::optional<token_usage> response_translator::usage() const {
  if (anthropic_) {
    if (anthropic_->state() == anthropic_to_chat_stream::phase::awaiting_start) {
      return std::nullopt;
    }
    return openai_usage(anthropic_->usage());
  }
  if (responses_ && responses_->usage()) {
    return responses_tokens(*responses_->usage());
  }
  return std::nullopt;
}

}  // namespace switchyard
