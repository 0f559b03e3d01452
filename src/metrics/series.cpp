#include "switchyard/metrics/registry.hpp"

#include "series_detail.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>

// The series themselves: counter, gauge (both a sharded_sum) and histogram. Families and the
// registry, which create and render them, are in registry.cpp.
//
// Memory order: observations use relaxed RMWs (a counter needs atomicity, not ordering).

namespace switchyard::metrics {

void set_thread_shard(std::size_t index) noexcept {
  detail::thread_shard = index;
}

namespace detail {

std::size_t at_least_one(std::size_t shards) {
  if (shards == 0) {
    throw std::invalid_argument("metrics: a series needs at least one shard");
  }
  return shards;
}

// Finite, strictly increasing bounds; a trailing +Inf is dropped (that bucket always exists).
std::vector<double> normalized_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("metrics: histogram bounds must be finite and increasing");
    }
  }
  return bounds;
}

sharded_sum::sharded_sum(std::size_t shards)
    : shards_(at_least_one(shards)), cells_(std::make_unique<cell[]>(shards)) {}

double sharded_sum::value() const noexcept {
  double sum = 0;
  for (std::size_t s = 0; s < shards_; ++s) {
    sum += cells_[s].value.load(std::memory_order_relaxed);
  }
  return sum;
}

}  // namespace detail

histogram::histogram(std::size_t shards, std::vector<double> bounds)
    : bounds_(detail::normalized_bounds(std::move(bounds))), shards_(detail::at_least_one(shards)) {
  constexpr std::size_t per_line = detail::cache_line / 8;
  lines_per_shard_ = (bounds_.size() + 2 + per_line - 1) / per_line;  // sum + buckets + +Inf
  lines_ = std::make_unique<line[]>(shards_ * lines_per_shard_);
}

std::atomic<std::uint64_t>& histogram::word(std::size_t shard, std::size_t i) const noexcept {
  constexpr std::size_t per_line = detail::cache_line / 8;
  return lines_[shard * lines_per_shard_ + i / per_line].words[i % per_line];
}

void histogram::observe(double v) noexcept {
  // lower_bound finds the first bound >= v, i.e. `le` is inclusive; NaN compares false with
  // everything and would land in the first bucket, so it goes to +Inf explicitly.
  const std::size_t bucket =
      std::isnan(v) ? bounds_.size()
                    : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                               bounds_.begin());
  const std::size_t shard = detail::shard_index(shards_);
  word(shard, 1 + bucket).fetch_add(1, std::memory_order_relaxed);
  std::atomic<std::uint64_t>& sum = word(shard, 0);
  std::uint64_t old = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(old,
                                    std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + v),
                                    std::memory_order_relaxed)) {
  }
}

histogram::snapshot histogram::collect() const {
  snapshot s;
  collect(s);
  return s;
}

void histogram::collect(snapshot& into) const {
  const std::size_t n = bounds_.size() + 1;
  into.bounds.assign(bounds_.begin(), bounds_.end());
  into.cumulative.assign(n, 0);
  into.sum = 0;
  for (std::size_t s = 0; s < shards_; ++s) {
    into.sum += std::bit_cast<double>(word(s, 0).load(std::memory_order_relaxed));
    for (std::size_t b = 0; b < n; ++b) {
      into.cumulative[b] += word(s, 1 + b).load(std::memory_order_relaxed);
    }
  }
  // Count is the +Inf bucket of the same reads, so _count always equals le="+Inf".
  for (std::size_t b = 1; b < n; ++b) {
    into.cumulative[b] += into.cumulative[b - 1];
  }
  into.count = into.cumulative.back();
}

}  // namespace switchyard::metrics
