#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

const std::string base = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: small, upstream: up }, { name: big, upstream: up } ]
)";

result<config> parse(const std::string& extra) {
  return parse_config(base + extra);
}

TEST(experiments_config, reads_variants_params_and_defaults) {
  auto c = parse(R"(
prompts:
  - name: p
    versions:
      - { version: v1, template: "x {{a}}", mode: replace, defaults: { a: "1" } }
experiments:
  - name: e
    match: { model: small, endpoint: chat_completions, header: "x-tenant=acme" }
    unit: header:X-Session-Id
    coverage: 0.5
    variants:
      - { name: c, weight: 0.2 }
      - { name: t, prompt: p@v1, model: big,
          params: { temperature: 4E-1, stop: ["a", "b"], seed: 7, user_tag: "007", logprobs: true } }
      - { name: u }
)");
  ASSERT_TRUE(c) << c.error().message;
  const auto& e = c->experiments[0];
  EXPECT_EQ(e.seed, "e");
  EXPECT_EQ(e.unit_type, unit_kind::header);
  EXPECT_EQ(e.unit_header, "x-session-id");
  EXPECT_EQ(e.match_header, "x-tenant");
  EXPECT_EQ(e.match_header_value, "acme");
  EXPECT_DOUBLE_EQ(e.variants[0].weight, 0.2);
  EXPECT_DOUBLE_EQ(e.variants[1].weight, 0.4);  // unweighted variants share the rest
  EXPECT_DOUBLE_EQ(e.variants[2].weight, 0.4);
  const auto& params = e.variants[1].params;
  ASSERT_EQ(params.size(), 5u);
  EXPECT_EQ(params[0].second, "4E-1");  // the number as written
  EXPECT_EQ(params[1].second, R"(["a","b"])");
  EXPECT_EQ(params[2].second, "7");
  EXPECT_EQ(params[3].second, R"("007")");  // quoted in YAML: a string
  EXPECT_EQ(params[4].second, "true");
  EXPECT_TRUE(c->prompts[0].versions[0].replace_system);
  ASSERT_NE(c->find_prompt("p@v1"), nullptr);
  EXPECT_EQ(c->find_prompt("p@v2"), nullptr);
}

TEST(experiments_config, match_endpoint_covers_every_ingress_api) {
  for (const char* ep :
       {"chat_completions", "completions", "embeddings", "responses", "messages"}) {
    auto c = parse(std::string(R"(
experiments:
  - name: e
    match: { model: small, endpoint: )") +
                   ep + R"( }
    variants: [ { name: c }, { name: t } ]
)");
    ASSERT_TRUE(c) << ep << ": " << c.error().message;
    EXPECT_EQ(c->experiments[0].match_endpoint, ep);
  }
  auto bad = parse(R"(
experiments:
  - name: e
    match: { model: small, endpoint: count_tokens }
    variants: [ { name: c }, { name: t } ]
)");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(
                "must be chat_completions, completions, embeddings, responses or messages"),
            std::string::npos)
      << bad.error().message;
}

TEST(experiments_config, errors_name_the_key_path_and_line) {
  auto c = parse(R"(
experiments:
  - name: e
    match: { model: nowhere }
    unit: cookie:x
    status: maybe
    variants:
      - { name: c, prompt: missing@v1, params: { model: x } }
      - { name: c, weight: -1 }
)");
  ASSERT_FALSE(c);
  const auto& m = c.error().message;
  EXPECT_NE(m.find("experiments[0].unit: must be header:<name>"), std::string::npos) << m;
  EXPECT_NE(m.find("experiments[0].status: must be running, paused or concluded"),
            std::string::npos);
  EXPECT_NE(m.find("experiments[0].variants[0].params.model: is set by the gateway"),
            std::string::npos);
  // A prompt name not under prompts: is left for the prompt registry (checked when applied).
  EXPECT_EQ(m.find("missing@v1"), std::string::npos) << m;
  EXPECT_NE(m.find("experiments[0].variants[0].model: is required: nowhere is not in models:"),
            std::string::npos);
  EXPECT_NE(m.find("experiments[0].variants[1].name: duplicate variant name c"), std::string::npos);
  EXPECT_NE(m.find("experiments[0].variants[1].weight: must be a number"), std::string::npos);
  EXPECT_NE(m.find("(line "), std::string::npos);
}

TEST(experiments_config, analysis_method_planned_sample_and_cost_guardrail) {
  const std::string exp = R"(
experiments:
  - name: e
    match: { model: small }
    variants: [ { name: c }, { name: t } ]
)";
  auto defaults = parse(exp);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->experiments[0].analysis.method, "sequential");  // always-valid by default
  EXPECT_EQ(defaults->experiments[0].analysis.planned_sample, 0u);
  EXPECT_LT(defaults->experiments[0].guardrails.max_cost_increase, 0);

  auto set = parse(exp + R"(    analysis: { method: fixed_horizon, planned_sample: 2500 }
    guardrails: { max_cost_increase: 0.25 }
)");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->experiments[0].analysis.method, "fixed_horizon");
  EXPECT_EQ(set->experiments[0].analysis.planned_sample, 2500u);
  EXPECT_DOUBLE_EQ(set->experiments[0].guardrails.max_cost_increase, 0.25);

  auto bad = parse(exp + "    analysis: { method: bayesian }\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("experiments[0].analysis.method: must be sequential or "
                                     "fixed_horizon"),
            std::string::npos)
      << bad.error().message;
  auto tiny = parse(exp + "    analysis: { planned_sample: 1 }\n");
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.error().message.find("planned_sample"), std::string::npos);
}

TEST(experiments_config, needs_two_variants_and_a_winner_when_concluded) {
  auto c = parse(R"(
experiments:
  - { name: e, match: { model: small }, status: concluded, variants: [ { name: only } ] }
)");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("needs at least two variants"), std::string::npos);
  EXPECT_NE(c.error().message.find("a concluded experiment needs winner"), std::string::npos);
}

TEST(experiments_config, prompt_files_are_read_relative_to_the_config) {
  auto c = parse(R"(
prompts: [ { name: p, versions: [ { version: v1, file: does/not/exist.md } ] } ]
)");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("prompts[0].versions[0].file: cannot read ./does/not/exist.md"),
            std::string::npos)
      << c.error().message;
}

TEST(experiments_config, restart_required_names_what_a_reload_cannot_change) {
  auto a = parse("");
  auto b = parse("");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(restart_required(*a, *b), "");
  b->models[0].price.input_per_mtok = 1;  // models reload
  EXPECT_EQ(restart_required(*a, *b), "");
  b->workers = 3;
  EXPECT_EQ(restart_required(*a, *b), "workers");
  b->workers = a->workers;
  b->upstreams[0].api_key = "k";
  EXPECT_EQ(restart_required(*a, *b), "upstreams");
}

}  // namespace
}  // namespace switchyard
