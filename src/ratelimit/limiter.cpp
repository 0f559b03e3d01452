#include "switchyard/ratelimit/limiter.hpp"

#include "switchyard/core/fnv.hpp"
#include "switchyard/ratelimit/redis_lease.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

namespace switchyard {

namespace {

// Tokens limits are per minute by definition (`tokens_per_minute`).
constexpr duration token_period = std::chrono::minutes(1);

// A concurrency refusal has no refill time; one second is the smallest `retry-after` there is.
constexpr std::chrono::nanoseconds concurrency_retry_after = std::chrono::seconds(1);

constexpr std::uint64_t default_max_tokens = 256;

// FNV-1a 64. The bucket key is a hash of the scope values, so the table never holds an API key,
// only 64 bits from which it cannot be read back.
using fnv1a = fnv1a64;

enum class bucket_kind : std::uint8_t { requests = 1, tokens = 2, concurrency = 3 };

std::string_view scope_name(rate_scope s) {
  switch (s) {
    case rate_scope::global:
      return "global";
    case rate_scope::api_key:
      return "api_key";
    case rate_scope::user:
      return "user";
    case rate_scope::model:
      return "model";
    case rate_scope::variant:
      return "variant";
  }
  return "global";
}

std::string label_for(const rate_limit_config& c) {
  std::string label;
  for (rate_scope s : c.scope) {
    if (s == rate_scope::global && c.scope.size() > 1) {
      continue;  // "global+model" says no more than "model"
    }
    label += label.empty() ? "" : "+";
    label += scope_name(s);
  }
  return label.empty() ? "global" : label;
}

bool applies(const rate_limit_config& c, const rate_request& r) {
  if (!c.model.empty() && c.model != r.model) {
    return false;
  }
  return !r.user.empty() ||
         std::find(c.scope.begin(), c.scope.end(), rate_scope::user) == c.scope.end();
}

// The bucket of limit `index` for the request's scope values, in the configured order.
fnv1a scope_hash(std::size_t index, const rate_limit_config& c, const rate_request& r) {
  fnv1a h;
  h.number(index);
  for (rate_scope s : c.scope) {
    h.byte(static_cast<std::uint8_t>(s));
    switch (s) {
      case rate_scope::global:
        break;
      case rate_scope::api_key:
        h.text(r.api_key);
        break;
      case rate_scope::user:
        h.text(r.user);
        break;
      case rate_scope::model:
        h.text(r.model);
        break;
      case rate_scope::variant:
        h.text(r.variant);
        break;
    }
  }
  return h;
}

std::uint64_t key_of(fnv1a h, bucket_kind kind) {
  h.byte(static_cast<std::uint8_t>(kind));
  return h.value();
}

rate_header header_of(const decision& d) {
  return rate_header{d.limit, d.remaining, d.reset_after};
}

// The most constrained of two: least remaining, then the longest reset.
void keep_tightest(std::optional<rate_header>& best, const rate_header& h) {
  if (!best || h.remaining < best->remaining ||
      (h.remaining == best->remaining && h.reset > best->reset)) {
    best = h;
  }
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  return a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a
             ? std::numeric_limits<std::uint64_t>::max()
             : a * b;
}

std::int64_t clamp_to_i64(std::uint64_t v) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

bool rate_limit_applies(const rate_limit_config& c, const rate_request& r) noexcept {
  return applies(c, r);
}

std::uint64_t rate_bucket_key(std::size_t index, const rate_limit_config& c, const rate_request& r,
                              bool tokens) noexcept {
  return key_of(scope_hash(index, c, r), tokens ? bucket_kind::tokens : bucket_kind::requests);
}

std::string rate_limit_label(const rate_limit_config& c) {
  return label_for(c);
}

admission::admission(admission&& other) noexcept
    : allowed(other.allowed),
      retryable(other.retryable),
      refused_scope_label(other.refused_scope_label),
      retry_after(other.retry_after),
      requests(other.requests),
      tokens(other.tokens),
      owner_(std::exchange(other.owner_, nullptr)),
      charges_(std::move(other.charges_)),
      tickets_(std::move(other.tickets_)) {
  other.charges_.clear();  // inline elements are copied, not stolen: leave the source empty
  other.tickets_.clear();
}

admission& admission::operator=(admission&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) {
      owner_->finish(*this, std::nullopt, 0);
    }
    allowed = other.allowed;
    retryable = other.retryable;
    refused_scope_label = other.refused_scope_label;
    retry_after = other.retry_after;
    requests = other.requests;
    tokens = other.tokens;
    owner_ = std::exchange(other.owner_, nullptr);
    charges_ = std::move(other.charges_);
    tickets_ = std::move(other.tickets_);
    other.charges_.clear();
    other.tickets_.clear();
  }
  return *this;
}

admission::~admission() {
  if (owner_ != nullptr) {
    owner_->finish(*this, std::nullopt, 0);  // `now` is unused when nothing is reconciled
  }
}

rate_limiter::rate_limiter(std::vector<rate_limit_config> limits, std::size_t capacity)
    : limits_(std::move(limits)),
      overflow_counts_(std::make_unique<std::atomic<std::uint64_t>[]>(limits_.size())),
      rates_(capacity),
      slots_(capacity) {
  labels_.reserve(limits_.size());
  for (const rate_limit_config& c : limits_) {
    labels_.push_back(label_for(c));
  }
}

admission rate_limiter::admit(const rate_request& request, std::int64_t now_ns) {
  admission a;
  bucket_kind refused_kind = bucket_kind::requests;
  for (std::size_t i = 0; i < limits_.size() && a.allowed; ++i) {
    const rate_limit_config& c = limits_[i];
    if (!applies(c, request)) {
      continue;
    }
    const fnv1a scope = scope_hash(i, c, request);
    const auto charge = [&](bucket_kind kind, std::uint64_t cost, std::uint64_t limit,
                            duration period) {
      const std::uint64_t key = key_of(scope, kind);
      const std::uint64_t keep = request.batch ? batch_keep(limit, c.batch_reserve) : 0;
      decision d = rates_.take(key, cost, limit, period, now_ns, keep);
      const bool tokens = kind == bucket_kind::tokens;
      if (d.overflowed) {
        overflow_counts_[i].fetch_add(1, std::memory_order_relaxed);
        if (c.deny_on_overflow) {
          // A key flood filled the table: refusing keeps the limit a limit (the flood's own keys
          // are refused too, so it cannot buy itself a way around it).
          d.allowed = false;
          d.retry_after = concurrency_retry_after;
        }
      }
      if (d.allowed) {
        a.charges_.push_back({key, limit, period, cost, tokens});
        keep_tightest(tokens ? a.tokens : a.requests, header_of(d));
        return;
      }
      a.allowed = false;
      a.retryable = cost <= limit;
      a.refused_scope_label = labels_[i];
      a.retry_after = d.retry_after;
      refused_kind = kind;
      (tokens ? a.tokens : a.requests) = header_of(d);
    };
    // Shared limits' rate buckets live in Redis (shared_limiter.hpp); concurrency stays here.
    const bool here = c.mode == rate_limit_mode::local;
    if (here && c.requests > 0) {
      charge(bucket_kind::requests, 1, c.requests, c.period);
    }
    if (here && a.allowed && c.tokens_per_minute > 0) {
      // Even an estimate of 0 is recorded: it reports the headers, and `finish` charges usage.
      charge(bucket_kind::tokens, request.estimated_tokens, c.tokens_per_minute, token_period);
    }
    if (a.allowed && c.concurrent > 0) {
      // Batch priority leaves `batch_reserve` of the slots to live requests.
      const std::uint64_t keep = request.batch ? batch_keep(c.concurrent, c.batch_reserve) : 0;
      const auto allowed_slots = static_cast<std::uint32_t>(c.concurrent - keep);
      std::optional<concurrency_table::ticket> t;
      if (allowed_slots > 0) {
        t = slots_.try_acquire(key_of(scope, bucket_kind::concurrency), allowed_slots);
      }
      if (t && t->overflowed) {
        overflow_counts_[i].fetch_add(1, std::memory_order_relaxed);
        if (c.deny_on_overflow) {
          t.reset();
        }
      }
      if (t) {
        a.tickets_.push_back(*t);
      } else {
        a.allowed = false;
        a.refused_scope_label = labels_[i];
        a.retry_after = concurrency_retry_after;
        refused_kind = bucket_kind::concurrency;
      }
    }
  }
  if (!a.allowed) {
    for (const admission::charge& c : a.charges_) {
      rates_.adjust(c.key, -clamp_to_i64(c.cost), c.limit, c.period, now_ns);
    }
    for (concurrency_table::ticket t : a.tickets_) {
      slots_.release(t);
    }
    // The other kind's headers were read before the refunds; read them again. The refused kind
    // keeps the refusing bucket's view: that is the one the client has to wait for.
    std::optional<rate_header> requests;
    std::optional<rate_header> tokens;
    for (const admission::charge& c : a.charges_) {
      keep_tightest(c.tokens ? tokens : requests,
                    header_of(rates_.take(c.key, 0, c.limit, c.period, now_ns)));
    }
    if (refused_kind != bucket_kind::requests) {
      a.requests = requests;
    }
    if (refused_kind != bucket_kind::tokens) {
      a.tokens = tokens;
    }
    a.charges_.clear();
    a.tickets_.clear();
    return a;
  }
  if (!a.tickets_.empty() || !a.charges_.empty()) {
    a.owner_ = this;  // `finish` (or `cancel`) has work to do
  }
  return a;
}

void rate_limiter::cancel(admission& a, std::int64_t now_ns) noexcept {
  if (a.owner_ != this) {
    return;
  }
  for (const admission::charge& c : a.charges_) {
    rates_.adjust(c.key, -clamp_to_i64(c.cost), c.limit, c.period, now_ns);
  }
  for (concurrency_table::ticket t : a.tickets_) {
    slots_.release(t);
  }
  a.charges_.clear();
  a.tickets_.clear();
  a.owner_ = nullptr;
}

void rate_limiter::finish(admission& a, std::optional<std::uint64_t> actual_tokens,
                          std::int64_t now_ns) noexcept {
  if (a.owner_ != this) {
    return;  // already finished, refused, or nothing held
  }
  for (concurrency_table::ticket t : a.tickets_) {
    slots_.release(t);
  }
  if (actual_tokens) {
    for (const admission::charge& c : a.charges_) {
      if (c.tokens) {
        const std::int64_t delta = clamp_to_i64(*actual_tokens) - clamp_to_i64(c.cost);
        rates_.adjust(c.key, delta, c.limit, c.period, now_ns);
      }
    }
  }
  a.charges_.clear();
  a.tickets_.clear();
  a.owner_ = nullptr;
}

namespace {

// Into Beast's fields (tests, refusals) or the request's header block (the proxied path, which
// then allocates nothing per request).
template <class Fields>
void put_headers(const admission& a, Fields& fields) {
  // Names as constants and numbers through to_chars: no temporary strings per request (only
  // Beast's own field elements allocate).
  struct names {
    std::string_view limit, remaining, reset;
  };
  static constexpr names requests{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                                  "x-ratelimit-reset-requests"};
  static constexpr names tokens{"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                                "x-ratelimit-reset-tokens"};
  const auto number = [](char(&buf)[24], auto v) {
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
  };
  const auto put = [&](const names& n, const std::optional<rate_header>& h) {
    if (!h) {
      return;
    }
    char buf[24];
    fields.set(n.limit, number(buf, h->limit));
    fields.set(n.remaining, number(buf, h->remaining));
    fields.set(n.reset, go_duration(h->reset));
  };
  put(requests, a.requests);
  put(tokens, a.tokens);
  if (!a.allowed) {
    const std::int64_t ns = std::max<std::int64_t>(a.retry_after.count(), 1);
    const std::int64_t ms = (ns + 999'999) / 1'000'000;
    const std::int64_t s = (ns + 999'999'999) / 1'000'000'000;
    char buf[24];
    fields.set("Retry-After", number(buf, s));
    fields.set("retry-after-ms", number(buf, ms));
  }
}

}  // namespace

void apply_headers(const admission& a, boost::beast::http::fields& fields) {
  put_headers(a, fields);
}

void apply_headers(const admission& a, header_block& fields) {
  put_headers(a, fields);
}

std::uint64_t estimate_tokens(std::size_t body_bytes, std::optional<std::uint64_t> max_tokens,
                              std::uint64_t n) {
  const std::uint64_t prompt = std::max<std::uint64_t>(body_bytes / 4, 1);
  const std::uint64_t completion =
      saturating_mul(max_tokens.value_or(default_max_tokens), std::max<std::uint64_t>(n, 1));
  return saturating_add(prompt, completion);
}

}  // namespace switchyard
