// The pure phases on a Responses request (endpoint::responses): the body's fields, no chat
// usage injection, and an experiment's prompt version as `instructions` with its params mapped.
#include "switchyard/proxy/phases.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>

namespace switchyard {
namespace {

const char* yaml = R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1", apis: [chat, responses] }
models:
  - { name: small, upstream: up }
  - { name: big, upstream: up }
prompts:
  - name: p
    versions:
      - { version: v1, template: "Be {{tone}}", defaults: { tone: kind } }
      - { version: v2, template: "Only this", mode: replace }
experiments:
  - name: tone
    match: { model: virtual }
    unit: header:x-user-id
    allow_override: true
    variants:
      - { name: control, model: small, prompt: p@v2 }
      - { name: treatment, prompt: p@v1, model: big, params: { temperature: 0.4, max_tokens: 99 } }
)";

const std::shared_ptr<const config>& full_config() {
  static const std::shared_ptr<const config> c = [] {
    auto cfg = parse_config(yaml);
    EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
    return std::make_shared<const config>(std::move(*cfg));
  }();
  return c;
}

std::shared_ptr<const plan> make_plan() {
  auto p = build_plan(full_config(), {}, 1);
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return *p;
}

struct fixture {
  explicit fixture(std::string body)
      : snapshot(make_plan()),
        req(http::verb::post, "/v1/responses", 11),
        ctx{.req = req, .ep = endpoint::responses, .rec = rec, .snapshot = snapshot} {
    req.body() = std::move(body);
    rec.request_id = "req_1";
  }
  std::span<const upstream_config> upstreams() const { return full_config()->upstreams; }
  std::shared_ptr<const plan> snapshot;
  client_request req;
  access_record rec;
  request_context ctx;
  simdjson::ondemand::parser json;
};

phase::assign_inputs inputs() {
  return {.random01 = 0.5, .nonce = 42, .unix_seconds = 1'700'000'000, .feedback_key = "k"};
}

TEST(phases_responses, parse_reads_model_stream_and_max_output_tokens) {
  fixture f(R"({"model":"small","stream":true,"input":[{"role":"user","content":"hi"}],)"
            R"("max_output_tokens":64,"max_tokens":1000})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  EXPECT_EQ(f.ctx.fields.model, "small");
  EXPECT_TRUE(f.ctx.fields.stream);
  EXPECT_EQ(f.ctx.fields.max_tokens, 64u);  // a chat member has no meaning here
  // `input` may be left out (previous_response_id, a stored prompt).
  fixture g(R"({"model":"small","previous_response_id":"resp_1"})");
  EXPECT_TRUE(phase::parse(g.ctx, g.json));
  fixture h(R"({"model":"small","input":7})");
  EXPECT_FALSE(phase::parse(h.ctx, h.json));
}

TEST(phases_responses, streams_get_no_chat_usage_injection) {
  fixture f(R"({"model":"small","stream":true,"input":"hi"})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  EXPECT_FALSE(f.ctx.inject_usage);
  ASSERT_TRUE(phase::rewrite(f.ctx, f.json));
  EXPECT_EQ(f.req.body(), R"({"model":"small","stream":true,"input":"hi"})");
}

boost::json::object rewritten(const std::string& body, std::string_view variant) {
  fixture f(body);
  f.req.set("x-switchyard-variant", "tone=" + std::string(variant));
  EXPECT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  EXPECT_NE(f.ctx.assigned.variant, nullptr);
  EXPECT_TRUE(phase::route(f.ctx, f.upstreams()));
  EXPECT_TRUE(phase::rewrite(f.ctx, f.json));
  return boost::json::parse(f.req.body()).as_object();
}

TEST(phases_responses, the_prompt_version_becomes_instructions_and_params_map) {
  auto b = rewritten(R"({"model":"virtual","input":"hi","instructions":"Use \"quotes\"."})",
                     "treatment");
  EXPECT_EQ(b.at("model").as_string(), "big");
  EXPECT_EQ(b.at("instructions").as_string(), "Be kind\n\nUse \"quotes\".");
  EXPECT_EQ(b.at("temperature").as_double(), 0.4);
  EXPECT_EQ(b.at("max_output_tokens").as_int64(), 99);
  EXPECT_FALSE(b.contains("max_tokens"));
  EXPECT_EQ(b.at("input").as_string(), "hi");

  auto none = rewritten(R"({"model":"virtual","input":"hi"})", "treatment");
  EXPECT_EQ(none.at("instructions").as_string(), "Be kind");

  auto replaced = rewritten(R"({"model":"virtual","input":"hi","instructions":"mine"})",
                            "control");
  EXPECT_EQ(replaced.at("instructions").as_string(), "Only this");
}

}  // namespace
}  // namespace switchyard
