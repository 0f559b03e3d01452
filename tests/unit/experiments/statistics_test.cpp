#include "switchyard/experiments/statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace switchyard::stats {
namespace {

constexpr double tol = 1e-5;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// Outputs are rendered to JSON: every field must be finite whatever the input.
void expect_finite(const comparison& c) {
  for (double x : {c.control, c.treatment, c.diff, c.diff_lo, c.diff_hi, c.rel, c.rel_lo, c.rel_hi,
                   c.statistic, c.df, c.p_value, c.p_adjusted}) {
    EXPECT_TRUE(std::isfinite(x));
  }
  EXPECT_GE(c.p_value, 0);
  EXPECT_LE(c.p_value, 1);
}

void expect_nothing_inferred(const comparison& c) {
  expect_finite(c);
  EXPECT_FALSE(c.valid);
  EXPECT_EQ(c.diff, 0);
  EXPECT_EQ(c.diff_lo, 0);
  EXPECT_EQ(c.diff_hi, 0);
  EXPECT_EQ(c.rel, 0);
  EXPECT_EQ(c.statistic, 0);
  EXPECT_EQ(c.p_value, 1);
}

moments of(const std::vector<double>& xs) {
  moments m;
  for (double x : xs) {
    m.add(x);
  }
  return m;
}

TEST(statistics, stats_constants_normal_and_t_quantiles) {
  EXPECT_NEAR(z_quantile(0.975), 1.959963985, 1e-9);
  EXPECT_NEAR(z_quantile(0.8), 0.841621234, 1e-9);
  EXPECT_NEAR(t_quantile(10, 0.975), 2.228138852, 1e-9);
  EXPECT_THROW(z_quantile(1.0), std::invalid_argument);
  EXPECT_THROW(t_quantile(0, 0.5), std::invalid_argument);
}

TEST(statistics, two_proportion_reference_values) {
  const comparison a = two_proportion(100, 1000, 130, 1000);
  EXPECT_TRUE(a.valid);
  EXPECT_NEAR(a.control, 0.10, 1e-12);
  EXPECT_NEAR(a.treatment, 0.13, 1e-12);
  EXPECT_NEAR(a.diff, 0.03, 1e-12);
  EXPECT_NEAR(a.statistic, 2.102741, tol);
  EXPECT_NEAR(a.p_value, 0.035488, tol);
  EXPECT_NEAR(a.p_adjusted, a.p_value, 1e-15);
  EXPECT_NEAR(a.diff_lo, 0.002068, tol);
  EXPECT_NEAR(a.diff_hi, 0.057932, tol);
  EXPECT_EQ(a.df, 0);
  // Python, delta method with var = p(1 − p) and z = 1.959963984540054:
  //   v = p2(1−p2)/(n2·p1²) + p2²·p1(1−p1)/(n1·p1⁴); rel ± z·sqrt(v)
  EXPECT_NEAR(a.rel, 0.3, 1e-12);
  EXPECT_NEAR(a.rel_lo, -0.019179398, 1e-8);
  EXPECT_NEAR(a.rel_hi, 0.619179398, 1e-8);

  const comparison b = two_proportion(200, 1000, 250, 1000);
  EXPECT_TRUE(b.valid);
  EXPECT_NEAR(b.statistic, 2.677398, tol);
  EXPECT_NEAR(b.p_value, 0.007420, tol);
  EXPECT_NEAR(b.diff_lo, 0.013464, tol);
  EXPECT_NEAR(b.diff_hi, 0.086536, tol);
  EXPECT_NEAR(b.rel, 0.25, 1e-12);
  EXPECT_NEAR(b.rel_lo, 0.045022060, 1e-8);
  EXPECT_NEAR(b.rel_hi, 0.454977940, 1e-8);
}

TEST(statistics, two_proportion_worse_treatment_has_negative_statistic) {
  const comparison c = two_proportion(130, 1000, 100, 1000);
  EXPECT_NEAR(c.statistic, -2.102741, tol);
  EXPECT_NEAR(c.p_value, 0.035488, tol);
  EXPECT_NEAR(c.diff_lo, -0.057932, tol);
  EXPECT_NEAR(c.diff_hi, -0.002068, tol);
}

TEST(statistics, two_proportion_alpha_widens_the_interval) {
  const comparison c95 = two_proportion(100, 1000, 130, 1000, 0.05);
  const comparison c99 = two_proportion(100, 1000, 130, 1000, 0.01);
  EXPECT_LT(c99.diff_lo, c95.diff_lo);
  EXPECT_GT(c99.diff_hi, c95.diff_hi);
  EXPECT_EQ(c99.p_value, c95.p_value);
  EXPECT_THROW(two_proportion(1, 10, 2, 10, 0), std::invalid_argument);
  EXPECT_THROW(two_proportion(1, 10, 2, 10, nan), std::invalid_argument);
}

TEST(statistics, two_proportion_empty_or_tiny_arms_infer_nothing) {
  expect_nothing_inferred(two_proportion(0, 0, 0, 0));
  expect_nothing_inferred(two_proportion(0, 0, 5, 10));
  const comparison one = two_proportion(1, 1, 0, 1);
  expect_nothing_inferred(one);
  EXPECT_EQ(one.control, 1);  // the observed rates are still reported
  EXPECT_EQ(one.treatment, 0);
}

TEST(statistics, two_proportion_all_successes_on_both_sides_is_invalid) {
  const comparison c = two_proportion(1000, 1000, 500, 500);
  expect_nothing_inferred(c);
  EXPECT_EQ(c.control, 1);
  EXPECT_EQ(c.treatment, 1);
  expect_nothing_inferred(two_proportion(0, 1000, 0, 500));
}

TEST(statistics, two_proportion_equal_rates_give_z_zero_and_p_one) {
  const comparison c = two_proportion(100, 1000, 50, 500);
  expect_finite(c);
  EXPECT_TRUE(c.valid);
  EXPECT_NEAR(c.statistic, 0, 1e-12);
  EXPECT_NEAR(c.p_value, 1, 1e-12);
  EXPECT_NEAR(c.diff_lo, -c.diff_hi, 1e-12);
}

TEST(statistics, two_proportion_zero_control_rate_has_no_relative_difference) {
  const comparison c = two_proportion(0, 1000, 10, 1000);
  expect_finite(c);
  EXPECT_TRUE(c.valid);
  EXPECT_GT(c.statistic, 0);
  EXPECT_EQ(c.rel, 0);
  EXPECT_EQ(c.rel_lo, 0);
  EXPECT_EQ(c.rel_hi, 0);
}

TEST(statistics, two_proportion_none_against_all_is_a_certain_difference) {
  const comparison c = two_proportion(0, 100, 100, 100);
  expect_finite(c);
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.diff, 1);
  EXPECT_EQ(c.diff_lo, 1);  // Wald: both arms have zero variance
  EXPECT_EQ(c.diff_hi, 1);
  EXPECT_LT(c.p_value, 1e-10);
}

TEST(statistics, two_proportion_garbage_counts_are_sanitised) {
  expect_finite(two_proportion(nan, 100, 5, 100));
  expect_finite(two_proportion(5, std::numeric_limits<double>::infinity(), 5, 100));
  const comparison over = two_proportion(150, 100, 50, 100);  // x > n is clamped to n
  expect_finite(over);
  EXPECT_EQ(over.control, 1);
  expect_finite(two_proportion(-5, -100, 5, 100));
}

// Wikipedia "Welch's t-test", example 1. The page computes A1 − A2; here A1 is the control and
// A2 the treatment, so diff = mean(A2) − mean(A1) and t has the opposite sign.
TEST(statistics, welch_wikipedia_example_1) {
  const moments a1 = of(
      {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4});
  const moments a2 = of(
      {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4});
  const comparison c = welch(a1, a2);
  EXPECT_TRUE(c.valid);
  EXPECT_NEAR(c.control, 20.82, 1e-9);
  EXPECT_NEAR(c.treatment, 22.986667, tol);
  EXPECT_NEAR(c.diff, 2.166667, tol);
  EXPECT_NEAR(c.statistic, 2.455356, tol);
  EXPECT_NEAR(c.df, 24.9885, 1e-4);
  EXPECT_NEAR(c.p_value, 0.021378, tol);
  // The interval is diff ± t(df, 0.975)·se with se = diff/t; t(25, 0.975) = 2.0595 in tables.
  const double se = c.diff / c.statistic;
  EXPECT_NEAR((c.diff_hi - c.diff) / se, 2.0596, 1e-3);
  EXPECT_NEAR(c.diff - c.diff_lo, c.diff_hi - c.diff, 1e-12);
  EXPECT_GT(c.diff_lo, 0);  // significant at 5%

  const comparison swapped = welch(a2, a1);
  EXPECT_NEAR(swapped.statistic, -2.455356, tol);
  EXPECT_NEAR(swapped.p_value, 0.021378, tol);
}

// GrowthBook gbstats TwoSidedTTest reference (experiments.md §2.3), from n, Σx and Σx².
TEST(statistics, welch_growthbook_two_sided_reference) {
  const moments a{3407, 1396.87, 52377.9767};
  const moments b{3461, 2422.7, 134698.29};
  const comparison c = welch(a, b);
  EXPECT_TRUE(c.valid);
  EXPECT_NEAR(c.df, 5841.74, 1e-2);
  EXPECT_NEAR(c.diff, 0.29, 1e-9);
  EXPECT_NEAR(c.diff_lo, 0.04538, tol);
  EXPECT_NEAR(c.diff_hi, 0.53462, tol);
  EXPECT_NEAR(c.diff / c.statistic, 0.12478, tol);  // se
  EXPECT_NEAR(c.p_value, 0.02016, tol);
  EXPECT_NEAR(c.rel, 0.70732, tol);
  EXPECT_NEAR(c.rel_lo, -0.03526, tol);
  EXPECT_NEAR(c.rel_hi, 1.44989, tol);
}

TEST(statistics, welch_too_few_values_or_no_variance_infer_nothing) {
  expect_nothing_inferred(welch(moments{}, moments{}));
  expect_nothing_inferred(welch(of({1}), of({1, 2, 3})));
  const comparison flat = welch(of({5, 5, 5}), of({6, 6, 6}));
  expect_nothing_inferred(flat);
  EXPECT_EQ(flat.control, 5);
  EXPECT_EQ(flat.treatment, 6);
  expect_nothing_inferred(welch(of({5, 5}), of({5, 5})));
  expect_nothing_inferred(welch(moments{3, nan, 1}, of({1, 2, 3})));
}

TEST(statistics, welch_one_constant_arm_uses_the_other_arms_degrees_of_freedom) {
  const comparison c = welch(of({5, 5, 5, 5}), of({4, 6, 5, 7, 8}));
  expect_finite(c);
  EXPECT_TRUE(c.valid);
  EXPECT_NEAR(c.df, 4, 1e-12);
  EXPECT_NEAR(c.diff, 1, 1e-12);
}

TEST(statistics, welch_equal_means_and_zero_control_mean) {
  const comparison same = welch(of({1, 2, 3}), of({3, 2, 1}));
  EXPECT_TRUE(same.valid);
  EXPECT_NEAR(same.statistic, 0, 1e-12);
  EXPECT_NEAR(same.p_value, 1, 1e-12);
  const comparison zero = welch(of({-1, 0, 1}), of({1, 2, 3}));
  expect_finite(zero);
  EXPECT_TRUE(zero.valid);
  EXPECT_EQ(zero.rel, 0);
  EXPECT_EQ(zero.rel_lo, 0);
  EXPECT_EQ(zero.rel_hi, 0);
}

TEST(statistics, holm_reference_values_in_input_order) {
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  const auto adj = holm(p);
  const std::vector<double> expected = {0.03, 0.06, 0.06, 0.02};
  ASSERT_EQ(adj.size(), expected.size());
  for (std::size_t i = 0; i < adj.size(); ++i) {
    EXPECT_NEAR(adj[i], expected[i], 1e-12) << i;
  }
}

TEST(statistics, holm_caps_at_one_and_tolerates_bad_input) {
  EXPECT_TRUE(holm({}).empty());
  EXPECT_EQ(holm(std::vector<double>{0.2}), std::vector<double>({0.2}));
  const auto adj = holm(std::vector<double>{0.5, nan, -0.1, 0.3});
  ASSERT_EQ(adj.size(), 4u);
  EXPECT_EQ(adj[2], 0);             // clamped to 0, times 4
  EXPECT_NEAR(adj[3], 0.9, 1e-12);  // 0.3 × 3
  EXPECT_EQ(adj[0], 1);             // 0.5 × 2, capped
  EXPECT_EQ(adj[1], 1);             // NaN counts as 1
}

TEST(statistics, sample_ratio_mismatch_reference_values) {
  const auto a = sample_ratio_mismatch(std::vector<double>{1000, 1200}, std::vector<double>{1, 1});
  EXPECT_NEAR(a.chi2, 18.1818, 1e-4);
  EXPECT_EQ(a.df, 1);
  EXPECT_NEAR(a.p_value / 2.0079e-05, 1, 1e-4);
  EXPECT_TRUE(a.mismatch);

  const std::vector<double> dice = {16, 18, 16, 14, 12, 12};
  const auto b = sample_ratio_mismatch(dice, std::vector<double>(6, 1.0));
  EXPECT_NEAR(b.chi2, 2.0, 1e-12);
  EXPECT_EQ(b.df, 5);
  EXPECT_NEAR(b.p_value, 0.8491450360846097, 1e-12);
  EXPECT_FALSE(b.mismatch);

  const auto c = sample_ratio_mismatch(dice, std::vector<double>{16, 16, 16, 16, 16, 8});
  EXPECT_NEAR(c.chi2, 3.5, 1e-12);
  EXPECT_NEAR(c.p_value, 0.623387627749582, 1e-12);
  EXPECT_FALSE(c.mismatch);
}

TEST(statistics, sample_ratio_mismatch_threshold_and_degenerate_inputs) {
  const std::vector<double> obs = {1000, 1200};
  EXPECT_FALSE(sample_ratio_mismatch(obs, std::vector<double>{0.5, 0.5}, 1e-5).mismatch);
  // A zero-weight arm is left out, units and all (GrowthBook check_srm).
  const auto dropped =
      sample_ratio_mismatch(std::vector<double>{1000, 1000, 77}, std::vector<double>{0.5, 0.5, 0});
  EXPECT_EQ(dropped.chi2, 0);
  EXPECT_EQ(dropped.df, 1);
  EXPECT_EQ(dropped.p_value, 1);
  for (const auto& r : {sample_ratio_mismatch(std::vector<double>{0, 0}, std::vector<double>{1, 1}),
                        sample_ratio_mismatch(obs, std::vector<double>{1, 0}),
                        sample_ratio_mismatch(obs, std::vector<double>{1, 1, 1}),
                        sample_ratio_mismatch(obs, std::vector<double>{nan, -1})}) {
    EXPECT_EQ(r.chi2, 0);
    EXPECT_EQ(r.p_value, 1);
    EXPECT_FALSE(r.mismatch);
  }
}

TEST(statistics, sample_size_reference_values) {
  EXPECT_EQ(sample_size_proportions(0.10, 0.12), 3839);
  EXPECT_EQ(sample_size_proportions(0.12, 0.10), 3839);
  EXPECT_EQ(sample_size_proportions(0.50, 0.55), 1562);
  EXPECT_EQ(sample_size_means(1, 0.2), 393);  // 392.4 rounded up
  EXPECT_EQ(sample_size_means(1, -0.2), 393);
  EXPECT_GT(sample_size_proportions(0.10, 0.12, 0.05, 0.9), 3839);  // more power, more units
}

TEST(statistics, sample_size_no_finite_answer_is_zero) {
  EXPECT_EQ(sample_size_proportions(0.1, 0.1), 0);
  EXPECT_EQ(sample_size_proportions(-0.1, 0.1), 0);
  EXPECT_EQ(sample_size_proportions(nan, 0.1), 0);
  EXPECT_EQ(sample_size_proportions(0, 1), 1);  // no variance at all: one unit tells
  EXPECT_EQ(sample_size_means(1, 0), 0);
  EXPECT_EQ(sample_size_means(-1, 0.2), 0);
  EXPECT_EQ(sample_size_means(1, 1e-300), 0);  // overflows a double
  EXPECT_EQ(sample_size_means(0, 0.2), 1);
  EXPECT_THROW(sample_size_means(1, 0.2, 0.05, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace switchyard::stats
