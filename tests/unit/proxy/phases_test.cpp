// The pure phases of a proxied request (parse → assign → route → rewrite → admit → account),
// run on a request context without sockets.
#include "switchyard/proxy/phases.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>

namespace switchyard {
namespace {

const char* yaml = R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1" }
  - { name: plain, base_url: "http://127.0.0.1:9/v1", inject_stream_usage: false }
models:
  - { name: small, upstream: up, price: { input_per_mtok: 1, output_per_mtok: 2 } }
  - { name: big, upstream: up }
  - { name: mixed, upstream: up, fallbacks: [ { upstream: plain } ] }
prompts:
  - name: p
    versions:
      - { version: v1, template: "Be {{tone}}", defaults: { tone: kind } }
experiments:
  - name: tone
    match: { model: virtual }
    unit: header:x-user-id
    allow_override: true
    variants:
      - { name: control, model: small }
      - { name: treatment, prompt: p@v1, model: big, params: { temperature: 0.4 } }
rate_limits:
  - { scope: api_key, requests: 1, period: 60s }
)";

// The whole config: the boot part (upstreams, rate limits) is the worker's, the hot part the
// plan's.
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

// One request's context, its request and record held beside it (the context refers to them).
struct fixture {
  explicit fixture(std::string body, endpoint ep = endpoint::chat_completions)
      : snapshot(make_plan()),
        req(http::verb::post, "/v1/chat/completions", 11),
        ctx{.req = req, .ep = ep, .rec = rec, .snapshot = snapshot} {
    req.body() = std::move(body);
    req.set(http::field::authorization, "Bearer sk-test");
    rec.request_id = "req_1";
    ctx.timing.start = steady_clock::time_point{} + std::chrono::hours(1);
  }
  std::span<const upstream_config> upstreams() const { return full_config()->upstreams; }

  std::shared_ptr<const plan> snapshot;
  client_request req;
  access_record rec;
  request_context ctx;
  simdjson::ondemand::parser json;
};

phase::assign_inputs inputs(double u = 0.5) {
  return {.random01 = u, .nonce = 42, .unix_seconds = 1'700'000'000, .feedback_key = "k"};
}

TEST(phases, proxy_phases_parse_fills_the_fields_and_the_record) {
  fixture f(R"({"model":"small","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  EXPECT_EQ(f.ctx.fields.model, "small");
  EXPECT_EQ(f.rec.model, "small");
  EXPECT_TRUE(f.rec.stream);
}

TEST(phases, proxy_phases_parse_refuses_a_bad_body_naming_the_field) {
  fixture f(R"({"model":"small","messages":"not an array"})");
  auto r = phase::parse(f.ctx, f.json);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_EQ(r.error().param, "messages");
  EXPECT_EQ(r.error().source, error_source::downstream);
}

TEST(phases, proxy_phases_assign_outside_experiments_tags_nothing) {
  fixture f(R"({"model":"small","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  EXPECT_EQ(f.ctx.assigned.experiment, nullptr);
  EXPECT_TRUE(f.rec.experiment.empty());
  EXPECT_TRUE(f.ctx.tags.empty());
  EXPECT_EQ(f.rec.request_id, "req_1");
}

TEST(phases, proxy_phases_assign_tags_the_variant_and_signs_a_feedback_id) {
  fixture f(R"({"model":"virtual","messages":[{"role":"user","content":"hi"}]})");
  f.req.set("x-user-id", "alice");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  ASSERT_NE(f.ctx.assigned.experiment, nullptr);
  EXPECT_EQ(f.rec.experiment, "tone");
  EXPECT_EQ(f.ctx.tags["x-switchyard-experiment"], "tone");
  EXPECT_EQ(f.ctx.tags["x-switchyard-variant"], f.rec.variant);
  const std::string id(f.ctx.tags["x-switchyard-feedback-id"]);
  EXPECT_EQ(id.rfind("sy2.", 0), 0u);
  EXPECT_EQ(f.rec.request_id, id) << "no x-request-id of the client's: ours is the signed id";
}

TEST(phases, proxy_phases_route_finds_the_model_or_refuses_with_404) {
  fixture f(R"({"model":"small","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  ASSERT_NE(f.ctx.model, nullptr);
  EXPECT_EQ(f.ctx.model->name, "small");
  EXPECT_TRUE(f.rec.model_known);
  EXPECT_TRUE(f.ctx.inject_usage);

  fixture g(R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(g.ctx, g.json));
  auto r = phase::route(g.ctx, g.upstreams());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::model_not_found);
  EXPECT_FALSE(g.rec.model_known);
}

TEST(phases, proxy_phases_route_injects_usage_only_when_every_target_accepts_it) {
  fixture f(R"({"model":"mixed","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  EXPECT_FALSE(f.ctx.inject_usage);
  ASSERT_TRUE(phase::rewrite(f.ctx, f.json));
  EXPECT_FALSE(f.ctx.strip_usage);
  EXPECT_EQ(f.req.body().find("stream_options"), std::string::npos);
}

TEST(phases, proxy_phases_rewrite_applies_the_variant_and_turns_on_stream_usage) {
  fixture f(R"({"model":"virtual","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  f.req.set("x-switchyard-variant", "tone=treatment");  // the override header picks the variant
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  ASSERT_NE(f.ctx.assigned.variant, nullptr);
  ASSERT_EQ(f.ctx.assigned.variant->name, "treatment");
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  EXPECT_EQ(f.rec.routed_model, "big");
  ASSERT_TRUE(phase::rewrite(f.ctx, f.json));
  EXPECT_TRUE(f.ctx.strip_usage);
  auto body = boost::json::parse(f.req.body()).as_object();
  EXPECT_EQ(body.at("model").as_string(), "big");
  EXPECT_EQ(body.at("temperature").as_double(), 0.4);
  EXPECT_TRUE(body.at("stream_options").at("include_usage").as_bool());
  const auto& first = body.at("messages").as_array().at(0);
  EXPECT_EQ(first.at("role").as_string(), "system");
  EXPECT_EQ(first.at("content").as_string(), "Be kind");
  EXPECT_EQ(f.ctx.fields.model, "big") << "the fields are re-parsed from the new body";
}

TEST(phases, proxy_phases_admit_takes_the_limit_then_refuses_with_retry_headers) {
  fixture f(R"({"model":"small","messages":[{"role":"user","content":"hi"}]})");
  rate_limiter limiter(full_config()->rate_limits);
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  const std::int64_t now = 1'000'000'000;
  ASSERT_TRUE(phase::admit(f.ctx, limiter, "x-user-id", "up", now));
  EXPECT_EQ(f.rec.upstream, "up");
  EXPECT_GT(f.ctx.estimated_tokens, 0u);
  EXPECT_TRUE(f.ctx.limit_headers.contains("x-ratelimit-limit-requests"));

  fixture g(R"({"model":"small","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(g.ctx, g.json));
  ASSERT_TRUE(phase::route(g.ctx, g.upstreams()));
  auto r = phase::admit(g.ctx, limiter, "x-user-id", "up", now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::rate_limited);
  EXPECT_FALSE(g.ctx.admitted.allowed);
  EXPECT_TRUE(g.ctx.limit_headers.contains("Retry-After"));
  limiter.finish(f.ctx.admitted, std::nullopt, now);
}

TEST(phases, proxy_phases_account_estimates_missing_usage_and_reports_counted_outcomes) {
  fixture f(R"({"model":"virtual","messages":[{"role":"user","content":"hi"}]})");
  f.req.set("x-user-id", "bob");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  f.rec.status = 200;
  f.rec.bytes_in = 400;
  f.ctx.attempts = 2;
  f.ctx.timing.first_token = f.ctx.timing.start + std::chrono::milliseconds(30);
  f.ctx.timing.token_events = 7;
  const auto end = f.ctx.timing.start + std::chrono::milliseconds(100);
  auto o = phase::account(f.ctx, end, 1'700'000'000);
  EXPECT_EQ(f.rec.attempts, 2u);
  EXPECT_DOUBLE_EQ(f.rec.ttft_ms, 30);
  ASSERT_TRUE(f.rec.usage);
  EXPECT_TRUE(f.rec.usage_estimated);
  EXPECT_EQ(f.rec.usage->prompt_tokens, 100);    // 400 bytes / 4
  EXPECT_EQ(f.rec.usage->completion_tokens, 7);  // one token per content event
  ASSERT_EQ(o.has_value(), f.ctx.assigned.counted);
  if (o) {
    EXPECT_DOUBLE_EQ(o->latency_ms, 100);
    EXPECT_FALSE(o->error);
  }
}

TEST(phases, proxy_phases_account_reports_nothing_for_a_client_that_left) {
  fixture f(R"({"model":"virtual","messages":[{"role":"user","content":"hi"}]})");
  f.req.set("x-user-id", "carol");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  phase::assign(f.ctx, inputs());
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  ASSERT_TRUE(f.ctx.assigned.counted);
  f.rec.status = 499;
  EXPECT_FALSE(phase::account(f.ctx, f.ctx.timing.start, 0));
  EXPECT_FALSE(f.rec.usage) << "no usage is estimated for a request nobody received";
}

TEST(phases, proxy_phases_account_prices_reported_usage) {
  fixture f(R"({"model":"small","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(phase::parse(f.ctx, f.json));
  ASSERT_TRUE(phase::route(f.ctx, f.upstreams()));
  f.rec.status = 200;
  f.rec.usage = token_usage{1'000'000, 500'000, 1'500'000};
  EXPECT_FALSE(phase::account(f.ctx, f.ctx.timing.start, 0));  // not in an experiment
  EXPECT_FALSE(f.rec.usage_estimated);
  EXPECT_DOUBLE_EQ(f.rec.cost_usd, 2.0);  // 1 M input at $1 + 0.5 M output at $2
}

}  // namespace
}  // namespace switchyard
