#pragma once

#include <chrono>
#include <cstdint>

namespace switchyard {

using steady_clock = std::chrono::steady_clock;

/// The monotonic clock as integer nanoseconds: what the lock-free tables (rate limiter, circuit
/// breakers) store in their atomics.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             steady_clock::now().time_since_epoch())
      .count();
}

/// Wall-clock seconds since the Unix epoch, for stored records and signed ids.
inline std::int64_t unix_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Milliseconds between two steady time points, as the access log and metrics report them.
inline double elapsed_ms(steady_clock::time_point from, steady_clock::time_point to) noexcept {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace switchyard
