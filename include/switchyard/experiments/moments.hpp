#pragma once

namespace switchyard {

/// Sufficient statistics of one measure — n, Σx, Σx² — which is all a t-test needs, and which
/// merge by addition across workers, flushes and hours (experiments.md §2.3).
struct moments {
  double n = 0;
  double sum = 0;
  double sum_sq = 0;

  void add(double x) noexcept {
    n += 1;
    sum += x;
    sum_sq += x * x;
  }
  moments& operator+=(const moments& o) noexcept {
    n += o.n;
    sum += o.sum;
    sum_sq += o.sum_sq;
    return *this;
  }
  double mean() const noexcept { return n > 0 ? sum / n : 0; }
  /// Sample variance (n − 1); 0 with fewer than two values. Clamped at 0 against rounding.
  double variance() const noexcept {
    if (n < 2) {
      return 0;
    }
    double v = (sum_sq - sum * sum / n) / (n - 1);
    return v > 0 ? v : 0;
  }
  bool operator==(const moments&) const = default;
};

/// Per-unit sufficient statistics of a ratio metric M/D (experiments.md §2.3, GrowthBook's ratio
/// metrics): over units u, the count and the sums of M_u, D_u, M_u², D_u² and M_u·D_u. E.g. the
/// error rate of a user with D_u requests of which M_u failed; latency per request with M_u the
/// user's summed latency. Merges by addition across variants' shards (never across a unit split
/// in two: each unit's M_u and D_u must be complete before they are squared).
struct ratio_moments {
  double units = 0;
  double m_sum = 0, m_sq = 0;
  double d_sum = 0, d_sq = 0;
  double md_sum = 0;

  void add(double m, double d) noexcept {
    units += 1;
    m_sum += m;
    m_sq += m * m;
    d_sum += d;
    d_sq += d * d;
    md_sum += m * d;
  }
  ratio_moments& operator+=(const ratio_moments& o) noexcept {
    units += o.units;
    m_sum += o.m_sum;
    m_sq += o.m_sq;
    d_sum += o.d_sum;
    d_sq += o.d_sq;
    md_sum += o.md_sum;
    return *this;
  }
  /// ΣM/ΣD; 0 when ΣD is 0.
  double ratio() const noexcept { return d_sum != 0 ? m_sum / d_sum : 0; }
  /// The per-unit variance of the ratio by the delta method (GrowthBook utils.variance_of_ratios):
  /// var_M/μD² + var_D·μM²/μD⁴ − 2·cov·μM/μD³ with sample (n − 1) moments, so that
  /// variance()/units is the squared standard error of ratio(). 0 with fewer than two units or
  /// μD = 0; clamped at 0 against rounding.
  double variance() const noexcept {
    if (units < 2 || d_sum == 0) {
      return 0;
    }
    const double mm = m_sum / units, md = d_sum / units;
    const double var_m = (m_sq - m_sum * mm) / (units - 1);
    const double var_d = (d_sq - d_sum * md) / (units - 1);
    const double cov = (md_sum - m_sum * md) / (units - 1);
    const double r = mm / md;
    const double v = (var_m - 2 * r * cov + r * r * var_d) / (md * md);
    return v > 0 ? v : 0;
  }
  bool operator==(const ratio_moments&) const = default;
};

}  // namespace switchyard
