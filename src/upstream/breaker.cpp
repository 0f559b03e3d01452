#include "switchyard/upstream/breaker.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard {

namespace {

// state_ layout: bits 0–1 phase, bits 2–7 streak (saturates at 63; the cooldown is capped long
// before), bits 8–63 a time in microseconds. The time is `closed_since` while closed (for the
// streak's decay) and `until` while open or probing (end of the cooldown, or of the probe's
// lease). Microseconds clamped to 2^53 span 285 years of steady_clock and still convert to
// nanoseconds without overflow.
enum phase : std::uint64_t { phase_closed = 0, phase_open = 1, phase_probing = 2 };
constexpr std::uint32_t max_streak = 63;
constexpr std::int64_t max_time_us = (std::int64_t{1} << 53) - 1;

std::uint64_t phase_of(std::uint64_t s) noexcept {
  return s & 3U;
}
std::uint32_t streak_of(std::uint64_t s) noexcept {
  return static_cast<std::uint32_t>((s >> 2) & 63U);
}
std::int64_t time_us_of(std::uint64_t s) noexcept {
  return static_cast<std::int64_t>(s >> 8);
}

std::uint64_t pack(std::uint64_t ph, std::uint32_t streak, std::int64_t time_us) noexcept {
  auto t = static_cast<std::uint64_t>(std::clamp<std::int64_t>(time_us, 0, max_time_us));
  return ph | (std::uint64_t{std::min(streak, max_streak)} << 2) | (t << 8);
}

std::int64_t floor_us(std::int64_t now_ns) noexcept {
  return std::max<std::int64_t>(now_ns, 0) / 1000;
}
std::int64_t ceil_us(std::int64_t now_ns) noexcept {
  return now_ns <= 0 ? 0 : now_ns / 1000 + (now_ns % 1000 != 0 ? 1 : 0);
}

// Config durations are milliseconds; anything beyond ~35 years is treated as that.
std::int64_t ms_to_us(std::chrono::milliseconds d) noexcept {
  return std::clamp<std::int64_t>(d.count(), 0, std::int64_t{1} << 40) * 1000;
}

// window_ layout: bits 0–19 failures, 20–39 requests, 40–63 the window's epoch (its index on the
// clock, modulo 2^24: a breaker left untouched for exactly 2^24 windows would resume a stale
// count once, which is harmless). 2^20 − 1 outcomes per window; beyond that counting stops and
// the rate of the first million stands.
constexpr std::uint64_t count_mask = (std::uint64_t{1} << 20) - 1;
constexpr std::uint64_t epoch_mask = (std::uint64_t{1} << 24) - 1;

// cooldown × 2^(level − 1), capped by max_cooldown, in microseconds. The shift is guarded like
// the retry backoff: base·2^n passes the cap exactly when base > cap >> n.
std::int64_t cooldown_us(const breaker_config& cfg, std::uint32_t level) noexcept {
  const std::int64_t base = ms_to_us(cfg.cooldown);
  const std::int64_t cap = ms_to_us(cfg.max_cooldown);
  const std::uint32_t shift = level > 0 ? level - 1 : 0;
  if (shift < 62 && base <= (cap >> shift)) {
    return base << shift;
  }
  return cap;
}

// The streak after `closed since` → `now` of health: one level forgiven per max_cooldown.
std::uint32_t decayed_streak(const breaker_config& cfg, std::uint64_t s,
                             std::int64_t now_ns) noexcept {
  const std::uint32_t streak = streak_of(s);
  const std::int64_t period = std::max(ms_to_us(cfg.max_cooldown), ms_to_us(cfg.cooldown));
  if (streak == 0 || period <= 0) {
    return 0;
  }
  const std::int64_t healthy = std::max<std::int64_t>(floor_us(now_ns) - time_us_of(s), 0);
  const std::int64_t forgiven = healthy / period;
  return forgiven >= streak ? 0 : streak - static_cast<std::uint32_t>(forgiven);
}

}  // namespace

circuit_breaker::circuit_breaker(const breaker_config& cfg) noexcept : cfg_(cfg) {}

std::uint32_t circuit_breaker::streak() const noexcept {
  return streak_of(state_.load(std::memory_order_acquire));
}

bool circuit_breaker::allow(std::int64_t now_ns) noexcept {
  if (!cfg_.enabled) {
    return true;
  }
  // A lost probe is replaced after the base cooldown, but never sooner than a second: with a
  // zero lease every caller would find it expired and become "the" probe.
  const std::int64_t lease_us = std::max<std::int64_t>(ms_to_us(cfg_.cooldown), 1'000'000);
  std::uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (phase_of(s) == phase_closed) {
      return true;
    }
    if (now_ns < time_us_of(s) * 1000) {
      return false;  // cooling down, or a probe is out
    }
    // The cooldown (or a lost probe's lease) is over: exactly one caller wins this CAS; the
    // others reload a probing state with a fresh lease and return false above.
    const std::uint64_t desired = pack(phase_probing, streak_of(s), ceil_us(now_ns) + lease_us);
    if (state_.compare_exchange_weak(s, desired, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      return true;
    }
  }
}

void circuit_breaker::record(bool success, std::int64_t now_ns) noexcept {
  if (!cfg_.enabled) {
    return;
  }
  const std::uint64_t s = state_.load(std::memory_order_acquire);
  if (phase_of(s) == phase_probing) {
    settle_probe(s, success, now_ns);
    return;
  }
  if (phase_of(s) == phase_open) {
    return;  // admitted before the ejection: tells nothing the ejection did not already act on
  }
  bool trip = false;
  if (success) {
    consecutive_.store(0, std::memory_order_relaxed);
  } else if (cfg_.consecutive_failures > 0 &&
             consecutive_.fetch_add(1, std::memory_order_relaxed) + 1 >=
                 cfg_.consecutive_failures) {
    trip = true;
  }
  // Always counted, even when the consecutive rule already fired, so the window stays truthful.
  if (failure_rate_tripped(success, now_ns)) {
    trip = true;
  }
  if (trip) {
    eject(s, now_ns);
  }
}

bool circuit_breaker::failure_rate_tripped(bool success, std::int64_t now_ns) noexcept {
  const std::int64_t window_ns =
      std::clamp<std::int64_t>(cfg_.window.count(), 0, std::int64_t{1} << 40) * 1'000'000;
  if (window_ns <= 0 || !(cfg_.failure_rate > 0)) {
    return false;
  }
  const auto epoch =
      static_cast<std::uint64_t>(std::max<std::int64_t>(now_ns, 0) / window_ns) & epoch_mask;
  std::uint64_t w = window_.load(std::memory_order_relaxed);
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  for (;;) {
    const bool same_window = (w >> 40) == epoch;
    requests = same_window ? (w >> 20) & count_mask : 0;
    failures = same_window ? w & count_mask : 0;
    if (requests == count_mask) {
      break;  // saturated: judge by what was counted
    }
    ++requests;
    failures += success ? 0 : 1;
    const std::uint64_t desired = (epoch << 40) | (requests << 20) | failures;
    if (window_.compare_exchange_weak(w, desired, std::memory_order_relaxed)) {
      break;
    }
  }
  return !success && requests >= std::max<std::uint64_t>(cfg_.min_requests, 1) &&
         static_cast<double>(failures) >= cfg_.failure_rate * static_cast<double>(requests);
}

void circuit_breaker::eject(std::uint64_t seen, std::int64_t now_ns) noexcept {
  while (phase_of(seen) == phase_closed) {
    const std::uint32_t level = std::min(decayed_streak(cfg_, seen, now_ns) + 1, max_streak);
    const std::uint64_t desired =
        pack(phase_open, level, ceil_us(now_ns) + cooldown_us(cfg_, level));
    if (state_.compare_exchange_weak(seen, desired, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      // Only the thread whose CAS opened the breaker counts the ejection and clears the rules'
      // counters; concurrent trippers see `open` and stop.
      ejections_.fetch_add(1, std::memory_order_relaxed);
      consecutive_.store(0, std::memory_order_relaxed);
      window_.store(0, std::memory_order_relaxed);
      return;
    }
  }
}

void circuit_breaker::settle_probe(std::uint64_t seen, bool success, std::int64_t now_ns) noexcept {
  while (phase_of(seen) == phase_probing) {
    const std::uint32_t streak = streak_of(seen);
    const std::uint32_t next = std::min(streak + 1, max_streak);
    const std::uint64_t desired =
        success ? pack(phase_closed, streak, floor_us(now_ns))
                : pack(phase_open, next, ceil_us(now_ns) + cooldown_us(cfg_, next));
    if (state_.compare_exchange_weak(seen, desired, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      if (success) {
        // A fresh start for both rules: failures from before the ejection must not re-trip it.
        consecutive_.store(0, std::memory_order_relaxed);
        window_.store(0, std::memory_order_relaxed);
      } else {
        ejections_.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
  }
}

breaker_state circuit_breaker::current(std::int64_t now_ns) const noexcept {
  if (!cfg_.enabled) {
    return breaker_state::closed;
  }
  const std::uint64_t s = state_.load(std::memory_order_acquire);
  switch (phase_of(s)) {
    case phase_closed:
      return breaker_state::closed;
    case phase_open:
      return now_ns < time_us_of(s) * 1000 ? breaker_state::open : breaker_state::half_open;
    default:
      return breaker_state::half_open;
  }
}

std::chrono::nanoseconds circuit_breaker::retry_after(std::int64_t now_ns) const noexcept {
  if (!cfg_.enabled) {
    return std::chrono::nanoseconds{0};
  }
  const std::uint64_t s = state_.load(std::memory_order_acquire);
  if (phase_of(s) == phase_closed) {
    return std::chrono::nanoseconds{0};
  }
  return std::chrono::nanoseconds{std::max<std::int64_t>(time_us_of(s) * 1000 - now_ns, 0)};
}

}  // namespace switchyard
