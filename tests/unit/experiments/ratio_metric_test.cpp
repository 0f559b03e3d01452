// Ratio metrics per unit of assignment (delta method) against a cluster bootstrap over units
// computed here: the standard error the analysis uses for users with many requests must match
// what resampling whole users gives, and the per-request formula must not.

#include "switchyard/experiments/moments.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace switchyard::stats {
namespace {

struct user {
  double m, d;  // e.g. errors and requests of one user
};

std::vector<user> users(std::mt19937_64& rng, int n, double mean_propensity) {
  std::poisson_distribution<int> requests(5.0);
  // Beta(0.3, 0.3·(1 − p)/p) propensities: users differ a lot, so their requests are correlated.
  std::gamma_distribution<double> a(0.3, 1.0), b(0.3 * (1 - mean_propensity) / mean_propensity);
  std::vector<user> out;
  for (int i = 0; i < n; ++i) {
    const int k = requests(rng) + 1;
    const double x = a(rng), p = x / (x + b(rng));
    out.push_back(
        {static_cast<double>(std::binomial_distribution<int>(k, p)(rng)), static_cast<double>(k)});
  }
  return out;
}

ratio_moments sums(const std::vector<user>& us) {
  ratio_moments r;
  for (const user& u : us) {
    r.add(u.m, u.d);
  }
  return r;
}

double ratio(const std::vector<user>& us) {
  double m = 0, d = 0;
  for (const user& u : us) {
    m += u.m;
    d += u.d;
  }
  return m / d;
}

TEST(ratio_metric, delta_method_standard_error_matches_a_cluster_bootstrap) {
  std::mt19937_64 rng(2024);
  const std::vector<user> control = users(rng, 400, 0.10), treatment = users(rng, 400, 0.12);
  const comparison c = ratio_welch(sums(control), sums(treatment));
  ASSERT_TRUE(c.valid);
  EXPECT_NEAR(c.diff, ratio(treatment) - ratio(control), 1e-12);

  // Resample whole users, with replacement, in each arm.
  constexpr int rounds = 4000;
  std::vector<double> diffs;
  std::vector<user> rc(control.size()), rt(treatment.size());
  std::uniform_int_distribution<std::size_t> pick_c(0, control.size() - 1),
      pick_t(0, treatment.size() - 1);
  for (int b = 0; b < rounds; ++b) {
    for (auto& u : rc) {
      u = control[pick_c(rng)];
    }
    for (auto& u : rt) {
      u = treatment[pick_t(rng)];
    }
    diffs.push_back(ratio(rt) - ratio(rc));
  }
  double mean = 0, var = 0;
  for (double x : diffs) {
    mean += x / rounds;
  }
  for (double x : diffs) {
    var += (x - mean) * (x - mean) / (rounds - 1);
  }
  const double bootstrap_se = std::sqrt(var);
  EXPECT_NEAR(c.diff_se / bootstrap_se, 1.0, 0.06) << c.diff_se << " vs " << bootstrap_se;

  // The per-request (independent requests) standard error is far too small for these users.
  const ratio_moments sc = sums(control), st = sums(treatment);
  const comparison naive = two_proportion(sc.m_sum, sc.d_sum, st.m_sum, st.d_sum);
  EXPECT_LT(naive.diff_se, 0.8 * bootstrap_se);
}

TEST(ratio_metric, one_request_per_unit_is_the_per_request_test) {
  // With D_u = 1 for every unit the delta method reduces to the per-request Welch test.
  ratio_moments a, b;
  moments ma, mb;
  for (int i = 0; i < 50; ++i) {
    a.add(i % 3, 1);
    ma.add(i % 3);
    b.add(i % 4, 1);
    mb.add(i % 4);
  }
  const comparison r = ratio_welch(a, b), w = welch(ma, mb);
  EXPECT_NEAR(r.diff_se, w.diff_se, 1e-12);
  EXPECT_NEAR(r.p_value, w.p_value, 1e-12);
}

TEST(ratio_metric, degenerate_inputs_infer_nothing) {
  ratio_moments one;
  one.add(1, 2);
  ratio_moments none_d;
  none_d.add(1, 0);
  none_d.add(2, 0);
  ratio_moments ok;
  ok.add(1, 2);
  ok.add(0, 3);
  EXPECT_FALSE(ratio_welch(one, ok).valid);
  EXPECT_FALSE(ratio_welch(none_d, ok).valid);
  EXPECT_EQ(none_d.variance(), 0);
  EXPECT_EQ(none_d.ratio(), 0);
}

}  // namespace
}  // namespace switchyard::stats
