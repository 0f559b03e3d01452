#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchyard {

/// The retry mode of an upstream's error answer. 408, 409, 429, 500, 502, 503, 504, 529 →
/// `yes`, except a 429 whose body says "insufficient_quota" (an exhausted account, which no wait
/// fixes; the caller parses the body, see `says_insufficient_quota` in proxy/stream_event) →
/// `no`; anything else (2xx, 400, 401, 403, 404, 413, 422, 501, 1xx, 3xx…) → `no`. Pure.
retry_mode status_retry_mode(unsigned status, bool insufficient_quota) noexcept;

/// Bounded label for the retries metric: "connect" (connect failures, a busy pool), "timeout",
/// "reset" (other failures before the response), "broken" (anything else), and for an upstream's
/// error answer one of "408", "409", "429", "500", "502", "503", "504", "529", "2xx", "4xx",
/// "5xx", "other". The set is fixed so a misbehaving upstream cannot grow a metric's
/// cardinality.
std::string_view reason_label(const error& e) noexcept;

/// Whether `e` counts against its upstream's circuit breaker: an upstream-sourced failure,
/// except an error answer below 500 (the upstream is healthy, the request was refused). Pure.
bool upstream_fault(const error& e) noexcept;

/// The server's requested wait from a failed attempt's headers (values as received; empty =
/// absent). A usable `retry-after-ms` (float milliseconds, as the Stainless SDKs read it) wins;
/// otherwise `retry-after` as (possibly fractional) seconds or an IMF-fixdate
/// (`Wed, 21 Oct 2015 07:28:00 GMT`) relative to `now`, where a date in the past means 0.
/// Garbage, negative or non-finite values count as absent; both absent → nullopt. Rounded up
/// to whole milliseconds so the floor is never undercut. The obsolete RFC 850 and asctime
/// date forms are not accepted (no LLM API sends them). Pure.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view retry_after_ms, std::string_view retry_after,
    std::chrono::system_clock::time_point now) noexcept;

/// Full-jitter exponential backoff: uniform in [0, min(cap, base·2^retry_index)) where
/// `retry_index` is 0 for the first retry. `uniform01` is the caller's random draw in [0, 1)
/// (outside that range it is clamped), so the function stays pure and testable. Any
/// `retry_index` is safe: the doubling saturates at `cap` instead of overflowing.
std::chrono::milliseconds full_jitter_backoff(std::uint32_t retry_index, const retry_config& cfg,
                                              double uniform01) noexcept;

/// Why a request's attempts stopped short of a committed response; `none` while they go on.
/// Named in the access log's `retry_stop` (see retry_stop_label).
enum class retry_stop {
  none,
  max_attempts,   // retry.max_attempts spent on the target
  deadline,       // retry.deadline would pass while waiting (or has passed)
  retry_budget,   // the process-wide retry budget has no free slot
  not_retriable,  // the failure or answer is not worth repeating (400, broken after start…)
  client_gone,    // the client closed its connection
  shutdown,       // the drain deadline passed
  ejected,        // the target's circuit breaker is open
};

/// "max_attempts", "deadline", "retry_budget", "not_retriable", "client_gone", "shutdown",
/// "ejected"; "" for none.
std::string_view retry_stop_label(retry_stop s) noexcept;

/// Whether to try the same target again, and after how long.
struct retry_decision {
  bool retry = false;
  std::chrono::milliseconds wait{0};
  retry_stop why_not = retry_stop::none;  // none when retrying; else max_attempts or deadline
};

/// Decides the next attempt after a retriable failure. `attempts_made` counts attempts on this
/// target so far (≥ 1); no retry once it reaches `cfg.max_attempts`. The wait is
/// max(full_jitter_backoff(attempts_made − 1), min(server_floor, cfg.max_retry_after)), where
/// `server_floor` is parse_retry_after of the latest failed attempt (re-read on every attempt,
/// never remembered from an earlier one). If the request would reach `deadline` while waiting,
/// there is no retry and the caller returns the upstream's last answer. Pure.
retry_decision next_retry(std::uint32_t attempts_made, const retry_config& cfg,
                          std::optional<std::chrono::milliseconds> server_floor, double uniform01,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::time_point deadline) noexcept;

/// Caps concurrent retries at a share of in-flight requests (Envoy's retry budget), so an outage
/// cannot multiply upstream load: at most max(min_concurrency, percent% of in-flight) retries may
/// be under way at once. One instance is shared by all worker threads; it uses atomics only.
///
/// Use: request_started()/request_finished() around every client request that may reach an
/// upstream; before each retry, try_start_retry(), and retry_finished() when that attempt ends.
/// A retry the budget refuses is not attempted: the request ends with the last upstream answer
/// (status and body as received), exactly as if its attempts were exhausted.
class retry_budget {
 public:
  /// `percent` of in-flight requests (e.g. 20), never fewer than `min_concurrency` retries.
  explicit retry_budget(double percent, std::uint32_t min_concurrency) noexcept;
  retry_budget(const retry_budget&) = delete;
  retry_budget& operator=(const retry_budget&) = delete;

  void request_started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  /// Takes a retry slot if one is free and returns true; false when the budget is spent. Exact
  /// under concurrency: N threads racing for the last slot get exactly one true.
  bool try_start_retry() noexcept;

  /// Returns the slot taken by a successful try_start_retry().
  void retry_finished() noexcept { active_retries_.fetch_sub(1, std::memory_order_relaxed); }

  /// The retry cap for the current in-flight count.
  std::uint64_t max_retries() const noexcept;
  std::uint64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  std::uint64_t active_retries() const noexcept {
    return active_retries_.load(std::memory_order_relaxed);
  }

 private:
  double fraction_;  // percent / 100, clamped to ≥ 0
  std::uint64_t min_;
  // Plain counters: nothing else is published through them, so relaxed ordering suffices; the
  // CAS in try_start_retry is what makes the cap exact.
  std::atomic<std::uint64_t> in_flight_{0};
  std::atomic<std::uint64_t> active_retries_{0};
};

}  // namespace switchyard
