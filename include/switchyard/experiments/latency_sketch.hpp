#pragma once

#include "switchyard/core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// A mergeable latency quantile sketch (DDSketch-style): values fall into logarithmic buckets of
/// ratio gamma = 1.02 covering 0.01 ms .. 1e7 ms, so any quantile is answered with a relative error
/// of at most (gamma − 1)/(gamma + 1) ≈ 1%, and two sketches merge exactly by adding counts. That
/// is what lets per-worker, per-hour sketches stored in SQLite be combined into one p95.
///
/// Values below 0.01 ms land in the first bucket and values above 1e7 ms in the last. The bucket
/// array (about 4 KiB) is allocated on the first `add` or `merge`, so an unused sketch costs
/// nothing and `add` never allocates afterwards. Not thread-safe: one sketch per worker.
class latency_sketch {
 public:
  /// Records one latency in milliseconds. Negative and NaN values are ignored. A bucket that
  /// already holds 2^32 − 1 values drops further ones (not a realistic hourly load).
  void add(double ms) noexcept;

  /// Adds every value recorded in `other` (bucket counts saturate like `add`).
  void merge(const latency_sketch& other);

  /// Values recorded.
  std::uint64_t count() const noexcept { return count_; }

  /// True when nothing was recorded.
  bool empty() const noexcept { return count_ == 0; }

  /// The `q`-quantile (q clamped to [0, 1]; NaN reads as 0): the representative value (geometric
  /// midpoint) of the bucket holding the value of rank floor(q·(count − 1)). 0 when empty.
  double quantile(double q) const noexcept;

  /// The share of values greater than `ms`, at bucket resolution: a value counts as above when
  /// its bucket's representative (what `quantile` reports) is. 0 when empty or `ms` is NaN; 1
  /// when `ms` is negative.
  double fraction_above(double ms) const noexcept;

  /// Compact binary form: a version byte, a varint number of non-empty buckets, then per bucket a
  /// varint gap to the previous index and a varint count. Empty sketches are two bytes.
  std::string serialize() const;

  /// `serialize()` into `out` (replacing its content, keeping its capacity): the statistics
  /// flush reuses one string per row instead of allocating one per flush.
  void serialize_into(std::string& out) const;

  /// Forgets every value but keeps the bucket array, so a sketch reused across flushes does not
  /// allocate again.
  void clear() noexcept;

  /// Parses `serialize()` output. Garbage, truncated or over-long input, an unknown version and
  /// out-of-range buckets are errors (errc::invalid_request), never crashes.
  static result<latency_sketch> deserialize(std::string_view bytes);

 private:
  std::vector<std::uint32_t> buckets_;  // empty until the first value; then bucket_count long
  std::uint64_t count_ = 0;
};

}  // namespace switchyard
