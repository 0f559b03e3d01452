#include "switchyard/ratelimit/gcra.hpp"

#include <algorithm>
#include <bit>
#include <limits>

// Memory order: every atomic operation here is sequentially consistent. The correctness argument
// (the key re-read after a successful CAS on the value sees any change of owner that preceded the
// CAS) needs more than acquire/release, and on x86 a CAS is a full barrier anyway.

namespace switchyard {

namespace {

// Slots looked at per key. Bounded so that a take is O(1) whatever the load; 16 slots of 16 bytes
// are four cache lines.
constexpr std::size_t probe_length = 16;

// How often a take starts over after losing its slot to an eviction before it fails open.
constexpr int max_attempts = 4;

// Periods are clamped so that TAT arithmetic (now + two bursts) cannot overflow.
constexpr duration max_period = std::chrono::hours(24 * 400);

constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

// Keys come from FNV-style hashes whose low bits are weak; the MurmurHash3 finaliser spreads them.
std::uint64_t mix(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

std::uint64_t normalize(std::uint64_t key) noexcept {
  return key == 0 ? 1 : key;
}

// The slot of `key` within its probe window, claiming one when `claim` is set.
//
// Pass 1 finds the key or the first empty slot. A slot never becomes empty again, so every slot
// before a stored key was non-empty when the key was stored and still is: a key never sits past an
// empty slot, and all threads claiming the same new key race for the same empty slot (Preshing's
// insert-only table). That makes claims consistent while a window has room.
//
// Pass 2 is the eviction rule: a slot whose bucket is "free" (`is_free`: a TAT in the past, or
// nothing in flight) is equivalent to a fresh bucket, so another key may take it over with a CAS
// on the key. Only this pass can, in a nanosecond-wide race, store one key twice or take over a
// bucket that was charged between the check and the CAS; it runs only when a window is full.
template <class Slot, class IsFree>
Slot* probe(Slot* slots, std::size_t mask, std::uint64_t key, bool claim, IsFree is_free) noexcept {
  const std::size_t n = std::min(probe_length, mask + 1);
  const std::size_t start = static_cast<std::size_t>(mix(key)) & mask;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots[(start + i) & mask];
    std::uint64_t k = s.key.load();
    if (k == key) {
      return &s;
    }
    if (k == 0) {
      if (!claim) {
        return nullptr;
      }
      if (s.key.compare_exchange_strong(k, key) || k == key) {
        return &s;
      }
      // Another key won this slot; the next one may be empty.
    }
  }
  if (!claim) {
    return nullptr;
  }
  Slot* victim = nullptr;
  std::uint64_t victim_key = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots[(start + i) & mask];
    std::uint64_t k = s.key.load();
    if (k == key) {
      return &s;  // someone else just evicted for the same key
    }
    if (victim == nullptr && is_free(s)) {
      victim = &s;
      victim_key = k;
    }
  }
  if (victim != nullptr &&
      (victim->key.compare_exchange_strong(victim_key, key) || victim_key == key)) {
    return victim;
  }
  return nullptr;
}

template <class Slot>
std::unique_ptr<Slot[]> make_slots(std::size_t capacity) {
  return std::make_unique<Slot[]>(std::bit_ceil(std::max<std::size_t>(capacity, 1)));
}

// A bucket's constants: emission interval `t` and burst tolerance `tau`, in nanoseconds.
struct gcra_params {
  std::int64_t t;
  std::int64_t tau;
  std::uint64_t limit;  // clamped to one unit per nanosecond
};

std::optional<gcra_params> params_for(std::uint64_t limit, duration period) noexcept {
  if (limit == 0 || period <= duration::zero()) {
    return std::nullopt;
  }
  const std::int64_t p = std::chrono::nanoseconds(std::min(period, max_period)).count();
  const std::uint64_t l = std::min(limit, static_cast<std::uint64_t>(p));
  const auto li = static_cast<std::int64_t>(l);
  // T rounds up, so `limit` units take at least `period` to refill: never more than `limit` in
  // any `period`. tau = limit·T rather than `period`, so a full bucket holds exactly `limit`.
  const std::int64_t t = (p + li - 1) / li;
  return gcra_params{t, t * li, l};
}

// What a bucket whose TAT is `tat` (already >= now) looks like at `now`.
decision state(const gcra_params& p, std::uint64_t limit, std::int64_t tat, std::int64_t now) {
  const std::int64_t ahead = tat - now;
  decision d;
  d.limit = limit;
  d.remaining = ahead >= p.tau ? 0 : static_cast<std::uint64_t>((p.tau - ahead) / p.t);
  d.reset_after = std::chrono::nanoseconds(ahead);
  return d;
}

}  // namespace

gcra_table::gcra_table(std::size_t capacity)
    : slots_(make_slots<slot>(capacity)),
      mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1) {
  // The lowest TAT: an empty slot reads as a full bucket whatever clock the caller uses.
  for (std::size_t i = 0; i <= mask_; ++i) {
    slots_[i].tat_ns.store(std::numeric_limits<std::int64_t>::min());
  }
}

decision gcra_table::take(std::uint64_t key, std::uint64_t cost, std::uint64_t limit,
                          duration period, std::int64_t now_ns, std::uint64_t keep) {
  key = normalize(key);
  const auto p = params_for(limit, period);
  if (!p) {
    return decision{true, limit, limit, {}, {}};
  }
  if (cost == 0 || cost > p->limit) {
    // Only a look: no slot is claimed for a key that has none (it would be a full bucket).
    slot* s = probe(slots_.get(), mask_, key, false, [](const slot&) { return false; });
    const std::int64_t tat = s != nullptr ? s->tat_ns.load() : now_ns;
    decision d = state(*p, limit, std::max(tat, now_ns), now_ns);
    if (cost > p->limit) {
      // More than the whole bucket: waiting cannot help, `period` is the honest upper bound.
      d.allowed = false;
      d.retry_after = period;
    }
    return d;
  }
  const std::int64_t step = static_cast<std::int64_t>(cost) * p->t;
  // What must stay free after the take (batch priority); at most the whole burst.
  const std::int64_t spare = static_cast<std::int64_t>(std::min(keep, p->limit)) * p->t;
  const auto is_free = [now_ns](const slot& s) { return s.tat_ns.load() <= now_ns; };
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    slot* s = probe(slots_.get(), mask_, key, true, is_free);
    if (s == nullptr) {
      break;
    }
    std::int64_t tat = s->tat_ns.load();
    while (s->key.load() == key) {
      const std::int64_t base = std::max(tat, now_ns);
      const std::int64_t next = base + step;
      if (next + spare - now_ns > p->tau) {
        decision d = state(*p, limit, base, now_ns);
        d.allowed = false;
        d.retry_after = std::chrono::nanoseconds(next + spare - now_ns - p->tau);
        return d;
      }
      if (s->tat_ns.compare_exchange_weak(tat, next)) {
        if (s->key.load() == key) {
          return state(*p, limit, next, now_ns);
        }
        // The slot was evicted under us and the charge went to its new owner (conservative for
        // it); charge our own bucket instead.
        break;
      }
    }
  }
  overflows_.fetch_add(1, std::memory_order_relaxed);
  decision open = state(*p, limit, now_ns + step, now_ns);  // answered as a fresh bucket
  open.overflowed = true;  // the caller decides: refuse, or let it through (counted)
  return open;
}

void gcra_table::adjust(std::uint64_t key, std::int64_t delta, std::uint64_t limit, duration period,
                        std::int64_t now_ns) {
  key = normalize(key);
  const auto p = params_for(limit, period);
  if (!p || delta == 0) {
    return;
  }
  // |delta| in unsigned arithmetic (INT64_MIN has no positive twin), at most one bucket.
  const std::uint64_t magnitude = delta < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(delta)
                                            : static_cast<std::uint64_t>(delta);
  const std::int64_t amount = static_cast<std::int64_t>(std::min(magnitude, p->limit)) * p->t;
  if (delta < 0) {
    // A key without a slot is a full bucket: nothing to refund, nothing to claim.
    slot* s = probe(slots_.get(), mask_, key, false, [](const slot&) { return false; });
    if (s == nullptr) {
      return;
    }
    std::int64_t tat = s->tat_ns.load();
    while (s->key.load() == key && tat > now_ns) {
      if (s->tat_ns.compare_exchange_weak(tat, std::max(tat - amount, now_ns))) {
        return;
      }
    }
    return;
  }
  const auto is_free = [now_ns](const slot& s) { return s.tat_ns.load() <= now_ns; };
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    slot* s = probe(slots_.get(), mask_, key, true, is_free);
    if (s == nullptr) {
      break;
    }
    std::int64_t tat = s->tat_ns.load();
    while (s->key.load() == key) {
      const std::int64_t next = std::min(std::max(tat, now_ns) + amount, now_ns + 2 * p->tau);
      if (s->tat_ns.compare_exchange_weak(tat, next)) {
        if (s->key.load() == key) {
          return;
        }
        break;
      }
    }
  }
  overflows_.fetch_add(1, std::memory_order_relaxed);
}

concurrency_table::concurrency_table(std::size_t capacity)
    : slots_(make_slots<slot>(capacity)),
      mask_(std::bit_ceil(std::max<std::size_t>(capacity, 1)) - 1) {}

std::optional<concurrency_table::ticket> concurrency_table::try_acquire(std::uint64_t key,
                                                                        std::uint32_t limit) {
  if (limit == 0) {
    return ticket{no_slot};  // no limit
  }
  key = normalize(key);
  const auto is_free = [](const slot& s) { return s.in_flight.load() == 0; };
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    slot* s = probe(slots_.get(), mask_, key, true, is_free);
    if (s == nullptr) {
      break;
    }
    std::int64_t n = s->in_flight.load();
    while (s->key.load() == key) {
      if (n >= static_cast<std::int64_t>(limit)) {
        return std::nullopt;
      }
      if (s->in_flight.compare_exchange_weak(n, n + 1)) {
        if (s->key.load() == key) {
          return ticket{static_cast<std::size_t>(s - slots_.get())};
        }
        // Evicted under us: give the unit back to the new owner and start over.
        s->in_flight.fetch_sub(1);
        break;
      }
    }
  }
  overflows_.fetch_add(1, std::memory_order_relaxed);
  return ticket{no_slot, true};
}

void concurrency_table::release(ticket t) noexcept {
  if (t.slot != no_slot) {
    slots_[t.slot].in_flight.fetch_sub(1);
  }
}

std::int64_t concurrency_table::in_flight(std::uint64_t key) const noexcept {
  const slot* s =
      probe(slots_.get(), mask_, normalize(key), false, [](const slot&) { return false; });
  return s != nullptr ? s->in_flight.load() : 0;
}

std::string go_duration(std::chrono::nanoseconds d) {
  if (d.count() <= 0) {
    return "0s";
  }
  const std::int64_t ms = d.count() / 1'000'000 + (d.count() % 1'000'000 != 0 ? 1 : 0);
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = ms / 60'000 % 60;
  std::string out;
  if (hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (hours > 0 || minutes > 0) {
    out += std::to_string(minutes) + "m";  // Go keeps "0m" between hours and seconds
  }
  out += std::to_string(ms / 1000 % 60);
  if (std::int64_t frac = ms % 1000; frac != 0) {
    std::string digits = std::to_string(1000 + frac).substr(1);  // zero-padded to three
    digits.erase(digits.find_last_not_of('0') + 1);
    out += '.' + digits;
  }
  out += 's';
  return out;
}

}  // namespace switchyard
