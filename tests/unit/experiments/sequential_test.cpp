#include "switchyard/experiments/sequential.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace switchyard::stats {
namespace {

constexpr double tol = 1e-5;  // GrowthBook's reference values are given to 5 decimals

// GrowthBook's tests report relative effects; the interval and p come from the relative z.
struct relative {
  double est, lo, hi, se, p;
};

relative sequential_relative(const comparison& fixed, double n, double tuning_n) {
  const comparison c = always_valid(fixed, n, 0.05, tuning_n);
  return {c.rel, c.rel_lo, c.rel_hi, c.rel_se,
          sequential_p_value(c.rel / c.rel_se, n, 0.05, tuning_n)};
}

// experiments.md §2.3, GrowthBook packages/stats/tests/frequentist/test_tests.py
// (SequentialTwoSidedTTest, means): A sum 1396.87, ss 52377.9767, n 3000; B 2422.7, 134698.29,
// 3461; N = 1000.
TEST(sequential, growthbook_means_reference) {
  const moments a{3000, 1396.87, 52377.9767};
  const moments b{3461, 2422.7, 134698.29};
  const relative r = sequential_relative(welch(a, b), 3000 + 3461, 1000);
  EXPECT_NEAR(r.est, 0.50336, tol);
  EXPECT_NEAR(r.lo, -0.55844, tol);
  EXPECT_NEAR(r.hi, 1.56516, tol);
  EXPECT_NEAR(r.se, 0.33341, tol);
  EXPECT_EQ(r.p, 1.0);  // early p-values are exactly 1 by design
}

// The same test on proportions: 1396/3000 vs 2422/3461, N = 5000; p ≈ 5.2e-44.
TEST(sequential, growthbook_proportions_reference) {
  const relative r = sequential_relative(two_proportion(1396, 3000, 2422, 3461), 6461, 5000);
  EXPECT_NEAR(r.est, 0.50386, tol);
  EXPECT_NEAR(r.lo, 0.40098, tol);
  EXPECT_NEAR(r.hi, 0.60675, tol);
  EXPECT_NEAR(r.se, 0.03386, tol);
  EXPECT_GT(r.p, 5.15e-44);
  EXPECT_LT(r.p, 5.25e-44);
}

// PostHog's port of GrowthBook's sequential test (products/experiments/stats), golden values:
// T sum 2500, ss 135000, n 3500; C 1400, 52000, 3000; N = 1000.
TEST(sequential, posthog_golden_means) {
  const relative r = sequential_relative(
      welch(moments{3000, 1400, 52000}, moments{3500, 2500, 135000}), 6500, 1000);
  EXPECT_NEAR(r.est, 0.53061, tol);
  EXPECT_NEAR(r.lo, -0.53230, tol);
  EXPECT_NEAR(r.hi, 1.59353, tol);
  EXPECT_NEAR(r.se, 0.33368, tol);
  EXPECT_EQ(r.p, 1.0);
}

// Golden 2: 2600/3500 vs 1450/3050, N = 5000; p ≈ 6.2e-56.
TEST(sequential, posthog_golden_proportions) {
  const relative r = sequential_relative(two_proportion(1450, 3050, 2600, 3500), 6550, 5000);
  EXPECT_NEAR(r.est, 0.56256, tol);
  EXPECT_NEAR(r.lo, 0.46064, tol);
  EXPECT_NEAR(r.hi, 0.66448, tol);
  EXPECT_NEAR(r.se, 0.03354, tol);
  EXPECT_GT(r.p, 6.1e-56);
  EXPECT_LT(r.p, 6.3e-56);
}

TEST(sequential, rho_follows_eq_161) {
  // −2 ln 0.05 = 5.991465; ln(6.991465) = 1.944693; (5.991465 + 1.944693) / 1000.
  EXPECT_NEAR(sequential_rho(0.05, 1000), std::sqrt(7.936158 / 1000), 1e-7);
  EXPECT_THROW(sequential_rho(0, 1000), std::invalid_argument);
  EXPECT_THROW(sequential_rho(1, 1000), std::invalid_argument);
  EXPECT_TRUE(std::isfinite(sequential_rho(0.05, 0)));  // nonsense tuning is taken as 1
}

TEST(sequential, wider_than_fixed_horizon_at_every_n) {
  const double z = z_quantile(0.975);
  for (double n : {1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e7}) {
    EXPECT_GT(sequential_scale(n, 0.05, 1000), z) << n;
  }
  // Narrowest (relative to fixed horizon) near the tuning: wider far before and far after it.
  EXPECT_GT(sequential_scale(10, 0.05, 1000), sequential_scale(1000, 0.05, 1000));
}

TEST(sequential, p_below_alpha_exactly_when_the_interval_excludes_zero) {
  for (double n : {50.0, 500.0, 5000.0}) {
    const double k = sequential_scale(n, 0.05, 2000);
    EXPECT_NEAR(sequential_p_value(k, n, 0.05, 2000), 0.05, 1e-9) << n;
    EXPECT_LT(sequential_p_value(k * 1.001, n, 0.05, 2000), 0.05);
    EXPECT_GT(sequential_p_value(k * 0.999, n, 0.05, 2000), 0.05);
  }
  EXPECT_EQ(sequential_p_value(0, 100, 0.05, 100), 1.0);
}

TEST(sequential, always_valid_keeps_invalid_comparisons_and_widens_valid_ones) {
  const comparison fixed = two_proportion(100, 1000, 130, 1000);
  const comparison seq = always_valid(fixed, 2000, 0.05, 2000);
  EXPECT_TRUE(seq.valid);
  EXPECT_DOUBLE_EQ(seq.diff, fixed.diff);
  EXPECT_LT(seq.diff_lo, fixed.diff_lo);
  EXPECT_GT(seq.diff_hi, fixed.diff_hi);
  EXPECT_GT(seq.p_value, fixed.p_value);  // p 0.035 at a single look is not enough here
  EXPECT_GT(seq.p_value, 0.05);
  EXPECT_LT(seq.diff_lo, 0);
  EXPECT_EQ(seq.df, 0);
  const comparison none = two_proportion(0, 1, 0, 1);
  EXPECT_FALSE(always_valid(none, 2, 0.05, 100).valid);
}

TEST(sequential, one_sided_rejects_only_above_the_boundary) {
  const one_sided_result at_zero = sequential_greater(0.0, 0.01, 0.0, 1000, 0.05, 1000);
  EXPECT_FALSE(at_zero.reject);
  EXPECT_EQ(at_zero.boundary, 0);
  EXPECT_LT(at_zero.e_value, 1);
  const double b = sequential_greater_boundary(1000, 0.05, 1000);
  EXPECT_GT(b, z_quantile(0.95));  // wider than a one-look one-sided test
  const one_sided_result above = sequential_greater(b * 0.01 * 1.01, 0.01, 0.0, 1000, 0.05, 1000);
  EXPECT_TRUE(above.reject);
  EXPECT_NEAR(above.boundary, b, 1e-12);
  EXPECT_GE(above.e_value, 20);
  EXPECT_FALSE(sequential_greater(b * 0.01 * 0.99, 0.01, 0.0, 1000, 0.05, 1000).reject);
  // The margin shifts the null: 0.03 above a margin of 0.02 is z = 1.
  EXPECT_NEAR(sequential_greater(0.03, 0.01, 0.02, 1000, 0.05, 1000).z, 1.0, 1e-12);
  // Large negative z, a zero or NaN se, too few samples: no rejection, finite output.
  EXPECT_FALSE(sequential_greater(-1, 0.01, 0, 1000, 0.05, 1000).reject);
  EXPECT_FALSE(sequential_greater(1, 0, 0, 1000, 0.05, 1000).reject);
  EXPECT_FALSE(sequential_greater(1, std::nan(""), 0, 1000, 0.05, 1000).reject);
  EXPECT_FALSE(sequential_greater(1, 0.01, 0, 1, 0.05, 1000).reject);
  EXPECT_TRUE(std::isfinite(sequential_greater(1e6, 1e-6, 0, 1000, 0.05, 1000).e_value));
}

}  // namespace
}  // namespace switchyard::stats
