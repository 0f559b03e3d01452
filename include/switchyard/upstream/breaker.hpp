#pragma once

#include "switchyard/config/config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace switchyard {

/// closed: traffic flows. open: the upstream is ejected until its cooldown ends. half_open: the
/// cooldown is over and one probe request decides whether to close again.
enum class breaker_state { closed, open, half_open };

/// Circuit breaker for one upstream, shared by all worker threads; lock-free (one 64-bit state
/// word changed by CAS, plus counters). Every call takes the time explicitly — steady_clock
/// nanoseconds, `now_ns ≥ 0` — so it holds no clock and tests need no sleeps.
///
/// Ejection (closed → open) happens on either rule:
/// - `consecutive_failures` failures in a row (0 disables the rule);
/// - in the current fixed `window` (aligned to multiples of `window` on the clock), at least
///   `min_requests` outcomes of which a share ≥ `failure_rate` failed, checked when a failure is
///   recorded (failure_rate ≤ 0 or window ≤ 0 disables the rule). A fixed window rather than two
///   buckets because requests and failures then share one atomic word: a single CAS both resets
///   the window at its boundary and counts, so the rate is never computed from a torn pair and no
///   count is lost to a reset. Its blind spot, a burst split across a boundary, is what the
///   consecutive rule catches.
///
/// The cooldown is `cooldown × 2^(streak − 1)`, capped by `max_cooldown`, where `streak` counts
/// ejections without a long healthy spell between them. After the cooldown, allow() lets exactly
/// one probe through; its success closes the breaker, its failure re-opens it with the next
/// (doubled) cooldown. Outcomes recorded while open come from requests admitted before the
/// ejection and are ignored. A closed breaker does not forget the streak at once but decays it by
/// one level per `max_cooldown` of closed time (as Envoy's ejection multiplier decays), so an
/// upstream that flaps between one good probe and renewed failures gets ever longer cooldowns,
/// while one that stays healthy is forgiven.
///
/// `breaker_config::enabled == false` → allow() is always true and record() does nothing.
class circuit_breaker {
 public:
  explicit circuit_breaker(const breaker_config& cfg) noexcept;
  circuit_breaker(const circuit_breaker&) = delete;
  circuit_breaker& operator=(const circuit_breaker&) = delete;

  /// May a request go to this upstream now? Closed → true. Open → false until the cooldown ends;
  /// then true for exactly one caller across all threads (the probe) and false for the others
  /// until the probe's outcome is recorded. A probe whose outcome is never recorded (e.g. the
  /// client went away) is presumed lost after the base `cooldown`, and one more probe may go.
  bool allow(std::int64_t now_ns) noexcept;

  /// The outcome of a request allow() let through, recorded as soon as it is known (a connect
  /// failure, or the response status), not at the end of a long stream. While half-open, the
  /// first outcome recorded is taken as the probe's.
  void record(bool success, std::int64_t now_ns) noexcept;

  /// The state as allow() would see it: an open breaker whose cooldown has ended is half_open.
  breaker_state current(std::int64_t now_ns) const noexcept;

  /// How long until allow() may return true again with nothing else recorded: the rest of the
  /// cooldown when open, the rest of the probe's lease when a probe is out, 0 otherwise. Meant
  /// for the `retry-after` of a fast 503 when every target is ejected.
  std::chrono::nanoseconds retry_after(std::int64_t now_ns) const noexcept;

  /// Ejections since construction, for metrics (monotonic).
  std::uint32_t ejections() const noexcept { return ejections_.load(std::memory_order_relaxed); }

  /// The current ejection streak (not decayed yet): the last cooldown was
  /// cooldown × 2^(streak − 1). 0 before the first ejection.
  std::uint32_t streak() const noexcept;

 private:
  void eject(std::uint64_t seen, std::int64_t now_ns) noexcept;
  void settle_probe(std::uint64_t seen, bool success, std::int64_t now_ns) noexcept;
  bool failure_rate_tripped(bool success, std::int64_t now_ns) noexcept;

  breaker_config cfg_;
  // Phase (closed/open/probing), streak and one time in microseconds, packed so that every
  // transition is a single CAS; see breaker.cpp for the layout.
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint32_t> consecutive_{0};
  std::atomic<std::uint64_t> window_{0};  // epoch, requests and failures of the fixed window
  std::atomic<std::uint32_t> ejections_{0};
};

}  // namespace switchyard
