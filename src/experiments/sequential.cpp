#include "switchyard/experiments/sequential.hpp"

#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace switchyard::stats {

namespace {

void require_alpha(double alpha) {
  if (!(alpha > 0 && alpha < 1)) {
    throw std::invalid_argument("alpha must be in (0, 1), got " + std::to_string(alpha));
  }
}

double at_least_one(double n) noexcept {
  return std::isfinite(n) && n > 1 ? n : 1;
}

// nρ², the quantity every formula is written in.
double n_rho2(double n, double alpha, double tuning_n) {
  const double rho = sequential_rho(alpha, tuning_n);
  return at_least_one(n) * rho * rho;
}

// ln of the one-sided (half-normal mixture) e-value.
double one_sided_log_e(double z, double x) {
  const double arg = std::sqrt(x) * z / std::sqrt(x + 1);  // ρ√n·z/√(nρ² + 1)
  const double phi = boost::math::cdf(boost::math::normal(), arg);
  if (!(phi > 0)) {
    return -HUGE_VAL;
  }
  return std::log(2 * phi) + x * z * z / (2 * (x + 1)) - 0.5 * std::log1p(x);
}

}  // namespace

double sequential_rho(double alpha, double tuning_n) {
  require_alpha(alpha);
  const double a = -2 * std::log(alpha);
  return std::sqrt((a + std::log(a + 1)) / at_least_one(tuning_n));
}

double sequential_scale(double n, double alpha, double tuning_n) {
  const double x = n_rho2(n, alpha, tuning_n);
  return std::sqrt(2 * (x + 1) * (0.5 * std::log1p(x) - std::log(alpha)) / x);
}

double sequential_log_evalue(double z, double n, double alpha, double tuning_n) {
  const double x = n_rho2(n, alpha, tuning_n);
  if (!std::isfinite(z)) {
    return 0;
  }
  return x * z * z / (2 * (x + 1)) - 0.5 * std::log1p(x);
}

double sequential_p_value(double z, double n, double alpha, double tuning_n) {
  const double log_e = sequential_log_evalue(z, n, alpha, tuning_n);
  return log_e <= 0 ? 1.0 : std::exp(-log_e);
}

comparison always_valid(const comparison& fixed, double n, double alpha, double tuning_n) {
  require_alpha(alpha);
  if (!fixed.valid || !(fixed.diff_se > 0)) {
    return fixed;
  }
  comparison c = fixed;
  const double k = sequential_scale(n, alpha, tuning_n);
  c.diff_lo = c.diff - k * c.diff_se;
  c.diff_hi = c.diff + k * c.diff_se;
  if (c.rel_se > 0) {
    c.rel_lo = c.rel - k * c.rel_se;
    c.rel_hi = c.rel + k * c.rel_se;
  }
  c.statistic = c.diff / c.diff_se;
  c.df = 0;
  c.p_value = sequential_p_value(c.statistic, n, alpha, tuning_n);
  c.p_adjusted = c.p_value;
  return c;
}

double sequential_greater_boundary(double n, double alpha, double tuning_n) {
  require_alpha(alpha);
  const double x = n_rho2(n, alpha, tuning_n);
  const double target = -std::log(alpha);
  // The e-value grows with z; bisect for the boundary (z in (0, 64], far past any real one).
  double lo = 0, hi = 64;
  for (int i = 0; i < 100 && hi - lo > 1e-9; ++i) {
    const double mid = (lo + hi) / 2;
    (one_sided_log_e(mid, x) < target ? lo : hi) = mid;
  }
  return hi;
}

one_sided_result sequential_greater(double estimate, double se, double margin, double n,
                                    double alpha, double tuning_n) {
  require_alpha(alpha);
  one_sided_result r;
  if (!(se > 0) || !std::isfinite(se) || !std::isfinite(estimate) || !(n >= 2)) {
    return r;
  }
  r.z = (estimate - margin) / se;
  if (!std::isfinite(r.z)) {
    r.z = 0;
    return r;
  }
  const double log_e = one_sided_log_e(r.z, n_rho2(n, alpha, tuning_n));
  r.e_value = log_e > 690 ? 1e300 : std::exp(log_e);
  r.reject = log_e >= -std::log(alpha);
  if (r.reject) {
    r.boundary = sequential_greater_boundary(n, alpha, tuning_n);  // for the trip's message
  }
  return r;
}

}  // namespace switchyard::stats
