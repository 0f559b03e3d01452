#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

// Deterministic experiment assignment, bit-compatible with the GrowthBook SDKs (experiments.md
// §2.1, `packages/sdk-js/src/util.ts`), so that a unit lands in the same variant here as in any
// GrowthBook SDK given the same seed, id and ranges.

namespace switchyard {

/// FNV-1a 32 over the UTF-16 code units of a UTF-8 string, which is what JS `charCodeAt` walks:
/// a character outside the BMP counts as its two surrogates. A byte that does not start a valid
/// UTF-8 sequence (stray continuation, truncated or overlong sequence, encoded surrogate, above
/// U+10FFFF) counts as one unit holding the byte value, and decoding resumes at the next byte.
std::uint32_t fnv1a32_utf16(std::string_view utf8) noexcept;

/// GrowthBook `hash(seed, value, version)`, a number in [0, 1):
/// version 2 = (fnv(decimal(fnv(seed + value))) % 10000) / 10000,
/// version 1 = (fnv(value + seed) % 1000) / 1000 (legacy; note the order);
/// any other version → nullopt. `seed` and `value` are decoded separately, as two JS strings are.
std::optional<double> gb_hash(std::string_view seed, std::string_view value, int version) noexcept;

/// A half-open bucket interval [lo, hi).
struct bucket_range {
  double lo = 0;
  double hi = 0;
};

/// GrowthBook `getEqualWeights(n)`: n copies of 1/n; empty for n = 0.
std::vector<double> equal_weights(std::size_t n);

/// GrowthBook `getBucketRanges(variations, coverage, weights)`, exactly: coverage is clamped to
/// [0, 1] (NaN → 0); weights are replaced by equal weights when their count differs from
/// `variations` or their sum is outside [0.99, 1.01] (or not finite); range i is
/// [c_i, c_i + coverage·w_i) with c_i the sum of the weights before i. GrowthBook does not
/// normalise: callers whose weights need not sum to 1 (our config) normalise before calling.
std::vector<bucket_range> bucket_ranges(std::size_t variations, double coverage,
                                        std::span<const double> weights);

/// GrowthBook `chooseVariation`: the first i with lo <= n < hi, else -1.
int choose_variation(double n, std::span<const bucket_range> ranges) noexcept;

/// GrowthBook `inNamespace(id, [ns, lo, hi])`: lo <= hash("__" + ns, id, 1) < hi.
bool in_namespace(std::string_view unit_id, std::string_view ns, double lo, double hi) noexcept;

/// The outcome of `assign_unit`.
struct assignment_result {
  int variant = -1;   // index into the ranges; -1 = not in the experiment
  double bucket = 0;  // the hash used; 0 when the unit was excluded before hashing
  bool operator==(const assignment_result&) const = default;
};

/// One deterministic assignment, GrowthBook `run` with hash version 2: an empty `unit_id` is not
/// in the experiment; a unit outside the namespace `ns` = (name, lo, hi) is not either (bucket
/// 0); otherwise bucket = gb_hash(seed, unit_id, 2) and variant = choose_variation(bucket,
/// ranges), -1 when the bucket falls outside every range (reduced coverage).
assignment_result assign_unit(
    std::string_view seed, std::string_view unit_id, std::span<const bucket_range> ranges,
    const std::optional<std::tuple<std::string_view, double, double>>& ns = std::nullopt) noexcept;

/// A stable 64-bit key for (experiment seed, unit id), to count distinct units without storing
/// ids: FNV-1a 64 over the bytes of seed + '\x1f' + unit_id (the separator keeps ("ab", "c") and
/// ("a", "bc") apart).
std::uint64_t unit_fingerprint(std::string_view seed, std::string_view unit_id) noexcept;

}  // namespace switchyard
