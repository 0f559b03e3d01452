#pragma once

#include "switchyard/experiments/moments.hpp"

#include <span>
#include <vector>

// Fixed-horizon frequentist analysis of an experiment (experiments.md §5): a treatment arm against
// the control arm, multiple-comparison adjustment, sample-ratio mismatch and sample sizes. Every
// output is finite (they are rendered to JSON): degenerate inputs give documented defaults, never
// NaN or infinity. Distribution functions are Boost.Math's.

namespace switchyard::stats {

/// Treatment against control. When `valid` is false nothing is inferred: `control` and
/// `treatment` still hold the observed rates or means, every other field keeps its default
/// (differences and intervals 0, statistic 0, p-values 1) — GrowthBook's convention.
struct comparison {
  double control = 0;    // control rate or mean
  double treatment = 0;  // treatment rate or mean
  double diff = 0;       // treatment − control
  double diff_lo = 0;    // its (1 − alpha) confidence interval
  double diff_hi = 0;
  double rel = 0;         // diff / control; 0 with rel_lo = rel_hi = 0 when control is 0
  double rel_lo = 0;      // its (1 − alpha) interval, delta method:
  double rel_hi = 0;      //   var ≈ var_t/(n_t·μc²) + μt²·var_c/(n_c·μc⁴)
  double diff_se = 0;     // standard error of diff (unpooled)
  double rel_se = 0;      // standard error of rel (delta method); 0 when rel is 0
  double statistic = 0;   // z (proportions) or Welch t (means), for diff
  double df = 0;          // Welch–Satterthwaite degrees of freedom; 0 for z
  double p_value = 1;     // two-sided, for diff
  double p_adjusted = 1;  // = p_value until a caller stores `holm()` output here
  bool valid = false;     // both arms have n ≥ 2 and the test's standard error is > 0
};

/// Two-proportion z-test, control x1/n1 against treatment x2/n2 (§5.1): z and p from the pooled
/// standard error, the diff interval from the unpooled (Wald) one, the rel interval by the delta
/// method with var = p(1 − p), all with the normal quantile. Counts are sanitised first (not
/// finite or negative → 0, x clamped to [0, n]). Invalid when an arm has n < 2 or both arms are
/// all successes or all failures (pooled SE 0). 0% vs 100% is valid, with a zero-width diff CI.
/// `alpha` must be in (0, 1) (std::invalid_argument otherwise: a bug in the caller).
comparison two_proportion(double x1, double n1, double x2, double n2, double alpha = 0.05);

/// Welch's t-test from sufficient statistics (§5.2): t and the diff interval from the unpooled
/// standard error with Welch–Satterthwaite df; the rel interval by the delta method with the same
/// t quantile (as GrowthBook's TwoSidedTTest). Invalid when an arm has n < 2 or both variances
/// are 0, or any moment is not finite. `alpha` as for `two_proportion`.
comparison welch(const moments& control, const moments& treatment, double alpha = 0.05);

/// A ratio metric compared per unit of assignment (delta method): like `welch`, with each arm's
/// n = its units, mean = ΣM/ΣD and per-unit variance = `ratio_moments::variance()`, so requests of
/// one user are not counted as independent samples. Welch–Satterthwaite df over units. Invalid
/// when an arm has fewer than 2 units or ΣD = 0, both variances are 0, or a sum is not finite.
comparison ratio_welch(const ratio_moments& control, const ratio_moments& treatment,
                       double alpha = 0.05);

/// Holm step-down adjusted p-values (§5.6), in the order of `p`: sorted ascending,
/// p_adj(k) = max over j ≤ k of min(1, (m − j + 1)·p(j)). Inputs are clamped to [0, 1], NaN → 1.
std::vector<double> holm(std::span<const double> p);

/// The outcome of a sample-ratio-mismatch check.
struct srm_result {
  double chi2 = 0;
  double df = 0;
  double p_value = 1;
  bool mismatch = false;  // p_value < threshold
};

/// Chi-square goodness of fit of the units per arm against the configured weights (§5.5, as
/// GrowthBook's check_srm): arms with weight ≤ 0 are left out entirely, the remaining weights are
/// normalised, e_i = w_i·Σo, df = arms − 1. No units, fewer than two weighted arms, or mismatched
/// sizes give the default (p 1, no mismatch). Negative or non-finite counts and weights count as 0.
srm_result sample_ratio_mismatch(std::span<const double> observed, std::span<const double> weights,
                                 double threshold = 0.001);

/// Units per arm to detect p1 vs p2 with a two-sided test at `alpha` with `power` (§5.4):
/// (z_{1−α/2} + z_{power})²·(p1(1−p1) + p2(1−p2))/(p1 − p2)², rounded up (a 1e-9 slack absorbs
/// rounding noise), at least 1. Returns 0 when no finite n exists (p1 = p2, a rate outside [0, 1],
/// or a result too large for a double). `alpha` and `power` must be in (0, 1) (else
/// std::invalid_argument).
double sample_size_proportions(double p1, double p2, double alpha = 0.05, double power = 0.8);

/// Units per arm to detect a mean difference `delta` with standard deviation `sigma`:
/// 2(z_{1−α/2} + z_{power})²·σ²/δ², rounded up as above, at least 1; 0 when delta is 0, sigma is
/// negative, or either is not finite. `alpha` and `power` as above.
double sample_size_means(double sigma, double delta, double alpha = 0.05, double power = 0.8);

/// Φ⁻¹(q), the standard normal quantile; q must be in (0, 1) (else std::invalid_argument).
double z_quantile(double q);

/// The Student t quantile with `df` > 0 degrees of freedom; q in (0, 1) (else
/// std::invalid_argument).
double t_quantile(double df, double q);

}  // namespace switchyard::stats
