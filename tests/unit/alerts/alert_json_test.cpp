#include "switchyard/alerts/alert_json.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <limits>

namespace switchyard {
namespace {

namespace json = boost::json;

TEST(alert_json, absent_fields_are_null_and_scope_has_only_what_applies) {
  alert a;
  a.id = 3;
  a.rule = a.kind = "guardrail";
  a.metric = "guardrail_trip";
  a.severity = "warning";
  a.scope.experiment = "e";
  a.scope.variant = "t";
  a.value = std::numeric_limits<double>::quiet_NaN();
  a.message = "paused";
  a.started_at = a.updated_at = 10;
  const auto o = alert_json(a);
  const std::string text = json::serialize(o);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_TRUE(o.at("value").is_null());
  EXPECT_TRUE(o.at("threshold").is_null());
  EXPECT_TRUE(o.at("comparison").is_null());
  EXPECT_TRUE(o.at("window_seconds").is_null());
  EXPECT_TRUE(o.at("resolved_at").is_null());
  EXPECT_TRUE(o.at("acknowledged_at").is_null());
  EXPECT_EQ(o.at("scope").as_object().size(), 2u);
  EXPECT_EQ(o.at("scope").at("variant").as_string(), "t");
  EXPECT_EQ(o.at("state").as_string(), "firing");
}

TEST(alert_json, config_lists_rules_then_the_always_on_ones) {
  alerts_config a;
  alert_rule_config r;
  r.name = "errors";
  r.metric = "error_rate";
  r.scope = "model";
  r.model = "gpt";
  r.threshold = 0.05;
  a.rules.push_back(r);
  const auto o = alerts_config_json(a, std::nullopt);
  EXPECT_DOUBLE_EQ(o.at("evaluation_interval_seconds").as_double(), 30);
  EXPECT_TRUE(o.at("last_evaluation_at").is_null());
  const auto& rules = o.at("rules").as_array();
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].at("name").as_string(), "errors");
  EXPECT_EQ(rules[0].at("filter").at("model").as_string(), "gpt");
  EXPECT_EQ(rules[0].at("window_seconds").as_int64(), 300);
  EXPECT_FALSE(rules[0].at("always_on").as_bool());
  EXPECT_EQ(rules[1].at("kind").as_string(), "srm");
  EXPECT_DOUBLE_EQ(rules[1].at("threshold").as_double(), 0.001);
  EXPECT_EQ(rules[2].at("kind").as_string(), "guardrail");
  EXPECT_TRUE(rules[2].at("always_on").as_bool());
}

TEST(alert_json, traffic_aligns_series_with_buckets_and_nulls_before_the_start) {
  traffic_history h({1}, 7200);  // started at 02:00
  traffic_delta d;
  d.series[{"gpt", "openai", "none", "none", "none"}].requests = 3;
  d.series[{"gpt", "openai", "none", "none", "none"}].errors = 1;
  d.series[{"gpt", "openai", "none", "none", "none"}].input_tokens = 30;
  d.series[{"gpt", "openai", "none", "none", "none"}].cost_usd = 0.25;
  d.series[{"claude", "anthropic", "none", "none", "none"}].requests = 2;
  h.add(7300, d);
  h.add(10'900, d);  // 03:01
  const auto o = traffic_json(h, 11'000, 3, 3600);
  EXPECT_EQ(o.at("bucket_seconds").as_int64(), 3600);
  const auto& buckets = o.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0].as_int64(), 3600);
  EXPECT_EQ(buckets[2].as_int64(), 10'800);
  EXPECT_EQ(o.at("totals").at("requests").as_uint64(), 10u);
  const auto& models = o.at("models").as_array();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1].at("model").as_string(), "gpt");
  const auto& req = models[1].at("requests").as_array();
  EXPECT_TRUE(req[0].is_null()) << "before the gateway started";
  EXPECT_EQ(req[1].as_uint64(), 3u);
  EXPECT_EQ(req[2].as_uint64(), 3u);
  EXPECT_EQ(models[1].at("errors").at(2).as_uint64(), 1u);
  EXPECT_DOUBLE_EQ(models[1].at("cost_usd").at(2).as_double(), 0.25);
  EXPECT_EQ(models[1].at("tokens").at(2).as_uint64(), 30u);
  const auto& ups = o.at("upstreams").as_array();
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[0].at("upstream").as_string(), "anthropic");
  EXPECT_EQ(ups[0].at("totals").at("requests").as_uint64(), 4u);
}

TEST(alert_json, traffic_minute_buckets_regroup_into_five_minutes) {
  traffic_history h({1}, 0);
  traffic_delta d;
  d.series[{"gpt", "openai", "none", "none", "none"}].requests = 1;
  for (std::int64_t t = 3600; t < 3600 + 600; t += 60) {
    h.add(t, d);
  }
  const auto o = traffic_json(h, 3600 + 599, 1, 300);
  const auto& req = o.at("models").at(0).at("requests").as_array();
  ASSERT_EQ(req.size(), 12u);
  EXPECT_EQ(req[10].as_uint64(), 5u);
  EXPECT_EQ(req[11].as_uint64(), 5u);
  EXPECT_EQ(req[9].as_uint64(), 0u) << "after the start, no traffic is 0, not null";
}

TEST(alert_json, variant_health_counts_fallbacks) {
  traffic_history h({1}, 0);
  traffic_delta d;
  auto& f = d.series[{"gpt", "backup", "exp", "control", "none"}];
  f.requests = 4;
  f.fallbacks = 1;
  h.add(100, d);
  experiment_config e;
  e.name = "exp";
  e.variants.resize(2);
  e.variants[0].name = "control";
  e.variants[1].name = "treatment";
  const auto o = variant_health_json(h, e);
  EXPECT_DOUBLE_EQ(o.at("variants").at("control").at("fallback_rate").as_double(), 0.25);
  EXPECT_TRUE(o.at("variants").at("treatment").at("fallback_rate").is_null());
}

}  // namespace
}  // namespace switchyard
