#pragma once

#include "switchyard/experiments/statistics.hpp"

// Always-valid (sequential) inference: GrowthBook's asymptotic confidence sequences (Waudby-Smith
// et al. 2023, arXiv 2103.06476v7; experiments.md §2.3). An interval from here covers the true
// effect at every sample size at once with probability ≥ 1 − alpha, so it may be looked at after
// every flush without inflating the false-positive rate — which a fixed-horizon interval looked at
// repeatedly does (31 % of A/A experiments "significant" at α = 0.05 when checked every 10 units).
//
// `n` is the total sample behind a comparison (n_control + n_treatment) and `tuning_n` GrowthBook's
// "sequential tuning parameter": the total sample at which the interval is narrowest relative to
// a fixed-horizon one (set it to the planned total; GrowthBook's default is 5000). Any tuning keeps
// the guarantee; a good one keeps power. Every output is finite; Boost.Math provides Φ.

namespace switchyard::stats {

/// GrowthBook's default `tuning_n` when nothing better is known.
inline constexpr double default_tuning_n = 5000;

/// ρ = sqrt((−2 ln α + ln(−2 ln α + 1)) / tuning_n) (eq. 161). `alpha` in (0, 1) (else
/// std::invalid_argument); a `tuning_n` that is not finite and ≥ 1 is taken as 1.
double sequential_rho(double alpha, double tuning_n);

/// The always-valid half-width in standard errors after `n` samples (eq. 9 divided by se):
/// sqrt(2(nρ² + 1)·ln(sqrt(nρ² + 1)/α) / (nρ²)); always wider than the fixed-horizon z_{1−α/2}.
/// n is taken as at least 1.
double sequential_scale(double n, double alpha, double tuning_n);

/// ln of the two-sided e-value for a z statistic after n samples (eq. 155):
/// ρ²·n·z²/(2(nρ² + 1)) − ½·ln(nρ² + 1), computed in log space so it never overflows.
double sequential_log_evalue(double z, double n, double alpha, double tuning_n);

/// min(1, 1/e-value): the always-valid p-value. p < alpha exactly when |z| exceeds
/// `sequential_scale`, i.e. when the always-valid interval excludes zero.
double sequential_p_value(double z, double n, double alpha, double tuning_n);

/// `fixed` (from two_proportion, welch or ratio_welch) turned always-valid: diff and rel intervals
/// become estimate ± sequential_scale·se, statistic = diff/diff_se (a z), df = 0, p_value =
/// sequential_p_value of that z, p_adjusted = p_value. An invalid `fixed` is returned unchanged.
/// `n` = n_control + n_treatment.
comparison always_valid(const comparison& fixed, double n, double alpha, double tuning_n);

/// A one-sided always-valid test of H0: θ ≤ margin against θ > margin (a guardrail).
struct one_sided_result {
  double z = 0;         // (estimate − margin)/se
  double boundary = 0;  // when rejected: the z above which the test rejects at this n; else 0
  double e_value = 0;   // the one-sided e-value; reject when ≥ 1/alpha (capped at 1e300)
  bool reject = false;
};

/// Robbins' one-sided normal mixture (half-normal mixing at ρ; the asymptotic analogue of eq. 134):
/// e = 2Φ(ρ√n·z/√(nρ² + 1))·exp(ρ²nz²/(2(nρ² + 1)))/√(nρ² + 1); Ville's inequality bounds the
/// chance that e ever reaches 1/α under H0 by α. A se that is not > 0 and finite, or n < 2,
/// gives z 0 and no rejection.
one_sided_result sequential_greater(double estimate, double se, double margin, double n,
                                    double alpha, double tuning_n);

/// The z at which `sequential_greater` starts rejecting after n samples (found by bisection to
/// 1e-9; always above the one-look z_{1−α}).
double sequential_greater_boundary(double n, double alpha, double tuning_n);

}  // namespace switchyard::stats
