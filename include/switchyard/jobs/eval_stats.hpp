#pragma once

// The statistics of an evaluation report (docs/evaluations.md): Wilson score intervals for pass
// rates and McNemar's paired test between two variants on the same cases. Built on Boost.Math.

#include <cstddef>
#include <string_view>
#include <vector>

namespace switchyard {

struct proportion_interval {
  double lo = 0;
  double hi = 0;
};

/// The Wilson score interval for `k` successes in `n` trials at `confidence` (two-sided);
/// [0, 1] when n is 0.
proportion_interval wilson_interval(std::size_t k, std::size_t n, double confidence = 0.95);

/// McNemar's test on the discordant pairs: `b` cases only the first variant passed, `c` only
/// the second. Below `exact_below` discordant pairs the exact two-sided binomial test
/// (p = min(1, 2·P[X ≤ min(b, c)]), X ~ Bin(b + c, ½)); from there the chi-square test with
/// Edwards' continuity correction, (|b − c| − 1)² / (b + c) on 1 degree of freedom.
struct mcnemar_result {
  double p_value = 1;
  double statistic = 0;               // chi-square (0 for the exact test)
  std::string_view method = "exact";  // exact | chi_square
};
mcnemar_result mcnemar_test(std::size_t b, std::size_t c, std::size_t exact_below = 25);

/// The q-quantile (0..1) of `values` by linear interpolation between order statistics (the
/// "type 7" definition of R and NumPy); 0 for no values. Sorts `values`.
double quantile(std::vector<double>& values, double q);

}  // namespace switchyard
