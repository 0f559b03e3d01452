#include "switchyard/experiments/statistics.hpp"

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace switchyard::stats {

namespace {

void require_probability(double q, const char* what) {
  if (!(q > 0 && q < 1)) {
    throw std::invalid_argument(std::string(what) + " must be in (0, 1), got " + std::to_string(q));
  }
}

// A count or weight as the formulas need it: finite and non-negative.
double sanitise(double x) noexcept {
  return std::isfinite(x) && x > 0 ? x : 0;
}

double finite_or_zero(double x) noexcept {
  return std::isfinite(x) ? x : 0;
}

// What the intervals need about one arm: its size, mean and per-unit variance.
struct arm {
  double n;
  double mean;
  double var;
};

// diff, rel and their intervals, `q` standard errors wide on each side. The relative interval
// uses the delta method, written as [var_t/n_t + (μt/μc)²·var_c/n_c]/μc² so that μc⁴ cannot
// overflow or underflow on its own; if it still is not finite, rel is left at 0.
void fill_intervals(comparison& c, const arm& ctl, const arm& trt, double se, double q) {
  c.diff = trt.mean - ctl.mean;
  c.diff_se = se;
  c.diff_lo = c.diff - q * se;
  c.diff_hi = c.diff + q * se;
  if (ctl.mean == 0) {
    return;
  }
  const double ratio = trt.mean / ctl.mean;
  const double var_rel =
      (trt.var / trt.n + ratio * ratio * ctl.var / ctl.n) / (ctl.mean * ctl.mean);
  const double rel = c.diff / ctl.mean;
  const double half = q * std::sqrt(var_rel);
  if (std::isfinite(rel) && std::isfinite(half)) {
    c.rel = rel;
    c.rel_se = std::sqrt(var_rel);
    c.rel_lo = rel - half;
    c.rel_hi = rel + half;
  }
}

// `c` if every field is finite, else the invalid comparison with only the observed values kept.
comparison finite_or_invalid(const comparison& c) {
  const double fields[] = {c.control,   c.treatment, c.diff,    c.diff_lo,   c.diff_hi,
                           c.rel,       c.rel_lo,    c.rel_hi,  c.diff_se,   c.rel_se,
                           c.statistic, c.df,        c.p_value, c.p_adjusted};
  if (std::all_of(std::begin(fields), std::end(fields),
                  [](double x) { return std::isfinite(x); })) {
    return c;
  }
  comparison invalid;
  invalid.control = finite_or_zero(c.control);
  invalid.treatment = finite_or_zero(c.treatment);
  return invalid;
}

double two_sided_normal_p(double z) {
  const double p =
      2 * boost::math::cdf(boost::math::complement(boost::math::normal(), std::abs(z)));
  return std::min(p, 1.0);
}

double two_sided_t_p(double t, double df) {
  const boost::math::students_t dist(df);
  return std::min(2 * boost::math::cdf(boost::math::complement(dist, std::abs(t))), 1.0);
}

// Rounds a sample size up, forgiving rounding noise just above an integer; 0 = no finite answer.
double round_up_size(double n) {
  if (!std::isfinite(n)) {
    return 0;
  }
  return std::max(1.0, std::ceil(n - 1e-9));
}

}  // namespace

double z_quantile(double q) {
  require_probability(q, "quantile");
  return boost::math::quantile(boost::math::normal(), q);
}

double t_quantile(double df, double q) {
  require_probability(q, "quantile");
  if (!(df > 0) || !std::isfinite(df)) {
    throw std::invalid_argument("degrees of freedom must be finite and > 0");
  }
  return boost::math::quantile(boost::math::students_t(df), q);
}

comparison two_proportion(double x1, double n1, double x2, double n2, double alpha) {
  require_probability(alpha, "alpha");
  n1 = sanitise(n1);
  n2 = sanitise(n2);
  x1 = std::min(sanitise(x1), n1);
  x2 = std::min(sanitise(x2), n2);
  comparison c;
  c.control = n1 > 0 ? x1 / n1 : 0;
  c.treatment = n2 > 0 ? x2 / n2 : 0;
  if (n1 < 2 || n2 < 2) {
    return c;
  }
  const double pooled = (x1 + x2) / (n1 + n2);
  const double se0 = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se0 > 0)) {
    return c;  // both arms all successes or all failures: nothing to test
  }
  const double p1 = c.control;
  const double p2 = c.treatment;
  const double z = (p2 - p1) / se0;
  if (!std::isfinite(z)) {
    return c;
  }
  const double se = std::sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2);
  fill_intervals(c, {n1, p1, p1 * (1 - p1)}, {n2, p2, p2 * (1 - p2)}, se,
                 z_quantile(1 - alpha / 2));
  c.statistic = z;
  c.p_value = two_sided_normal_p(z);
  c.p_adjusted = c.p_value;
  c.valid = true;
  return finite_or_invalid(c);
}

namespace {

// Welch's t-test between two arms given as (n, mean, per-unit variance).
comparison welch_arms(const arm& ctl, const arm& trt, double alpha) {
  comparison c;
  c.control = finite_or_zero(ctl.mean);
  c.treatment = finite_or_zero(trt.mean);
  const double nc = ctl.n;
  const double nt = trt.n;
  if (!(nc >= 2 && nt >= 2) || !std::isfinite(nc) || !std::isfinite(nt)) {
    return c;
  }
  const double vc = ctl.var / nc;  // squared standard error of each mean
  const double vt = trt.var / nt;
  const double se2 = vc + vt;
  if (!(se2 > 0) || !std::isfinite(se2) || !std::isfinite(ctl.mean) || !std::isfinite(trt.mean)) {
    return c;
  }
  const double df = se2 * se2 / (vc * vc / (nc - 1) + vt * vt / (nt - 1));
  const double se = std::sqrt(se2);
  const double t = (trt.mean - ctl.mean) / se;
  if (!(df > 0) || !std::isfinite(df) || !std::isfinite(t)) {
    return c;
  }
  fill_intervals(c, ctl, trt, se, t_quantile(df, 1 - alpha / 2));
  c.statistic = t;
  c.df = df;
  c.p_value = two_sided_t_p(t, df);
  c.p_adjusted = c.p_value;
  c.valid = true;
  return finite_or_invalid(c);
}

}  // namespace

comparison welch(const moments& control, const moments& treatment, double alpha) {
  require_probability(alpha, "alpha");
  return welch_arms({control.n, control.mean(), control.variance()},
                    {treatment.n, treatment.mean(), treatment.variance()}, alpha);
}

comparison ratio_welch(const ratio_moments& control, const ratio_moments& treatment, double alpha) {
  require_probability(alpha, "alpha");
  comparison c = welch_arms({control.units, control.ratio(), control.variance()},
                            {treatment.units, treatment.ratio(), treatment.variance()}, alpha);
  if (control.d_sum == 0 || treatment.d_sum == 0) {
    comparison invalid;
    invalid.control = c.control;
    invalid.treatment = c.treatment;
    return invalid;
  }
  return c;
}

std::vector<double> holm(std::span<const double> p) {
  const std::size_t m = p.size();
  std::vector<double> clean(m);
  std::transform(p.begin(), p.end(), clean.begin(),
                 [](double x) { return std::isnan(x) ? 1.0 : std::clamp(x, 0.0, 1.0); });
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return clean[a] < clean[b]; });
  std::vector<double> out(m);
  double running = 0;  // the max over j ≤ k keeps adjusted values monotone in the raw order
  for (std::size_t k = 0; k < m; ++k) {
    const double factor = static_cast<double>(m - k);
    running = std::max(running, std::min(1.0, factor * clean[order[k]]));
    out[order[k]] = running;
  }
  return out;
}

srm_result sample_ratio_mismatch(std::span<const double> observed, std::span<const double> weights,
                                 double threshold) {
  if (observed.size() != weights.size()) {
    return {};
  }
  std::vector<double> o;
  std::vector<double> w;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (sanitise(weights[i]) > 0) {
      o.push_back(sanitise(observed[i]));
      w.push_back(sanitise(weights[i]));
    }
  }
  const double total_o = std::accumulate(o.begin(), o.end(), 0.0);
  const double total_w = std::accumulate(w.begin(), w.end(), 0.0);
  if (o.size() < 2 || !(total_o > 0) || !std::isfinite(total_o) || !std::isfinite(total_w)) {
    return {};
  }
  srm_result r;
  for (std::size_t i = 0; i < o.size(); ++i) {
    const double e = w[i] / total_w * total_o;
    r.chi2 += (o[i] - e) * (o[i] - e) / e;
  }
  if (!std::isfinite(r.chi2)) {
    return {};  // only with denormal weights; nothing sensible to report
  }
  r.df = static_cast<double>(o.size() - 1);
  r.p_value = boost::math::cdf(boost::math::complement(boost::math::chi_squared(r.df), r.chi2));
  r.mismatch = r.p_value < threshold;
  return r;
}

double sample_size_proportions(double p1, double p2, double alpha, double power) {
  require_probability(alpha, "alpha");
  require_probability(power, "power");
  const auto is_rate = [](double p) { return p >= 0 && p <= 1; };  // false for NaN
  if (!is_rate(p1) || !is_rate(p2) || p1 == p2) {
    return 0;
  }
  const double k = z_quantile(1 - alpha / 2) + z_quantile(power);
  const double d = p1 - p2;
  return round_up_size(k * k * (p1 * (1 - p1) + p2 * (1 - p2)) / (d * d));
}

double sample_size_means(double sigma, double delta, double alpha, double power) {
  require_probability(alpha, "alpha");
  require_probability(power, "power");
  if (!std::isfinite(sigma) || !std::isfinite(delta) || sigma < 0 || delta == 0) {
    return 0;
  }
  const double k = z_quantile(1 - alpha / 2) + z_quantile(power);
  return round_up_size(2 * k * k * sigma * sigma / (delta * delta));
}

}  // namespace switchyard::stats
