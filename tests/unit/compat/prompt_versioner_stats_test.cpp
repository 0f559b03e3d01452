#include "switchyard/compat/prompt_versioner_stats.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

variant_hour_stats row(std::string pv, std::int64_t hour, std::uint64_t n, double latency_each,
                       double cost_each) {
  variant_hour_stats r;
  r.experiment = "e";
  r.variant = "a";
  r.prompt_version = std::move(pv);
  r.hour = hour;
  r.requests = n;
  for (std::uint64_t i = 0; i < n; ++i) {
    r.latency_ms.add(latency_each);
    r.cost_usd.add(cost_each);
  }
  return r;
}

feedback_summary fb(std::string pv, std::string event, std::uint64_t count,
                    std::vector<double> values = {}) {
  feedback_summary f;
  f.prompt_version = std::move(pv);
  f.event = std::move(event);
  f.count = count;
  for (double v : values) {
    f.value.add(v);
  }
  return f;
}

TEST(prompt_versioner_stats, quality_is_the_success_rate_else_the_scaled_score) {
  pv_totals t;
  EXPECT_FALSE(pv_quality(t, 1, 5));  // no feedback: no quality
  t.score.add(5);
  t.score.add(3);
  EXPECT_DOUBLE_EQ(*pv_quality(t, 1, 5), 0.75);  // mean 4 on [1, 5]
  EXPECT_DOUBLE_EQ(*pv_quality(t, 0, 10), 0.4);
  EXPECT_DOUBLE_EQ(*pv_quality(t, 4.5, 5), 0.0);  // clamped
  t.successes = 3;
  t.failures = 1;
  EXPECT_DOUBLE_EQ(*pv_quality(t, 1, 5), 0.75);  // judged calls win over scores
  t.successes = 1;
  EXPECT_DOUBLE_EQ(*pv_quality(t, 1, 5), 0.5);
}

TEST(prompt_versioner_stats, per_version_totals_latency_in_ms_and_cost_per_call) {
  const std::vector<variant_hour_stats> rows = {
      row("p@v1", 7200, 10, 200, 0.01), row("p@v1", 3600, 30, 100, 0.03),
      row("p@v2", 3600, 5, 50, 0.1), row("pp@v1", 3600, 99, 1, 1),  // another prompt
      row("q@v1", 3600, 99, 1, 1)};
  const std::vector<feedback_summary> feedback = {
      fb("p@v1", "success", 8), fb("p@v1", "failure", 2), fb("p@v2", "rating", 2, {2, 4})};
  auto t = pv_version_totals("p", rows, feedback);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["v1"].calls, 40u);
  EXPECT_DOUBLE_EQ(*pv_latency_ms(t["v1"]), (10 * 200 + 30 * 100) / 40.0);
  EXPECT_NEAR(*pv_cost(t["v1"]), (10 * 0.01 + 30 * 0.03) / 40.0, 1e-12);
  EXPECT_EQ(t["v1"].first_hour, 3600);
  EXPECT_DOUBLE_EQ(*pv_quality(t["v1"], 1, 5), 0.8);
  EXPECT_DOUBLE_EQ(*pv_quality(t["v2"], 1, 5), 0.5);  // mean score 3 on [1, 5]
  pv_totals all = t["v1"];
  all += t["v2"];
  EXPECT_EQ(all.calls, 45u);
  EXPECT_DOUBLE_EQ(*pv_quality(all, 1, 5), 0.8);  // judged events exist: the success rate
}

TEST(prompt_versioner_stats, ab_eligible_needs_calls_and_metrics_newest_first_bounded) {
  pv_totals judged;
  judged.calls = 30;
  judged.latency_n = 30;
  judged.latency_ms_sum = 300;
  judged.successes = 1;
  pv_totals few = judged;
  few.calls = 29;
  pv_totals unjudged = judged;
  unjudged.successes = 0;
  std::vector<pv_ab_candidate> all = {{"v1", 100, judged},
                                      {"v2", 300, judged},
                                      {"v3", 200, few},
                                      {"v4", 400, unjudged},
                                      {"v5", 250, judged}};
  auto out = pv_ab_eligible(all, 30, 10, 1, 5);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].version, "v2");
  EXPECT_EQ(out[1].version, "v5");
  EXPECT_EQ(out[2].version, "v1");
  EXPECT_EQ(pv_ab_eligible(all, 30, 2, 1, 5).size(), 2u);
  EXPECT_EQ(pv_ab_eligible(all, 29, 10, 1, 5).size(), 4u);
}

}  // namespace
}  // namespace switchyard
