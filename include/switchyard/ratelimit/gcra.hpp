#pragma once

#include "switchyard/config/config.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace switchyard {

/// The answer to one `gcra_table::take`.
struct decision {
  bool allowed = true;
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;              // units that would still fit right now
  std::chrono::nanoseconds reset_after{0};  // until the bucket is full again
  std::chrono::nanoseconds retry_after{0};  // until `cost` more would fit; 0 when allowed
  bool overflowed = false;  // no slot could be had: the answer is a fresh bucket's (failed open)
};

/// Rate buckets for many keys, shared by every worker thread without a lock: GCRA (the "virtual
/// scheduling" form of a token bucket) keeps one theoretical arrival time (TAT) per key, so a
/// bucket is a single atomic word and a take is one compare-exchange.
///
/// Keys are 64-bit hashes chosen by the caller (0 is mapped to 1: it marks an empty slot). The
/// table has a fixed capacity and probes a bounded window per key; when the window holds no
/// usable slot the take fails open and is counted in `overflows()`, because a rate limiter must
/// never take the gateway down.
///
/// Exactness: takes on a key that has its slot are linearised by the CAS on the TAT, so N+1
/// concurrent takes on a bucket of N get exactly one refusal, and threads racing to create a new
/// key's bucket all find the same slot. The only imprecision is under eviction, i.e. once a probe
/// window has no empty slot left (see `probe` in gcra.cpp): in a nanosecond-wide race a charge on
/// a bucket that is being evicted (so was full) may be lost or land on the new owner, or a new
/// key may briefly get two slots.
class gcra_table {
 public:
  /// `capacity` is rounded up to a power of two.
  explicit gcra_table(std::size_t capacity = std::size_t{1} << 16);

  /// Takes `cost` units from the bucket `key` that holds at most `limit` units per `period`
  /// (emission interval T = period/limit rounded up to a nanosecond, burst tolerance = limit·T
  /// ≈ period: at most `limit` units in any `period`, starting full). A refused take changes
  /// nothing. `cost` 0 only looks. A `cost` above `limit` can never fit, so it is refused with
  /// `retry_after` = `period`. `limit` 0 or a non-positive `period` means no limit (always
  /// allowed). `now_ns` is any monotonic clock in nanoseconds (steady_clock); all callers of one
  /// table must use the same clock.
  /// `keep` (batch priority): the take is refused unless `keep` more units would still fit after
  /// it, i.e. the bucket keeps that much for others; `retry_after` then says when it would.
  decision take(std::uint64_t key, std::uint64_t cost, std::uint64_t limit, duration period,
                std::int64_t now_ns, std::uint64_t keep = 0);

  /// Moves the TAT of `key` by `delta`·T to reconcile a reservation with real usage: a negative
  /// `delta` refunds (never past "full", i.e. the TAT never goes below now), a positive one
  /// charges extra even beyond the burst, because those units were really consumed. The debt is
  /// capped at one `period` past the burst, so a runaway response cannot lock a key out for longer
  /// than two periods (nor overflow the TAT).
  void adjust(std::uint64_t key, std::int64_t delta, std::uint64_t limit, duration period,
              std::int64_t now_ns);

  /// Takes that failed open because no slot could be had (a metric: capacity is too small).
  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  struct slot {
    std::atomic<std::uint64_t> key{0};  // 0 = empty
    std::atomic<std::int64_t> tat_ns{0};
  };

  std::unique_ptr<slot[]> slots_;
  std::size_t mask_;
  std::atomic<std::uint64_t> overflows_{0};
};

/// Requests in flight per key, shared by every worker thread without a lock. Same table scheme as
/// `gcra_table`; a slot with nothing in flight is equivalent to a fresh one and may be evicted.
class concurrency_table {
 public:
  /// A held unit; give it back with `release` exactly once.
  struct ticket {
    std::size_t slot;         // npos: failed open (or no limit), holds nothing
    bool overflowed = false;  // failed open because no slot could be had
  };

  /// `capacity` is rounded up to a power of two.
  explicit concurrency_table(std::size_t capacity = std::size_t{1} << 16);

  /// One more in flight for `key` if fewer than `limit` are; nullopt when full. Fails open (a
  /// ticket that holds nothing, counted in `overflows()`) when no slot can be had.
  std::optional<ticket> try_acquire(std::uint64_t key, std::uint32_t limit);

  /// Gives back what `try_acquire` took. The ticket names the slot rather than the key, so the
  /// decrement reaches the counter that was incremented even if the slot changed hands.
  void release(ticket t) noexcept;

  /// In flight for `key` now (0 when it has no slot); for tests and debugging.
  std::int64_t in_flight(std::uint64_t key) const noexcept;

  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  struct slot {
    std::atomic<std::uint64_t> key{0};  // 0 = empty
    std::atomic<std::int64_t> in_flight{0};
  };

  std::unique_ptr<slot[]> slots_;
  std::size_t mask_;
  std::atomic<std::uint64_t> overflows_{0};
};

/// `d` the way Go's time.Duration.String() prints it, as OpenAI's x-ratelimit-reset-* headers do:
/// `0s`, `12ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`. Rounded up to whole milliseconds (a reset time
/// must not be early); below one second in `ms`, otherwise seconds with up to three fractional
/// digits, trailing zeros trimmed. Negative durations print as `0s`.
std::string go_duration(std::chrono::nanoseconds d);

}  // namespace switchyard
