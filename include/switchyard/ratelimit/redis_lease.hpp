#pragma once

// The arithmetic and the Redis scripts of rate limits shared across replicas (leased and exact
// modes, docs/replica-limits.md). Pure: numbers in, numbers out; the scripts are text.

#include "switchyard/config/config.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

/// The most a replica holds of one bucket, as a share of its capacity (TensorZero's cap when the
/// bucket is less than half used). The overshoot bound of leased mode is replicas × this.
inline constexpr double max_lease_share = 0.25;

/// The lease cap for a bucket of `capacity` units: max(1, ⌊capacity × max_lease_share⌋).
std::uint64_t max_lease(std::uint64_t capacity) noexcept;

/// How much a replica asks for when it renews, TensorZero's token-pool rule: enough for
/// `horizon` at the rate this replica admits (`rate_per_s`, at least 1 unit), capped by the
/// bucket's utilisation as Redis last reported it (`remaining` of `capacity`): 25 % of the
/// capacity below 50 % used, 10 % up to 80 %, 5 % above (at least 1). Idle replicas borrow
/// little, busy ones more, and the last fifth of a quota is split finely between replicas.
std::uint64_t lease_size(double rate_per_s, std::chrono::nanoseconds horizon,
                         std::uint64_t capacity, std::uint64_t remaining) noexcept;

/// The limit each replica enforces on its own while Redis is unavailable:
/// ⌊limit / expected_replicas × (1 − margin)⌋, at least 1 (0 would mean "no limit"), never the
/// full limit unless there is one replica and no margin.
std::uint64_t fallback_limit(std::uint64_t limit, std::uint32_t expected_replicas,
                             double margin) noexcept;

/// Units a batch-priority request must leave in a bucket of `capacity`: ⌈capacity × reserve⌉
/// (so a reserve > 0 always keeps at least one unit for live traffic).
std::uint64_t batch_keep(std::uint64_t capacity, double reserve) noexcept;

/// Whether a batch request of `cost` may take from a bucket with `free` units now: only if
/// `free - cost >= keep`. Live requests (`keep` 0) need `free >= cost`.
bool batch_fits(std::uint64_t free, std::uint64_t cost, std::uint64_t keep) noexcept;

/// The Redis key of one bucket: prefix + "rl:" + 16 hex digits of its 64-bit key (a hash of the
/// limit's index, the scope values and the kind: never an API key or a user id).
std::string bucket_key(std::string_view prefix, std::uint64_t key);

/// A GCRA bucket's constants in microseconds, as the scripts take them: emission interval
/// period/limit (fractional) and burst tolerance limit × interval.
struct redis_gcra {
  double interval_us = 0;
  double burst_us = 0;
};
redis_gcra gcra_of(std::uint64_t limit, std::chrono::milliseconds period) noexcept;

/// The `x-switchyard-priority` value that lowers a request to batch priority ("batch", ASCII
/// case-insensitive, surrounding blanks ignored); anything else is live.
bool is_batch_priority(std::string_view header_value) noexcept;

namespace rate_lua {

/// Takes from N GCRA buckets at once, all or nothing, on the server's TIME (microseconds).
/// KEYS: the buckets. ARGV: 5 numbers per key: interval_us, burst_us, need, want, keep.
/// A bucket grants `need` (the request's own cost) plus up to `want - need` more (a lease)
/// while keeping `keep` units free (batch priority); if any bucket cannot grant `need`, none
/// grants anything. Reply: {ok, refused index (1-based, 0 if ok), retry_after_us, then per key
/// granted, remaining, reset_after_us}.
extern const char* const take;

/// Gives back (negative) or charges (positive) units on N buckets: returned leases, refunds
/// and extra charges of token reconciliation. KEYS: the buckets; ARGV: 3 numbers per key:
/// interval_us, burst_us, delta. A refund never makes a bucket more than full; a charge never
/// puts it more than one burst into debt. Reply: 1.
extern const char* const adjust;

}  // namespace rate_lua

}  // namespace switchyard
