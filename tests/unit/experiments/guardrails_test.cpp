#include "switchyard/experiments/guardrails.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

// n requests with `errors` failures, latencies cycling over 100..199 ms × scale, each costing
// `cost` ± 10 %.
guardrail_arm arm(int n, int errors, double latency_scale = 1, double cost = 0.001) {
  guardrail_arm a;
  for (int i = 0; i < n; ++i) {
    a.requests += 1;
    a.errors += i < errors ? 1 : 0;
    a.latency.add(latency_scale * (100 + i % 100));
    a.cost_usd.add(cost * (0.9 + 0.2 * (i % 2)));
  }
  return a;
}

guardrails_config all_on() {
  guardrails_config g;
  g.max_error_rate_increase = 0.01;
  g.max_p95_latency_increase = 0.2;
  g.max_cost_increase = 0.2;
  g.min_requests = 200;
  g.alpha = 0.01;
  return g;
}

TEST(guardrails, identical_arms_never_trip) {
  EXPECT_FALSE(check_guardrail(all_on(), arm(5000, 100), arm(5000, 100), 10000));
}

TEST(guardrails, error_rate_names_the_test_and_its_statistic) {
  const auto t = check_guardrail(all_on(), arm(2000, 20), arm(2000, 160), 4000);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "error_rate");
  EXPECT_GT(t->statistic, t->boundary);
  EXPECT_NE(t->detail.find("one-sided sequential test z = "), std::string::npos) << t->detail;
  EXPECT_NE(t->detail.find("error rate 0.08 vs control 0.01"), std::string::npos) << t->detail;
  // Within the allowed increase (1 point): no trip, however large the sample.
  EXPECT_FALSE(check_guardrail(all_on(), arm(20000, 200), arm(20000, 300), 4000));
}

TEST(guardrails, latency_tail_and_cost) {
  const auto slow = check_guardrail(all_on(), arm(2000, 0), arm(2000, 0, 2.0), 4000);
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->reason, "p95_latency");
  EXPECT_NE(slow->detail.find("% of requests above"), std::string::npos) << slow->detail;
  EXPECT_FALSE(check_guardrail(all_on(), arm(2000, 0), arm(2000, 0, 1.1), 4000));

  const auto pricey = check_guardrail(all_on(), arm(2000, 0), arm(2000, 0, 1, 0.0015), 4000);
  ASSERT_TRUE(pricey);
  EXPECT_EQ(pricey->reason, "cost");
  EXPECT_FALSE(check_guardrail(all_on(), arm(2000, 0), arm(2000, 0, 1, 0.0011), 4000));
}

TEST(guardrails, per_unit_errors_when_units_are_recorded) {
  // 40 users with 50 requests each; all of two users' requests fail in the variant. Per request
  // 100/2000 against 20/2000 is a clear trip; per user (2 of 40 against 0.4 of 40) it is not.
  guardrail_arm c = arm(2000, 20), v = arm(2000, 100);
  for (int u = 0; u < 40; ++u) {
    c.error_units.add(u < 1 ? 20 : 0, 50);
    v.error_units.add(u < 2 ? 50 : 0, 50);
  }
  guardrails_config g = all_on();
  g.max_error_rate_increase = 0;
  EXPECT_FALSE(check_guardrail(g, c, v, 4000));
  guardrail_arm per_request = v;
  per_request.error_units = {};
  EXPECT_TRUE(check_guardrail(g, arm(2000, 20), per_request, 4000));
}

TEST(guardrails, the_daily_budget_is_a_hard_limit_and_min_requests_gates_the_tests) {
  guardrails_config g = all_on();
  g.daily_budget_usd = 5;
  guardrail_arm v = arm(10, 10);
  v.cost_today = 5.5;
  const auto t = check_guardrail(g, arm(10, 0), v, 4000);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "daily_budget");
  EXPECT_NE(t->detail.find("a hard limit"), std::string::npos);
  v.cost_today = 4;
  EXPECT_FALSE(check_guardrail(g, arm(10, 0), v, 4000));  // 10 requests < min_requests 200
}

}  // namespace
}  // namespace switchyard
