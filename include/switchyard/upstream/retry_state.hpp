#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/upstream/breaker.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace switchyard {

/// One request's retries across its targets (Envoy's `RetryStateImpl`): the attempts made, the
/// retry-budget slot of the retry under way, the backoff, the circuit-breaker record of each
/// attempt (exactly once), and why retrying stopped (`retry_stop`, named in the access log).
/// Every call takes the time explicitly, so tests need no clock and no sleeps.
///
/// Use, per target: start_target(); then per attempt allow() (false: ejected), begin_attempt(),
/// the attempt, record() as soon as its outcome is known (repeat calls are ignored),
/// end_attempt(); after a failed attempt decide() says whether to wait and try the same target
/// again. The request counts as in flight for the retry budget while this object lives.
class retry_state {
 public:
  retry_state(const retry_config& cfg, retry_budget& budget,
              steady_clock::time_point deadline) noexcept;
  ~retry_state();
  retry_state(const retry_state&) = delete;
  retry_state& operator=(const retry_state&) = delete;

  /// Moves on to a target guarded by `breaker` (null = none): its tries start from zero, and
  /// a budget slot still held (a retry decided but not attempted) is returned.
  void start_target(circuit_breaker* breaker) noexcept;

  /// May an attempt go to the target now? False when its breaker is open: the stop is then
  /// `ejected`, and ejected_for() the shortest wait until some ejected target takes traffic.
  bool allow(steady_clock::time_point now) noexcept;

  /// Counts an attempt on the current target.
  void begin_attempt() noexcept;

  /// The attempt's outcome for the target's breaker: recorded once per attempt, as soon as it is
  /// known (a relay records success when the response starts, not at the end of a long stream);
  /// later calls for the same attempt do nothing.
  void record(bool success, steady_clock::time_point now) noexcept;

  /// The attempt ended: the budget slot of the retry it was is returned.
  void end_attempt() noexcept;

  /// After a failed attempt that reached nobody: try the same target again, after `wait`? No
  /// when `e` is not retriable (`not_retriable`), when the target's attempts are spent
  /// (`max_attempts`), when the wait would reach the deadline (`deadline`), or when the retry
  /// budget has no free slot (`retry_budget`); a yes takes the slot until end_attempt().
  /// `server_floor` is the failed answer's retry-after; `uniform01` the jitter draw.
  retry_decision decide(const error& e, std::optional<std::chrono::milliseconds> server_floor,
                        double uniform01, steady_clock::time_point now) noexcept;

  /// Notes why attempts stop for a reason decided elsewhere (client gone, shutdown…).
  void stop(retry_stop why) noexcept { stop_ = why; }

  /// The last reason attempts stopped (none while they go on).
  retry_stop stopped() const noexcept { return stop_; }
  std::uint32_t attempts() const noexcept { return attempts_; }
  std::uint32_t retries() const noexcept { return retries_; }
  /// Every target allow() refused is ejected at least this much longer.
  std::chrono::nanoseconds ejected_for() const noexcept { return ejected_for_; }
  steady_clock::time_point deadline() const noexcept { return deadline_; }
  /// True when the deadline has passed (the stop is then `deadline`).
  bool past_deadline(steady_clock::time_point now) noexcept;

 private:
  void release_slot() noexcept;

  const retry_config& cfg_;
  retry_budget& budget_;
  steady_clock::time_point deadline_;
  circuit_breaker* breaker_ = nullptr;
  std::uint32_t tries_ = 0;     // on the current target
  std::uint32_t attempts_ = 0;  // on every target
  std::uint32_t retries_ = 0;   // attempts after a retry decision
  bool recorded_ = false;       // the current attempt's breaker outcome
  bool slot_ = false;           // a retry-budget slot is held
  retry_stop stop_ = retry_stop::none;
  std::chrono::nanoseconds ejected_for_ = std::chrono::nanoseconds::max();
};

}  // namespace switchyard
