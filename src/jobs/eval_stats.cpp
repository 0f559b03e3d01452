#include "switchyard/jobs/eval_stats.hpp"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>

namespace switchyard {

proportion_interval wilson_interval(std::size_t k, std::size_t n, double confidence) {
  if (n == 0) {
    return {0, 1};
  }
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + confidence / 2);
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

mcnemar_result mcnemar_test(std::size_t b, std::size_t c, std::size_t exact_below) {
  const std::size_t n = b + c;
  if (n == 0) {
    return {1, 0, "exact"};
  }
  if (n < exact_below) {
    boost::math::binomial_distribution<double> bin(static_cast<double>(n), 0.5);
    const double tail = boost::math::cdf(bin, static_cast<double>(std::min(b, c)));
    return {std::min(1.0, 2 * tail), 0, "exact"};
  }
  const double d = std::fabs(static_cast<double>(b) - static_cast<double>(c)) - 1;
  const double stat = d > 0 ? d * d / static_cast<double>(n) : 0;
  boost::math::chi_squared_distribution<double> chi(1);
  return {boost::math::cdf(boost::math::complement(chi, stat)), stat, "chi_square"};
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1) * std::clamp(q, 0.0, 1.0);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const auto hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

}  // namespace switchyard
