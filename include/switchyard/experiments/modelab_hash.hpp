#pragma once

#include <cstdint>
#include <span>
#include <string_view>

// modelab's SDK assignment (shared/reference/seeds.md §2), bit for bit, so that a team moving
// from modelab to `hash: modelab` keeps every user in the variant the SDK gave them:
//   bucket    = int(md5(f"{flag_name}:{user_id}").hexdigest(), 16) % 10000
//   in        = bucket < int(rollout_pct / 100 * 10000)
//   point     = bucket % sum(weights)
//   variant   = the first whose running sum of weights exceeds point (all weights 0: the first)

namespace switchyard {

/// The number of buckets modelab hashes into.
inline constexpr std::uint32_t modelab_buckets = 10000;

/// The MD5 of `flag_name + ":" + user_id` read as a 128-bit big-endian integer, mod 10000.
std::uint32_t modelab_bucket(std::string_view flag_name, std::string_view user_id) noexcept;

/// Python's `int(rollout_pct / 100 * 10000)` in IEEE double arithmetic (the same operations in
/// the same order, then truncation toward zero), clamped to [0, 10000]; NaN → 0.
std::uint32_t modelab_threshold(double rollout_pct) noexcept;

/// The variant for `bucket` given integer weights: `bucket % total`, then the first index whose
/// running sum exceeds it; 0 when every weight is 0; -1 when `weights` is empty.
int modelab_variant(std::uint32_t bucket, std::span<const std::uint64_t> weights) noexcept;

/// One assignment: -1 when the unit is outside the rollout (bucket >= threshold), else the
/// variant index. `bucket_out` (when given) receives the bucket.
int modelab_assign(std::string_view flag_name, std::string_view user_id, std::uint32_t threshold,
                   std::span<const std::uint64_t> weights,
                   std::uint32_t* bucket_out = nullptr) noexcept;

}  // namespace switchyard
