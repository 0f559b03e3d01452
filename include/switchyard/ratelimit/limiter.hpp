#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/header_block.hpp"
#include "switchyard/ratelimit/gcra.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/container/small_vector.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// What the rate limiter needs to know about one request. Views into the request; they need only
/// live for the `admit` call.
struct rate_request {
  std::string_view api_key;  // the client's bearer token, may be empty (hashed, never stored)
  // The value of the limits' `user_header` (read by the caller: one value per request, so all
  // limits scoped by `user` are expected to name the same header); may be empty.
  std::string_view user;
  std::string_view model;              // the client-facing model name
  std::string_view variant;            // the experiment variant, may be empty
  std::uint64_t estimated_tokens = 0;  // see `estimate_tokens`
  /// `x-switchyard-priority: batch`: admitted only if every bucket keeps its limit's
  /// `batch_reserve` for live traffic afterwards.
  bool batch = false;
};

/// Whether limit `c` applies to the request: its `model` is empty or the request's, and a
/// `user`-scoped limit only when the request has a user.
bool rate_limit_applies(const rate_limit_config& c, const rate_request& r) noexcept;

/// The 64-bit bucket key of limit `index` for the request's scope values (FNV-1a over the index,
/// the scope values and the kind: `tokens` or requests): the API key itself is never kept.
std::uint64_t rate_bucket_key(std::size_t index, const rate_limit_config& c, const rate_request& r,
                              bool tokens) noexcept;

/// A limit's scope label: "global", "api_key+model", …
std::string rate_limit_label(const rate_limit_config& c);

/// One x-ratelimit-{limit,remaining,reset}-* triple.
struct rate_header {
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;
  std::chrono::nanoseconds reset{0};  // until the bucket is full again
};

class rate_limiter;

/// The outcome of `rate_limiter::admit`, and what the request holds until `rate_limiter::finish`:
/// its concurrency slots and its token reservation. Move-only. If it is destroyed (or assigned
/// over) without `finish`, the concurrency slots are released and the token reservation is kept
/// as charged, so a forgotten or cancelled request can never leak a slot.
struct admission {
  bool allowed = true;
  bool retryable = true;  // false when the request can never fit (tokens above the limit)
  std::string_view refused_scope_label;     // "api_key+model" etc.; lives as long as the limiter
  std::chrono::nanoseconds retry_after{0};  // 0 when allowed
  std::optional<rate_header> requests;      // the most constrained requests limit, if any applied
  std::optional<rate_header> tokens;        // the most constrained tokens limit, if any applied

  admission() = default;
  admission(admission&& other) noexcept;
  admission& operator=(admission&& other) noexcept;
  admission(const admission&) = delete;
  admission& operator=(const admission&) = delete;
  ~admission();

  /// Whether `finish` still has something to release or reconcile.
  bool pending() const noexcept { return owner_ != nullptr; }

 private:
  friend class rate_limiter;

  // One GCRA charge: a request or a token reservation.
  struct charge {
    std::uint64_t key;
    std::uint64_t limit;
    duration period;
    std::uint64_t cost;
    bool tokens;
  };

  rate_limiter* owner_ = nullptr;  // set while something is held
  // Inline for the usual few limits (a requests and a tokens charge each), so an admission
  // allocates nothing; more limits spill to the heap.
  boost::container::small_vector<charge, 4> charges_;
  boost::container::small_vector<concurrency_table::ticket, 2> tickets_;
};

/// The `rate_limits:` policy: every configured limit that applies to a request is checked, and the
/// request is admitted only if all of them admit it. Shared by all worker threads; `admit` and
/// `finish` take no lock. Must outlive every `admission` it hands out (keep it alive with the
/// config snapshot that built it).
class rate_limiter {
 public:
  /// `capacity` slots per table (rounded up to a power of two); each (limit, scope values) pair
  /// that is live at once needs one.
  explicit rate_limiter(std::vector<rate_limit_config> limits,
                        std::size_t capacity = std::size_t{1} << 16);

  /// Checks and takes, all or nothing: one request from each requests limit, `estimated_tokens`
  /// from each tokens limit, one slot from each concurrency limit. If any refuses, what was
  /// already taken is given back and the admission is refused with the refusing limit's scope
  /// label and retry time (one second for concurrency, which has no refill time to report).
  /// A limit applies when its `model` is empty or equal to the request's, and, if it is scoped
  /// by `user`, only when the request has a user (anonymous traffic is not one giant user). An
  /// empty API key or variant is a value like any other (all such requests share a bucket).
  admission admit(const rate_request& request, std::int64_t now_ns);

  /// Ends an admission: releases its concurrency slots and reconciles its token reservation with
  /// `actual_tokens` (usage.total_tokens; nullopt keeps the estimate as charged). Safe to call
  /// any number of times: only the first call on an admitted request does anything.
  void finish(admission& a, std::optional<std::uint64_t> actual_tokens,
              std::int64_t now_ns) noexcept;

  /// Undoes an admission that was allowed here but refused by a later check (the shared
  /// limits): every charge is refunded and every slot released. Idempotent, like `finish`.
  void cancel(admission& a, std::int64_t now_ns) noexcept;

  /// Takes that found no table space (a metric; non-zero means a key flood or too small a table).
  std::uint64_t overflows() const noexcept { return rates_.overflows() + slots_.overflows(); }

  /// Requests that hit a full table on limit `i`: refused (`on_overflow: deny`) or let through
  /// unlimited (`allow`), for `switchyard_rate_limit_overflows_total`.
  std::uint64_t overflows_of(std::size_t i) const noexcept {
    return overflow_counts_[i].load(std::memory_order_relaxed);
  }

  /// Limit `i`'s scope label: "global", "api_key+model", …
  const std::string& label(std::size_t i) const noexcept { return labels_[i]; }

  const std::vector<rate_limit_config>& limits() const noexcept { return limits_; }

 private:
  std::vector<rate_limit_config> limits_;
  std::vector<std::string> labels_;  // per limit: "global", "api_key+model", ...
  std::unique_ptr<std::atomic<std::uint64_t>[]> overflow_counts_;  // per limit
  gcra_table rates_;
  concurrency_table slots_;
};

/// Sets OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers for the limits
/// present in `a`, and on refusal `retry-after` (whole seconds, rounded up, at least 1) and
/// `retry-after-ms`.
void apply_headers(const admission& a, boost::beast::http::fields& fields);
void apply_headers(const admission& a, header_block& fields);

/// A token reservation for a request before its usage is known: body_bytes/4 (at least 1; about
/// four bytes per token of English JSON, an overestimate for the prompt because of the JSON
/// syntax) plus `max_tokens` (or `max_completion_tokens`; 256 when absent) per choice, times
/// max(n, 1). Saturates instead of overflowing.
std::uint64_t estimate_tokens(std::size_t body_bytes, std::optional<std::uint64_t> max_tokens,
                              std::uint64_t n);

}  // namespace switchyard
