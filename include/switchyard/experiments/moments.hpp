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

}  // namespace switchyard
