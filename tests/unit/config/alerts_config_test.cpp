#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

const std::string base = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: small, upstream: up }, { name: big, upstream: up } ]
prompts:
  - name: p
    versions: [ { version: v1, template: "x" } ]
experiments:
  - name: e
    match: { model: small }
    variants: [ { name: c }, { name: t, prompt: p@v1 } ]
)";

result<config> parse(const std::string& extra) {
  return parse_config(base + extra);
}

std::string error_of(const std::string& extra) {
  auto c = parse(extra);
  return c ? "" : c.error().message;
}

TEST(alerts_config, defaults_without_the_section) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->alerts.evaluation_interval.count(), 30'000);
  EXPECT_TRUE(c->alerts.rules.empty());
  EXPECT_DOUBLE_EQ(c->alerts.srm_p_value, 0.001);
  EXPECT_EQ(c->alerts.srm_severity, "critical");
  EXPECT_EQ(c->alerts.guardrail_severity, "warning");
}

TEST(alerts_config, reads_rules_with_their_scope_filter_and_comparison) {
  auto c = parse(R"(
alerts:
  evaluation_interval: 5s
  srm: { p_value: 0.01, severity: warning }
  guardrails: { severity: critical }
  rules:
    - { name: errors, metric: error_rate, above: 0.05, window: 10m, scope: model, model: small,
        min_samples: 20, severity: critical }
    - { name: spend, metric: daily_spend_usd, above: 50 }
    - { name: quality, metric: feedback_success_rate, below: 0.7, scope: variant, experiment: e,
        variant: t }
    - { name: slow, metric: p95_latency_ms, above: 3000, scope: prompt_version, prompt_version: p@v1 }
)");
  ASSERT_TRUE(c) << c.error().message;
  const auto& a = c->alerts;
  EXPECT_EQ(a.evaluation_interval.count(), 5'000);
  EXPECT_DOUBLE_EQ(a.srm_p_value, 0.01);
  EXPECT_EQ(a.srm_severity, "warning");
  EXPECT_EQ(a.guardrail_severity, "critical");
  ASSERT_EQ(a.rules.size(), 4u);
  EXPECT_EQ(a.rules[0].kind, alert_metric::error_rate);
  EXPECT_EQ(a.rules[0].scope_kind, alert_scope::model);
  EXPECT_FALSE(a.rules[0].below);
  EXPECT_DOUBLE_EQ(a.rules[0].threshold, 0.05);
  EXPECT_EQ(a.rules[0].window.count(), 600'000);
  EXPECT_EQ(a.rules[0].min_samples, 20u);
  EXPECT_EQ(a.rules[0].model, "small");
  EXPECT_EQ(a.rules[1].scope_kind, alert_scope::global);
  EXPECT_EQ(a.rules[1].window.count(), 24LL * 3600 * 1000) << "a spend rule defaults to a day";
  EXPECT_EQ(a.rules[1].severity, "warning");
  EXPECT_TRUE(a.rules[2].below);
  EXPECT_EQ(a.rules[2].scope_kind, alert_scope::variant);
  EXPECT_EQ(a.rules[2].window.count(), 300'000) << "the default window is 5m";
  EXPECT_EQ(a.rules[3].prompt_version, "p@v1");
}

TEST(alerts_config, errors_name_the_key_path) {
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: latency, above: 1 } ] }")
                .find("alerts.rules[0].metric: must be error_rate"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate } ] }")
                .find("alerts.rules[0]: needs exactly one of above"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 1, below: 0 } ] }")
                .find("needs exactly one of above"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 5 } ] }")
                .find("alerts.rules[0].above: is a rate"),
            std::string::npos);
  EXPECT_NE(
      error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, window: 3d } ] }")
          .find("alerts.rules[0].window"),
      std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { metric: error_rate, above: 0.1 } ] }")
                .find("alerts.rules[0].name: is required"),
            std::string::npos);
  EXPECT_NE(
      error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, scope: team } ] }")
          .find("alerts.rules[0].scope: must be global, model"),
      std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, severity: "
                     "page } ] }")
                .find("alerts.rules[0].severity"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { evaluation_interval: soon }").find("alerts.evaluation_interval"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { srm: { p_value: 2 } }").find("alerts.srm.p_value"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { nope: 1 }").find("nope"), std::string::npos);
  EXPECT_NE(
      error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, colour: red } ] }")
          .find("colour"),
      std::string::npos);
}

TEST(alerts_config, filters_must_name_what_exists) {
  EXPECT_NE(
      error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, model: huge } ] }")
          .find("alerts.rules[0].model: is not a name under models:"),
      std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, upstream: "
                     "nope } ] }")
                .find("alerts.rules[0].upstream"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, "
                     "prompt_version: p@v9 } ] }")
                .find("alerts.rules[0].prompt_version"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, experiment: "
                     "e, variant: z } ] }")
                .find("alerts.rules[0].variant: is not a variant of experiment e"),
            std::string::npos);
  EXPECT_NE(
      error_of("alerts: { rules: [ { name: x, metric: error_rate, above: 0.1, variant: t } ] }")
          .find("needs experiment"),
      std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: srm, metric: error_rate, above: 0.1 } ] }")
                .find("always-on"),
            std::string::npos);
  EXPECT_NE(error_of("alerts: { rules: [ { name: a, metric: error_rate, above: 0.1 }, { name: a, "
                     "metric: error_rate, above: 0.2 } ] }")
                .find("alerts.rules[1].name: repeats"),
            std::string::npos);
}

TEST(alerts_config, keys_are_reloadable) {
  const auto keys = config_keys();
  for (const char* path : {"alerts.evaluation_interval", "alerts.srm.p_value", "alerts.rules",
                           "alerts.rules[].metric"}) {
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const config_key_info& k) { return k.path == path; });
    ASSERT_NE(it, keys.end()) << path;
    EXPECT_TRUE(it->reloadable) << path;
  }
}

}  // namespace
}  // namespace switchyard
