// The Messages ingress before the upstream: parsing Anthropic Messages bodies, the variant's
// rewrite (model, prompt → `system`, params), and the phases on /v1/messages and count_tokens.
// Request shapes from Anthropic's Messages API reference and the prompt caching and extended
// thinking guides (cache_control on system blocks, thinking blocks with signatures).
#include "switchyard/proxy/fail.hpp"
#include "switchyard/proxy/phases.hpp"
#include "switchyard/proxy/rewrite.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>

namespace switchyard {
namespace {

simdjson::ondemand::parser parser;

struct parsed {
  std::string body;
  result<request_fields> fields = make_error(errc::internal, "unparsed");
};

std::unique_ptr<parsed> parse(endpoint ep, std::string body) {
  auto p = std::make_unique<parsed>();
  p->body = std::move(body);
  pad_for_simdjson(p->body);
  p->fields = parse_request_body(ep, parser, p->body);
  return p;
}

boost::json::value json(std::string_view text) { return boost::json::parse(text); }

TEST(messages_request, parses_model_stream_max_tokens_system_and_the_user_id) {
  auto p = parse(endpoint::messages, R"({"model":"claude-sonnet-4-5","max_tokens":1024,
    "system":"You are terse.","stream":true,"metadata":{"user_id":"u-\u00e9"},
    "messages":[{"role":"user","content":"Hello"}]})");
  ASSERT_TRUE(p->fields) << p->fields.error().message;
  EXPECT_EQ(p->fields->model, "claude-sonnet-4-5");
  EXPECT_TRUE(p->fields->stream);
  EXPECT_EQ(p->fields->max_tokens, 1024u);
  EXPECT_EQ(p->fields->system, request_fields::system_form::string);
  EXPECT_EQ(p->fields->metadata_user, "u-\\u00e9") << "raw, decoded by assignment";
  EXPECT_EQ(p->fields->n, 1u);
}

TEST(messages_request, refuses_what_anthropic_refuses_with_its_wording) {
  struct bad {
    const char* body;
    const char* param;
    const char* message;
  };
  const bad cases[] = {
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model",
       "model: Field required"},
      {R"({"model":"c","messages":[{"role":"user","content":"x"}]})", "max_tokens",
       "max_tokens: Field required"},
      {R"({"model":"c","max_tokens":5})", "messages", "messages: Field required"},
      {R"({"model":"c","max_tokens":5,"messages":[]})", "messages",
       "messages: at least one message is required"},
      {R"({"model":"c","max_tokens":"5","messages":[{"role":"user","content":"x"}]})",
       "max_tokens", nullptr},
      {R"({"model":"c","max_tokens":-1,"messages":[{"role":"user","content":"x"}]})",
       "max_tokens", nullptr},
      {R"({"model":"c","max_tokens":5,"messages":"hi"})", "messages", nullptr},
      {R"({"model":"c","max_tokens":5,"messages":["hi"]})", "messages.0", nullptr},
      {R"({"model":"c","max_tokens":5,"system":42,"messages":[{"role":"user","content":"x"}]})",
       "system", nullptr},
      {R"({"model":"c","max_tokens":5,"system":["a"],"messages":[{"role":"user","content":"x"}]})",
       "system.0", nullptr},
      {R"({"model":7,"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model",
       nullptr},
      {R"({"model":"c","max_tokens":5,"stream":"yes","messages":[{"role":"user","content":"x"}]})",
       "stream", nullptr},
  };
  for (const auto& c : cases) {
    auto p = parse(endpoint::messages, c.body);
    ASSERT_FALSE(p->fields) << c.body;
    EXPECT_EQ(p->fields.error().code, errc::invalid_request) << c.body;
    EXPECT_EQ(p->fields.error().param, c.param) << c.body;
    if (c.message) {
      EXPECT_EQ(p->fields.error().message, c.message);
    }
  }
}

TEST(messages_request, count_tokens_needs_no_max_tokens) {
  auto p = parse(endpoint::count_tokens,
                 R"({"model":"c","messages":[{"role":"user","content":"Hello, world"}]})");
  ASSERT_TRUE(p->fields) << p->fields.error().message;
  EXPECT_FALSE(p->fields->max_tokens);
}

TEST(messages_request, bad_json_is_refused_without_naming_the_openai_api) {
  auto p = parse(endpoint::messages, R"({"model":"c", "max_tokens": 5, "messages": [}")");
  ASSERT_FALSE(p->fields);
  EXPECT_EQ(p->fields.error().code, errc::invalid_request);
  EXPECT_EQ(p->fields.error().message.find("OpenAI"), std::string::npos)
      << p->fields.error().message;
  auto dup = parse(endpoint::messages,
                   R"({"model":"c","model":"d","max_tokens":5,"messages":[{"role":"user"}]})");
  ASSERT_FALSE(dup->fields) << "strict as for chat: duplicate keys";
}

// A conversation as Claude Code sends it: cache_control on the system blocks, a thinking block
// with its signature and a redacted_thinking block from the previous turn, odd spacing.
constexpr std::string_view conversation = R"({"model": "claude-opus-4-1", "max_tokens": 32000,
  "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
             {"type":"text","text":"Be \"precise\"."}],
  "messages": [{"role":"user","content":"hi"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"Let me think","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
      {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
      {"type":"text","text":"Hello!","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
    {"role":"user","content":"more"}],
  "thinking": {"type": "enabled", "budget_tokens": 10000}, "stream": true})";

std::string member_text(std::string_view body, std::string_view key) {
  auto p = parse(endpoint::messages, std::string(body));
  EXPECT_TRUE(p->fields);
  const auto* m = p->fields->find(key);
  if (!m) {
    return {};
  }
  const auto i = static_cast<std::size_t>(m - p->fields->members.data());
  return p->body.substr(m->value_begin, p->fields->member_end(p->body, i) - m->value_begin);
}

TEST(messages_rewrite, the_prompt_is_prepended_as_a_text_block_and_every_client_byte_kept) {
  auto p = parse(endpoint::messages, std::string(conversation));
  ASSERT_TRUE(p->fields);
  body_edit e;
  e.system_message = "Answer in French.";
  e.messages_system = true;
  e.set.emplace_back("model", R"("claude-sonnet-4-5")");
  const std::string out = apply_edit(p->body, *p->fields, e);
  const auto v = json(out);
  EXPECT_EQ(v.at("model"), "claude-sonnet-4-5");
  const auto& system = v.at("system").as_array();
  ASSERT_EQ(system.size(), 3u);
  EXPECT_EQ(system[0].at("text"), "Answer in French.");
  EXPECT_EQ(system[1].at("cache_control").at("type"), "ephemeral");
  // The client's system blocks, messages (thinking signatures, redacted data, cache_control)
  // and thinking are the client's bytes.
  const std::string client_system = member_text(conversation, "system");
  EXPECT_NE(out.find(client_system.substr(1)), std::string::npos);
  EXPECT_NE(out.find(member_text(conversation, "messages")), std::string::npos);
  EXPECT_NE(out.find(member_text(conversation, "thinking")), std::string::npos);
  EXPECT_EQ(v.at("stream"), true);
}

TEST(messages_rewrite, a_string_system_follows_the_prompt_as_its_own_block) {
  auto p = parse(endpoint::messages,
                 R"({"model":"c","max_tokens":5,"system":"Be \"brief\"\n","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(p->fields);
  body_edit e;
  e.system_message = "P";
  e.messages_system = true;
  const std::string out = apply_edit(p->body, *p->fields, e);
  EXPECT_NE(out.find(R"({"type":"text","text":"Be \"brief\"\n"})"), std::string::npos) << out;
  const auto v = json(out);
  ASSERT_EQ(v.at("system").as_array().size(), 2u);
  EXPECT_EQ(v.at("system").as_array()[0].at("text"), "P");
  EXPECT_EQ(v.at("system").as_array()[1].at("text"), "Be \"brief\"\n");
}

TEST(messages_rewrite, replace_mode_or_no_client_system_makes_the_prompt_the_system) {
  auto p = parse(endpoint::messages, std::string(conversation));
  ASSERT_TRUE(p->fields);
  body_edit e;
  e.system_message = "Only this.";
  e.messages_system = true;
  e.replace_system = true;
  auto v = json(apply_edit(p->body, *p->fields, e));
  EXPECT_EQ(v.at("system"), "Only this.");

  auto q = parse(endpoint::messages,
                 R"({"model":"c","max_tokens":5,"messages":[{"role":"system","content":"x"}]})");
  ASSERT_TRUE(q->fields);
  body_edit f;
  f.system_message = "S";
  f.messages_system = true;
  const std::string out = apply_edit(q->body, *q->fields, f);
  v = json(out);
  EXPECT_EQ(v.at("system"), "S");
  EXPECT_EQ(v.at("messages").as_array().size(), 1u) << "messages untouched: " << out;
  EXPECT_EQ(v.at("messages").as_array()[0].at("content"), "x");
}

TEST(messages_rewrite, variant_params_map_to_the_messages_api_or_are_dropped) {
  using opt = std::optional<std::pair<std::string_view, std::string>>;
  EXPECT_EQ(messages_param(endpoint::messages, "temperature", "0.4"),
            (opt{{"temperature", "0.4"}}));
  EXPECT_EQ(messages_param(endpoint::messages, "max_completion_tokens", "100"),
            (opt{{"max_tokens", "100"}}));
  EXPECT_EQ(messages_param(endpoint::messages, "stop", R"("END")"),
            (opt{{"stop_sequences", R"(["END"])"}}));
  EXPECT_EQ(messages_param(endpoint::messages, "stop", R"(["a","b"])"),
            (opt{{"stop_sequences", R"(["a","b"])"}}));
  EXPECT_EQ(messages_param(endpoint::messages, "frequency_penalty", "0.5"), std::nullopt);
  EXPECT_EQ(messages_param(endpoint::messages, "seed", "1"), std::nullopt);
  EXPECT_EQ(messages_param(endpoint::count_tokens, "temperature", "0.4"), std::nullopt)
      << "count_tokens takes no sampling parameters";
  EXPECT_EQ(messages_param(endpoint::count_tokens, "thinking", R"({"type":"disabled"})"),
            (opt{{"thinking", R"({"type":"disabled"})"}}));
}

// The phases on the Messages paths.
const char* yaml = R"(
upstreams:
  - { name: claude, type: anthropic, base_url: "http://127.0.0.1:9/v1", api_key: sk-ant }
  - { name: oai, base_url: "http://127.0.0.1:9/v1" }
models:
  - { name: claude-sonnet-4-5, upstream: claude }
  - { name: claude-opus-4-1, upstream: claude }
  - { name: gpt-4o, upstream: oai }
prompts:
  - name: p
    versions:
      - { version: v1, template: "You are a careful assistant." }
experiments:
  - name: claude-ab
    match: { model: claude }
    unit: header:x-claude-code-session-id
    variants:
      - { name: control, model: claude-sonnet-4-5 }
      - { name: treatment, model: claude-opus-4-1, prompt: p@v1,
          params: { temperature: 0.2, frequency_penalty: 0.1 } }
rate_limits:
  - { scope: api_key, requests: 1, period: 60s }
)";

const std::shared_ptr<const config>& full_config() {
  static const std::shared_ptr<const config> c = [] {
    auto cfg = parse_config(yaml);
    EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
    return std::make_shared<const config>(std::move(*cfg));
  }();
  return c;
}

struct fixture {
  explicit fixture(std::string body, endpoint ep = endpoint::messages)
      : snapshot(*build_plan(full_config(), {}, 1)),
        req(http::verb::post, ep == endpoint::messages ? "/v1/messages" : "/v1/messages/count_tokens",
            11),
        ctx{.req = req, .ep = ep, .rec = rec, .snapshot = snapshot} {
    req.body() = std::move(body);
    rec.request_id = "req_1";
  }
  std::shared_ptr<const plan> snapshot;
  client_request req;
  access_record rec;
  request_context ctx;
  simdjson::ondemand::parser json;
};

phase::assign_inputs inputs() {
  return {.random01 = 0.5, .nonce = 42, .unix_seconds = 1'700'000'000, .feedback_key = "k"};
}

// Runs parse → assign → route → rewrite for a session id that lands in `want`.
bool run_to_variant(fixture& f, std::string_view want) {
  for (int i = 0; i < 200; ++i) {
    f.req.set("x-claude-code-session-id", "session-" + std::to_string(i));
    f.rec = access_record{};
    f.ctx.tags.clear();
    if (!phase::parse(f.ctx, f.json)) {
      return false;
    }
    phase::assign(f.ctx, inputs());
    if (f.rec.variant == want) {
      return phase::route(f.ctx, full_config()->upstreams) && phase::rewrite(f.ctx, f.json);
    }
  }
  return false;
}

TEST(messages_phases, a_variant_sets_model_system_and_params_and_drops_what_anthropic_lacks) {
  fixture f(std::string(conversation).replace(conversation.find("claude-opus-4-1"), 15, "claude"));
  ASSERT_TRUE(run_to_variant(f, "treatment"));
  const auto v = json(f.req.body());
  EXPECT_EQ(v.at("model"), "claude-opus-4-1");
  EXPECT_EQ(v.at("system").as_array()[0].at("text"), "You are a careful assistant.");
  EXPECT_EQ(v.at("system").as_array().size(), 3u);
  EXPECT_EQ(v.at("temperature").as_double(), 0.2);
  EXPECT_FALSE(v.as_object().contains("frequency_penalty"));
  EXPECT_FALSE(v.as_object().contains("stream_options")) << "no usage injection on Messages";
  EXPECT_EQ(f.ctx.tags["x-switchyard-dropped-params"], "frequency_penalty");
  EXPECT_EQ(f.ctx.tags["x-switchyard-variant"], "treatment");
  EXPECT_FALSE(f.ctx.tags["x-switchyard-feedback-id"].empty());
  EXPECT_TRUE(f.ctx.assigned.counted);
  EXPECT_FALSE(f.ctx.inject_usage);
  EXPECT_NE(f.req.body().find(R"("signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")"),
            std::string::npos);
}

TEST(messages_phases, one_session_keeps_one_variant) {
  fixture f(R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  f.req.set("x-claude-code-session-id", "7d0f1c2e-session");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  const std::string first = f.rec.variant;
  for (int turn = 0; turn < 5; ++turn) {
    fixture g(R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"y"}]})");
    g.req.set("x-claude-code-session-id", "7d0f1c2e-session");
    ASSERT_TRUE(phase::parse(g.ctx, g.json));
    phase::assign(g.ctx, {.random01 = turn / 5.0, .nonce = 1, .unix_seconds = 1, .feedback_key = "k"});
    EXPECT_EQ(g.rec.variant, first);
  }
}

TEST(messages_phases, count_tokens_applies_the_variant_but_is_not_an_exposure) {
  fixture f(R"({"model":"claude","messages":[{"role":"user","content":"x"}]})",
            endpoint::count_tokens);
  ASSERT_TRUE(run_to_variant(f, "treatment"));
  const auto v = json(f.req.body());
  EXPECT_EQ(v.at("model"), "claude-opus-4-1");
  EXPECT_EQ(v.at("system"), "You are a careful assistant.");
  EXPECT_FALSE(v.as_object().contains("temperature")) << "count_tokens takes no temperature";
  EXPECT_FALSE(f.ctx.assigned.counted);
  EXPECT_EQ(f.rec.assignment, "count_tokens");
  EXPECT_TRUE(f.ctx.tags["x-switchyard-feedback-id"].empty());
  f.rec.status = 200;
  f.rec.bytes_in = 400;
  EXPECT_FALSE(phase::account(f.ctx, steady_clock::now(), 1)) << "no outcome recorded";
  EXPECT_FALSE(f.rec.usage) << "a token count is not token usage: nothing estimated";
  EXPECT_EQ(f.rec.cost_usd, 0);
}

TEST(messages_phases, a_model_on_an_upstream_without_the_messages_api_is_refused) {
  fixture f(R"({"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  auto r = phase::route(f.ctx, full_config()->upstreams);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_NE(r.error().message.find("oai"), std::string::npos);
}

TEST(messages_phases, x_api_key_is_the_client_key_for_rate_limits) {
  rate_limiter limiter(full_config()->rate_limits);
  for (int i = 0; i < 2; ++i) {
    fixture f(R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
    f.req.set("x-api-key", "sk-client-a");
    ASSERT_TRUE(phase::parse(f.ctx, f.json));
    phase::assign(f.ctx, inputs());
    ASSERT_TRUE(phase::route(f.ctx, full_config()->upstreams));
    auto r = phase::admit(f.ctx, limiter, "x-user", "claude", 1'000'000'000);
    EXPECT_EQ(static_cast<bool>(r), i == 0) << "one request per minute per key";
  }
  fixture other(R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
  other.req.set("x-api-key", "sk-client-b");
  ASSERT_TRUE(phase::parse(other.ctx, other.json));
  ASSERT_TRUE(phase::route(other.ctx, full_config()->upstreams));
  EXPECT_TRUE(phase::admit(other.ctx, limiter, "x-user", "claude", 1'000'000'000))
      << "another key has its own limit";
}

TEST(messages_fail, gateway_refusals_on_the_messages_paths_are_anthropic_shaped) {
  fixture f(R"({})");
  auto res = fail(f.ctx, make_error(errc::model_not_found, "The model `x` does not exist.", "model"));
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  auto v = json(res.body());
  EXPECT_EQ(v.at("type"), "error");
  EXPECT_EQ(v.at("error").at("type"), "not_found_error");
  EXPECT_EQ(v.at("error").at("message"), "The model `x` does not exist.");
  EXPECT_EQ(v.at("request_id"), "req_1");

  auto limited = make_error(errc::rate_limited, "Rate limit reached for api_key.");
  limited.retry_after = std::chrono::milliseconds(2500);
  res = fail(f.ctx, limited);
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(json(res.body()).at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(res[http::field::retry_after], "3");

  res = fail(f.ctx, make_error(errc::invalid_request, "max_tokens: Field required"));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(json(res.body()).at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(res["x-should-retry"], "false");

  res = fail(f.ctx, make_error(errc::upstream_ejected, "every upstream is ejected"));
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(json(res.body()).at("error").at("type"), "overloaded_error");

  fixture chat(R"({})", endpoint::messages);
  chat.ctx.ep = endpoint::chat_completions;
  res = fail(chat.ctx, make_error(errc::model_not_found, "no", "model"));
  EXPECT_EQ(json(res.body()).at("error").at("code"), "model_not_found") << "OpenAI shape";
}

TEST(messages_fail, a_stream_failure_event_is_in_the_clients_api) {
  const auto e = make_error(errc::upstream_broken, "upstream claude closed the response early");
  const std::string messages = stream_error_event(api_kind::messages, e);
  EXPECT_EQ(messages.rfind("event: error\ndata: ", 0), 0u) << messages;
  const auto data = messages.substr(messages.find("data: ") + 6);
  auto v = json(data);
  EXPECT_EQ(v.at("type"), "error");
  EXPECT_EQ(v.at("error").at("type"), "api_error");
  EXPECT_EQ(stream_error_event(api_kind::chat, e), error_event(e));
}

}  // namespace
}  // namespace switchyard
