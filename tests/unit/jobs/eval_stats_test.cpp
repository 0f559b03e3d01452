#include "switchyard/jobs/eval_stats.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

// Reference values: Newcombe, R. G. (1998), "Two-sided confidence intervals for the single
// proportion: comparison of seven methods", Statistics in Medicine 17:857–872, Table I,
// method 3 (Wilson score interval without continuity correction), four decimals.
TEST(EvalStats, WilsonMatchesNewcombeTableI) {
  struct row {
    std::size_t k, n;
    double lo, hi;
  };
  for (const auto& r : {row{81, 263, 0.2553, 0.3662}, row{15, 148, 0.0624, 0.1605},
                        row{0, 20, 0.0, 0.1611}, row{1, 29, 0.0061, 0.1718}}) {
    auto ci = wilson_interval(r.k, r.n);
    EXPECT_NEAR(ci.lo, r.lo, 5e-5) << r.k << "/" << r.n;
    EXPECT_NEAR(ci.hi, r.hi, 5e-5) << r.k << "/" << r.n;
  }
}

TEST(EvalStats, WilsonEdges) {
  auto none = wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0);
  EXPECT_EQ(none.hi, 1);
  auto all = wilson_interval(50, 50);
  EXPECT_NEAR(all.hi, 1.0, 1e-12);
  EXPECT_GT(all.lo, 0.9);
  EXPECT_LT(all.lo, 1.0);
}

// Exact McNemar = two-sided binomial test on the discordant pairs. b = 10, c = 2:
// 2 · (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096 = 0.0385742…, which is R's
// `binom.test(2, 12)$p.value` and statsmodels' `mcnemar([[a, 10], [2, d]], exact=True)`.
TEST(EvalStats, McNemarExactSmallCounts) {
  auto r = mcnemar_test(10, 2);
  EXPECT_EQ(r.method, "exact");
  EXPECT_NEAR(r.p_value, 158.0 / 4096.0, 1e-12);
  EXPECT_NEAR(mcnemar_test(2, 10).p_value, 158.0 / 4096.0, 1e-12);  // symmetric
  EXPECT_DOUBLE_EQ(mcnemar_test(3, 3).p_value, 1.0);                // capped at 1
  EXPECT_DOUBLE_EQ(mcnemar_test(0, 0).p_value, 1.0);
  EXPECT_NEAR(mcnemar_test(0, 5).p_value, 2.0 / 32.0, 1e-12);  // 2 · (½)^5
}

// Asymptotic McNemar with Edwards' continuity correction, on the example of McNemar's test in
// Wikipedia ("McNemar's test", example: b = 121, c = 59): (|121 − 59| − 1)² / 180 = 20.672;
// p = P(χ²₁ > 20.672) = 5.45e-6 (R: `mcnemar.test(matrix(c(101, 59, 121, 33), 2))`).
TEST(EvalStats, McNemarChiSquareLargeCounts) {
  auto r = mcnemar_test(121, 59);
  EXPECT_EQ(r.method, "chi_square");
  EXPECT_NEAR(r.statistic, 20.6722, 1e-4);
  EXPECT_NEAR(r.p_value, 5.4501e-6, 1e-9);
  auto s = mcnemar_test(30, 10);
  EXPECT_NEAR(s.statistic, 9.025, 1e-12);
  EXPECT_NEAR(s.p_value, 0.0026631, 1e-7);
}

// Type 7 quantiles as R's quantile() and NumPy's percentile() compute them.
TEST(EvalStats, QuantileType7) {
  std::vector<double> v{5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3);
  EXPECT_DOUBLE_EQ(quantile(v, 0.95), 4.8);  // numpy.percentile([1,2,3,4,5], 95) = 4.8
  std::vector<double> empty;
  EXPECT_EQ(quantile(empty, 0.5), 0);
  std::vector<double> one{7};
  EXPECT_EQ(quantile(one, 0.95), 7);
}

}  // namespace
}  // namespace switchyard
