#include "switchyard/alerts/rules.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

alert_rule_config rule(alert_metric kind, double threshold, alert_scope scope = alert_scope::global,
                       bool below = false) {
  alert_rule_config r;
  r.name = "r";
  r.kind = kind;
  r.scope_kind = scope;
  r.threshold = threshold;
  r.below = below;
  r.min_samples = 10;
  return r;
}

traffic_figures fig(double requests, double errors, double cost = 0) {
  traffic_figures f;
  f.requests = requests;
  f.errors = errors;
  f.cost_usd = cost;
  return f;
}

traffic_delta two_models() {
  traffic_delta d;
  d.series[{"gpt", "openai", "none", "none", "none"}] = fig(20, 10, 1.5);
  d.series[{"gpt", "backup", "none", "none", "none"}] = fig(20, 0, 0.5);
  d.series[{"claude", "anthropic", "exp", "treatment", "p@v2"}] = fig(40, 1, 2);
  return d;
}

TEST(alert_rules, error_rate_per_model_fires_only_where_it_is_high) {
  const auto r = rule(alert_metric::error_rate, 0.1, alert_scope::model);
  const auto ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 2u);
  // Ordered by scope: claude, gpt.
  EXPECT_EQ(ms[0].scope.model, "claude");
  EXPECT_DOUBLE_EQ(*ms[0].value, 1.0 / 40);
  EXPECT_FALSE(breaches(r, ms[0]));
  EXPECT_EQ(ms[1].scope.model, "gpt");
  EXPECT_DOUBLE_EQ(*ms[1].value, 10.0 / 40) << "both upstreams of the model";
  EXPECT_TRUE(breaches(r, ms[1]));
  EXPECT_EQ(rule_message(r, ms[1]),
            "error_rate 25% is above 10% over the last 5m for model gpt (10 of 40 requests)");
}

TEST(alert_rules, scopes_group_by_upstream_prompt_version_and_variant) {
  auto r = rule(alert_metric::error_rate, 0.1, alert_scope::upstream);
  auto ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[2].scope.upstream, "openai");
  EXPECT_DOUBLE_EQ(*ms[2].value, 0.5);

  r.scope_kind = alert_scope::prompt_version;
  ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 1u) << "series without a prompt version have no such scope";
  EXPECT_EQ(ms[0].scope.prompt_version, "p@v2");

  r.scope_kind = alert_scope::variant;
  ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].scope.experiment, "exp");
  EXPECT_EQ(ms[0].scope.variant, "treatment");
  EXPECT_EQ(ms[0].scope.key(), "experiment=exp,variant=treatment");
}

TEST(alert_rules, a_filter_restricts_the_series) {
  auto r = rule(alert_metric::error_rate, 0.1);
  r.upstream = "backup";
  const auto ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_DOUBLE_EQ(*ms[0].value, 0.0);
  EXPECT_TRUE(ms[0].scope.key().empty()) << "global scope";
}

TEST(alert_rules, fewer_than_min_samples_give_no_value) {
  traffic_delta d;
  d.series[{"gpt", "openai", "none", "none", "none"}] = fig(5, 5);
  const auto r = rule(alert_metric::error_rate, 0.1);
  const auto ms = measure(r, d, {}, {});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_FALSE(ms[0].value);
  EXPECT_FALSE(breaches(r, ms[0]));
}

TEST(alert_rules, p95_latency_comes_from_the_buckets_in_ms) {
  traffic_delta d;
  auto f = fig(20, 0);
  f.latency = {0, 0, 20, 0};  // all in (1 s, 2 s]
  d.series[{"gpt", "openai", "none", "none", "none"}] = f;
  const auto r = rule(alert_metric::p95_latency_ms, 1500);
  const auto ms = measure(r, d, {0.5, 1, 2}, {});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_DOUBLE_EQ(*ms[0].value, 1950);
  EXPECT_TRUE(breaches(r, ms[0]));
}

TEST(alert_rules, spend_sums_cost_without_a_minimum) {
  auto r = rule(alert_metric::daily_spend_usd, 3.5);
  r.window = duration{24LL * 3600 * 1000};
  const auto ms = measure(r, two_models(), {}, {});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_DOUBLE_EQ(*ms[0].value, 4.0);
  EXPECT_TRUE(breaches(r, ms[0]));
  EXPECT_EQ(rule_message(r, ms[0]),
            "spend $4.00 is above $3.50 over the last 24h for the whole gateway (80 requests)");
}

TEST(alert_rules, feedback_rules_map_variants_to_their_model_and_prompt) {
  traffic_delta d;
  d.feedback[{"exp", "control"}] = feedback_figures{18, 2, 0, 0};
  d.feedback[{"exp", "treatment"}] = feedback_figures{5, 15, 40, 20};
  const variant_routes routes{{{"exp", "control"}, {"gpt", "openai", "p@v1"}},
                              {{"exp", "treatment"}, {"claude", "anthropic", "p@v2"}}};
  auto r = rule(alert_metric::feedback_success_rate, 0.5, alert_scope::prompt_version, true);
  auto ms = measure(r, d, {}, routes);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].scope.prompt_version, "p@v1");
  EXPECT_DOUBLE_EQ(*ms[0].value, 0.9);
  EXPECT_FALSE(breaches(r, ms[0]));
  EXPECT_EQ(ms[1].scope.prompt_version, "p@v2");
  EXPECT_DOUBLE_EQ(*ms[1].value, 0.25);
  EXPECT_TRUE(breaches(r, ms[1]));

  r = rule(alert_metric::feedback_score_mean, 3, alert_scope::model, true);
  ms = measure(r, d, {}, routes);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].scope.model, "claude");
  EXPECT_DOUBLE_EQ(*ms[0].value, 2.0);
  EXPECT_TRUE(breaches(r, ms[0]));
  EXPECT_FALSE(ms[1].value) << "control sent no scores";
}

breach err(const std::string& model, double v) {
  breach b;
  b.rule = "r";
  b.kind = "rule";
  b.metric = "error_rate";
  b.severity = "warning";
  b.scope.model = model;
  b.value = v;
  b.threshold = 0.1;
  b.comparison = "above";
  b.message = "m";
  return b;
}

TEST(alert_lifecycle, fires_once_per_rule_and_scope_then_resolves) {
  std::vector<alert> alerts;
  std::int64_t next = 1;
  const round_facts rules{{"r"}, {"r"}, {}};
  auto changed = apply_round(alerts, {err("gpt", 0.5), err("claude", 0.3)}, rules, 100, next);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(changed.size(), 2u);
  EXPECT_EQ(alerts[0].id, 1);
  EXPECT_EQ(alerts[0].state, "firing");
  EXPECT_EQ(alerts[0].started_at, 100);

  // Still breaching: the same alert, updated; nothing new.
  changed = apply_round(alerts, {err("gpt", 0.6), err("claude", 0.3)}, rules, 130, next);
  ASSERT_EQ(alerts.size(), 2u);
  ASSERT_EQ(changed, std::vector<std::size_t>{0});
  EXPECT_DOUBLE_EQ(*alerts[0].value, 0.6);
  EXPECT_EQ(alerts[0].updated_at, 130);
  EXPECT_EQ(alerts[1].updated_at, 100) << "unchanged";

  // gpt recovers: resolved; claude goes on.
  changed = apply_round(alerts, {err("claude", 0.3)}, rules, 160, next);
  ASSERT_EQ(changed, std::vector<std::size_t>{0});
  EXPECT_EQ(alerts[0].state, "resolved");
  EXPECT_EQ(alerts[0].resolved_at, 160);
  EXPECT_EQ(alerts[1].state, "firing");

  // gpt breaches again: a new alert, a new id.
  apply_round(alerts, {err("gpt", 0.9), err("claude", 0.3)}, rules, 190, next);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].id, 3);
  EXPECT_EQ(alerts[2].scope.model, "gpt");
}

TEST(alert_lifecycle, unevaluated_rules_keep_their_alerts_and_removed_rules_resolve) {
  std::vector<alert> alerts;
  std::int64_t next = 1;
  apply_round(alerts, {err("gpt", 0.5), err("claude", 0.5)}, {{"r"}, {"r"}, {}}, 100, next);
  // Not evaluated in full (e.g. just after a restart): no data is no news, both kept...
  auto changed = apply_round(alerts, {}, {{}, {"r"}, {}}, 130, next);
  EXPECT_TRUE(changed.empty());
  EXPECT_EQ(alerts[0].state, "firing");
  // ...but data that no longer breaches resolves its own alert.
  changed = apply_round(alerts, {}, {{}, {"r"}, {{"r", "model=claude"}}}, 145, next);
  ASSERT_EQ(changed, std::vector<std::size_t>{1});
  EXPECT_EQ(alerts[1].state, "resolved");
  EXPECT_EQ(alerts[0].state, "firing");
  // The rule is gone from the config: resolved.
  changed = apply_round(alerts, {}, {}, 160, next);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(alerts[0].state, "resolved");
}

TEST(alert_lifecycle, acknowledge_is_idempotent_and_survives_resolution) {
  std::vector<alert> alerts;
  std::int64_t next = 1;
  const round_facts rules{{"r"}, {"r"}, {}};
  apply_round(alerts, {err("gpt", 0.5)}, rules, 100, next);
  EXPECT_TRUE(acknowledge(alerts[0], 110));
  EXPECT_EQ(alerts[0].state, "acknowledged");
  EXPECT_EQ(alerts[0].acknowledged_at, 110);
  EXPECT_FALSE(acknowledge(alerts[0], 120));
  EXPECT_EQ(alerts[0].acknowledged_at, 110);
  // Still breaching: stays acknowledged (one alert per rule and scope while active).
  apply_round(alerts, {err("gpt", 0.7)}, rules, 130, next);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, "acknowledged");
  apply_round(alerts, {}, rules, 160, next);
  EXPECT_EQ(alerts[0].state, "resolved");
  EXPECT_EQ(alerts[0].acknowledged_at, 110);
  // A resolved alert can still be acknowledged once.
  alerts[0].acknowledged_at.reset();
  EXPECT_TRUE(acknowledge(alerts[0], 170));
  EXPECT_EQ(alerts[0].state, "resolved");
}

TEST(alert_rules, windows_format_compactly) {
  EXPECT_EQ(format_window(300), "5m");
  EXPECT_EQ(format_window(5400), "1h30m");
  EXPECT_EQ(format_window(45), "45s");
  EXPECT_EQ(format_window(86400), "24h");
}

}  // namespace
}  // namespace switchyard
