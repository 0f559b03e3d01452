#include "switchyard/alerts/traffic.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace switchyard {

traffic_figures& traffic_figures::operator+=(const traffic_figures& o) {
  requests += o.requests;
  errors += o.errors;
  fallbacks += o.fallbacks;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  cost_usd += o.cost_usd;
  if (latency.size() < o.latency.size()) {
    latency.resize(o.latency.size(), 0);
  }
  for (std::size_t i = 0; i < o.latency.size(); ++i) {
    latency[i] += o.latency[i];
  }
  return *this;
}

bool traffic_figures::empty() const noexcept {
  return requests == 0 && errors == 0 && input_tokens == 0 && output_tokens == 0 && cost_usd == 0 &&
         std::all_of(latency.begin(), latency.end(), [](double c) { return c == 0; });
}

feedback_figures& feedback_figures::operator+=(const feedback_figures& o) noexcept {
  success += o.success;
  failure += o.failure;
  score_sum += o.score_sum;
  score_n += o.score_n;
  return *this;
}

bool feedback_figures::empty() const noexcept {
  return success == 0 && failure == 0 && score_n == 0;
}

traffic_delta& traffic_delta::operator+=(const traffic_delta& o) {
  for (const auto& [k, f] : o.series) {
    series[k] += f;
  }
  for (const auto& [k, f] : o.feedback) {
    feedback[k] += f;
  }
  return *this;
}

bucket_ring::bucket_ring(std::int64_t width, std::int64_t keep) : width_(width), keep_(keep) {
  if (width <= 0 || keep < width) {
    throw std::invalid_argument("bucket_ring: width > 0 and keep >= width");
  }
}

std::int64_t bucket_ring::bucket_start(std::int64_t t) const noexcept {
  const std::int64_t q = t / width_ - (t % width_ < 0 ? 1 : 0);
  return q * width_;
}

void bucket_ring::add(std::int64_t now, const traffic_delta& d) {
  std::int64_t start = bucket_start(now);
  if (!buckets_.empty() && start < buckets_.back().first) {
    start = buckets_.back().first;  // the clock went back: keep the order
  }
  if (!d.empty()) {
    if (buckets_.empty() || buckets_.back().first != start) {
      buckets_.emplace_back(start, traffic_delta{});
    }
    buckets_.back().second += d;
  }
  while (!buckets_.empty() && buckets_.front().first <= start - keep_) {
    buckets_.pop_front();
  }
}

traffic_delta bucket_ring::sum(std::int64_t from, std::int64_t to) const {
  traffic_delta out;
  const std::int64_t first = bucket_start(from);
  for (const auto& [start, d] : buckets_) {
    if (start >= first && start <= to) {
      out += d;
    }
  }
  return out;
}

traffic_history::traffic_history(std::vector<double> latency_bounds, std::int64_t started)
    : bounds_(std::move(latency_bounds)), started_(started) {}

void traffic_history::add(std::int64_t now, const traffic_delta& d) {
  fine_.add(now, d);
  coarse_.add(now, d);
}

traffic_delta traffic_history::window(std::int64_t now, std::int64_t seconds) const {
  const bucket_ring& ring = seconds <= fine_keep ? fine_ : coarse_;
  // The current bucket counts; a window of N minutes reaches N whole buckets back.
  const std::int64_t from = now - std::max<std::int64_t>(seconds, 1) + 1;
  return ring.sum(from, now);
}

std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) {
    total += c;
  }
  if (total <= 0 || bounds.empty()) {
    return std::nullopt;
  }
  const double rank = q * total;
  double seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0) {
      continue;
    }
    if (seen + counts[i] >= rank) {
      if (i >= bounds.size()) {
        return bounds.back();  // +Inf: the highest finite bound, as Prometheus answers
      }
      const double lo = i == 0 ? 0 : bounds[i - 1];
      const double hi = bounds[i];
      return lo + (hi - lo) * std::clamp((rank - seen) / counts[i], 0.0, 1.0);
    }
    seen += counts[i];
  }
  return bounds.back();
}

bool counts_as_error(std::string_view status_class, std::string_view error_type) noexcept {
  if (status_class == "5xx") {
    return true;
  }
  return error_type == "rate_limit" || error_type == "timeout" || error_type == "upstream_error" ||
         error_type == "upstream_unavailable" || error_type == "internal";
}

}  // namespace switchyard
