#pragma once

// Rate limits shared by every replica through Redis: `mode: leased` and `mode: exact`
// (docs/replica-limits.md). The local limiter (limiter.hpp) keeps `mode: local` limits and every
// concurrency limit; this one keeps the requests and tokens buckets of the shared ones.

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/ratelimit/limiter.hpp"
#include "switchyard/store/redis_client.hpp"

#include <boost/container/small_vector.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

class shared_limiter;

/// What the shared limits decided for one request, and what `shared_limiter::finish` needs to
/// reconcile its token reservation. A plain value: nothing is held that could leak (concurrency
/// stays with the local limiter), so a forgotten admission keeps its estimate as charged.
struct shared_admission {
  bool allowed = true;
  bool retryable = true;
  std::string_view refused_scope_label;
  std::chrono::nanoseconds retry_after{0};
  std::optional<rate_header> requests;
  std::optional<rate_header> tokens;

  /// How one bucket's charge was decided.
  enum class via : std::uint8_t { lease, redis, fallback };
  struct charge {
    std::size_t limit;   // index into the limiter's limits
    std::uint64_t key;   // the bucket (hash of limit index, scope values, kind)
    std::uint64_t cost;  // units taken
    bool tokens;         // a tokens bucket (reconciled with usage)
    via how = via::lease;
    bool remote = false;        // still to be asked of Redis (`complete`)
    std::uint64_t want = 0;     // remote: need + prefetch for the lease
    std::uint64_t keep = 0;     // batch: units to leave free
    std::uint64_t granted = 0;  // remote: what Redis granted
  };
  boost::container::small_vector<charge, 4> charges;
  bool needs_redis = false;  // `complete` must be awaited before the answer is known
};

/// Counters for /metrics and the tests.
struct shared_limiter_stats {
  std::uint64_t fallback_decisions = 0;  // admissions decided by the fallback (Redis down)
  std::uint64_t failed_calls = 0;        // rate-limit Redis calls that failed or timed out
  std::uint64_t leases = 0;              // lease/take scripts that answered
  bool fallback_active = false;
};

/// The shared buckets of `rate_limits[]` entries whose mode is leased or exact. Thread-safe:
/// workers call `begin`/`complete`/`finish`; the Redis thread runs the renewals' completions;
/// one background thread ("sy-leases") returns idle leases.
class shared_limiter {
 public:
  struct options {
    std::string key_prefix = "switchyard:";
    duration timeout{50};           // what a request may wait on Redis (store.timeout)
    duration return_timeout{2000};  // returning leases at shutdown (store.flush_timeout)
    std::uint32_t expected_replicas = 1;
    /// A lease is sized for this much of the replica's traffic (TensorZero's pools borrow about
    /// one second's worth).
    std::chrono::nanoseconds horizon = std::chrono::seconds(1);
    /// A bucket unused this long on this replica gives its lease back.
    std::chrono::nanoseconds idle_return = std::chrono::seconds(5);
    std::size_t capacity = std::size_t{1} << 16;  // buckets tracked at once (then: exact)
  };

  /// `limits` is the whole `rate_limits:` list (indexes as the config has them); only entries
  /// whose mode is not local are handled here. Starts the idle-return thread.
  shared_limiter(std::vector<rate_limit_config> limits, std::shared_ptr<redis_client> redis,
                 options opts);
  ~shared_limiter();
  shared_limiter(const shared_limiter&) = delete;
  shared_limiter& operator=(const shared_limiter&) = delete;

  /// True when any limit is leased or exact.
  bool active() const noexcept { return active_; }

  /// The synchronous part, never waiting: leased buckets with enough local credit are charged
  /// here; exact buckets (and leased ones without credit) are marked for `complete`; with Redis
  /// unavailable every shared bucket is decided by the fallback. `request.batch`: batch
  /// priority (each bucket keeps its `batch_reserve`).
  shared_admission begin(const rate_request& request, std::int64_t now_ns);

  /// The part that waits on Redis, at most the store timeout: one script over every marked
  /// bucket, all or nothing. A failure (Redis down, deadline) decides them by the fallback.
  /// Resumes on the caller's executor.
  net::awaitable<void> complete(shared_admission& a, std::int64_t now_ns);

  /// Reconciles the token reservation with usage (nullopt keeps the estimate) and, on a
  /// refusal elsewhere (`cancel`), gives everything back. Never waits: Redis adjustments are
  /// sent without awaiting them. Idempotent.
  void finish(shared_admission& a, std::optional<std::uint64_t> actual_tokens,
              std::int64_t now_ns) noexcept;
  void cancel(shared_admission& a, std::int64_t now_ns) noexcept;

  /// Returns every unused lease to Redis (blocking, at most `return_timeout`): drain/shutdown.
  void return_leases();

  shared_limiter_stats stats() const noexcept;

 private:
  // Everything, shared with the Redis thread's completions (which keep it alive: a renewal's
  // reply may arrive while the limiter is being destroyed).
  struct core;
  std::shared_ptr<core> core_;
  bool active_ = false;
};

}  // namespace switchyard
