// Leased and exact rate limits over Redis (docs/replica-limits.md). The Lua and the arithmetic
// are in redis_lease.cpp; this file keeps the per-bucket leases, talks to Redis and falls back.
#include "switchyard/ratelimit/shared_limiter.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/core/fnv.hpp"
#include "switchyard/ratelimit/redis_lease.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace switchyard {

namespace {

using namespace std::chrono_literals;

constexpr duration token_period = std::chrono::minutes(1);  // tokens_per_minute
constexpr std::int64_t rate_window_ns = 1'000'000'000;      // the rate estimate's window
constexpr std::size_t shard_count = 16;
constexpr std::size_t max_keys_per_call = 128;  // returning leases: keys per script call

std::string number(double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, static_cast<std::size_t>(std::max(n, 0)));
}

std::int64_t to_i64(std::uint64_t v) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
}

std::uint64_t to_u64(std::int64_t v) {
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

void keep_tightest(std::optional<rate_header>& best, const rate_header& h) {
  if (!best || h.remaining < best->remaining ||
      (h.remaining == best->remaining && h.reset > best->reset)) {
    best = h;
  }
}

bool is_noscript(const redis_reply& r) {
  return r.kind == redis_reply::type::error && r.str.starts_with("NOSCRIPT");
}

std::vector<std::string> eval_argv(const char* verb, const std::string& body,
                                   const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv{verb, body, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

using reply_handler = std::function<void(result<redis_reply>)>;

result<redis_reply> first(result<std::vector<redis_reply>> r) {
  if (!r) {
    return r.error();
  }
  if (r->empty()) {
    return make_error(errc::unavailable, "redis: empty reply");
  }
  return std::move(r->front());
}

// The scripts, for the life of the process (a late completion may still read one).
const redis_script& take_script() {
  static const redis_script s{rate_lua::take};
  return s;
}
const redis_script& adjust_script() {
  static const redis_script s{rate_lua::adjust};
  return s;
}

// EVALSHA without waiting, EVAL on NOSCRIPT (a restarted or flushed Redis); `done` runs on the
// redis thread.
void eval_async(const std::shared_ptr<redis_client>& redis, const redis_script& s,
                std::vector<std::string> keys, std::vector<std::string> args, duration deadline,
                reply_handler done) {
  std::vector<std::vector<std::string>> cmd{eval_argv("EVALSHA", s.sha1, keys, args)};
  redis->submit(
      std::move(cmd), deadline,
      [weak = std::weak_ptr<redis_client>(redis), &s, keys = std::move(keys),
       args = std::move(args), deadline,
       done = std::move(done)](result<std::vector<redis_reply>> r) mutable {
        auto reply = first(std::move(r));
        auto client = weak.lock();
        if (reply && is_noscript(*reply) && client) {
          std::vector<std::vector<std::string>> again{eval_argv("EVAL", s.source, keys, args)};
          client->submit(std::move(again), deadline,
                         [done = std::move(done)](result<std::vector<redis_reply>> r2) {
                           done(first(std::move(r2)));
                         });
          return;
        }
        done(std::move(reply));
      });
}

// One bucket's numbers in a reply of the take script.
struct bucket_reply {
  std::uint64_t granted = 0, remaining = 0;
  std::int64_t reset_us = 0;
};

std::optional<bucket_reply> bucket_at(const redis_reply& r, std::size_t j) {
  const std::size_t at = 3 + 3 * j;
  if (r.elements.size() < at + 3) {
    return std::nullopt;
  }
  return bucket_reply{to_u64(r.elements[at].integer), to_u64(r.elements[at + 1].integer),
                      r.elements[at + 2].integer};
}

}  // namespace

struct shared_limiter::core : std::enable_shared_from_this<shared_limiter::core> {
  struct entry {
    std::int64_t credit = 0;   // units this replica may admit without asking Redis (< 0: debt)
    std::int64_t pending = 0;  // prefetch units asked for by calls in flight
    std::uint64_t remote_remaining = 0;  // the bucket's free units at the last reply
    std::int64_t remote_reset_ns = 0;    // until full, at the last reply (at `at_ns`)
    std::int64_t at_ns = 0;
    std::int64_t last_use_ns = 0;
    std::int64_t window_start_ns = 0;  // the rate estimate: units in the current window
    std::uint64_t window_units = 0;
    double rate = 0;  // units per second admitted here (halved per window: an EWMA)
    bool renewing = false;
    std::size_t limit = 0;  // which bucket: for returning the credit
    bool tokens = false;
  };
  struct shard {
    std::mutex m;
    std::unordered_map<std::uint64_t, entry> entries;
  };
  struct bucket_ref {
    std::size_t limit;
    std::uint64_t key;
    bool tokens;
  };

  std::vector<rate_limit_config> limits;
  std::vector<std::string> labels;
  std::vector<std::uint64_t> fallback_requests, fallback_tokens;  // per limit
  // Not owned: the server keeps the client alive longer than the limiter, and a completion that
  // ran the last owner's destructor on the redis thread would join that thread from itself.
  std::weak_ptr<redis_client> redis;
  options opts;
  std::array<shard, shard_count> shards;
  gcra_table fallback;  // the buckets while Redis is unavailable, at the reduced limits
  std::atomic<bool> in_fallback{false};
  std::atomic<std::uint64_t> fallback_decisions{0}, failed_calls{0}, leases{0};

  core(std::vector<rate_limit_config> l, std::shared_ptr<redis_client> r, options o)
      : limits(std::move(l)), redis(std::move(r)), opts(std::move(o)), fallback(opts.capacity) {
    for (const auto& c : limits) {
      labels.push_back(rate_limit_label(c));
      fallback_requests.push_back(
          fallback_limit(c.requests, opts.expected_replicas, c.fallback_margin));
      fallback_tokens.push_back(
          fallback_limit(c.tokens_per_minute, opts.expected_replicas, c.fallback_margin));
    }
  }

  std::uint64_t capacity_of(std::size_t limit, bool tokens) const noexcept {
    return tokens ? limits[limit].tokens_per_minute : limits[limit].requests;
  }
  duration period_of(std::size_t limit, bool tokens) const noexcept {
    return tokens ? token_period : limits[limit].period;
  }
  bool leased(std::size_t limit) const noexcept {
    return limits[limit].mode == rate_limit_mode::leased;
  }
  shard& shard_of(std::uint64_t key) noexcept { return shards[mix64(key) % shard_count]; }

  bool use_redis() const noexcept {
    if (!in_fallback.load()) {
      return true;
    }
    auto client = redis.lock();
    return client && client->connected();
  }

  void enter_fallback(const std::string& why) {
    failed_calls.fetch_add(1, std::memory_order_relaxed);
    if (!in_fallback.exchange(true)) {
      spdlog::warn(
          "rate limits: redis unavailable ({}); each replica enforces limit / {} x (1 - margin) "
          "on its own until redis answers again",
          why, opts.expected_replicas);
    }
  }
  void leave_fallback() {
    leases.fetch_add(1, std::memory_order_relaxed);
    if (in_fallback.load() && in_fallback.exchange(false)) {
      spdlog::info("rate limits: redis answers again; shared limits resume");
    }
  }

  // The rate estimate's window rolled forward to `now`.
  static void roll(entry& e, std::int64_t now_ns) {
    if (e.window_start_ns == 0) {
      e.window_start_ns = now_ns;
      return;
    }
    const std::int64_t elapsed = now_ns - e.window_start_ns;
    if (elapsed < rate_window_ns) {
      return;
    }
    const std::int64_t windows = elapsed / rate_window_ns;
    e.rate = 0.5 * e.rate + 0.5 * static_cast<double>(e.window_units);
    if (windows > 1) {
      e.rate *= std::pow(0.5, static_cast<double>(std::min<std::int64_t>(windows - 1, 64)));
    }
    e.window_units = 0;
    e.window_start_ns += windows * rate_window_ns;
  }

  // How much to ask for beyond `need`, so that the credit stays ≤ max_lease.
  std::uint64_t prefetch(const entry& e, std::uint64_t capacity) const {
    const double rate = std::max(e.rate, static_cast<double>(e.window_units));
    const auto size = lease_size(rate, opts.horizon, capacity, e.remote_remaining);
    const std::int64_t room =
        to_i64(max_lease(capacity)) - std::max<std::int64_t>(e.credit, 0) - e.pending;
    return std::min(size, to_u64(room));
  }

  rate_header header_of(const entry& e, std::uint64_t capacity, std::int64_t now_ns) const {
    const std::uint64_t free = std::min(capacity, e.remote_remaining + to_u64(e.credit));
    const std::int64_t reset = std::max<std::int64_t>(e.remote_reset_ns - (now_ns - e.at_ns), 0);
    return rate_header{capacity, free, std::chrono::nanoseconds(reset)};
  }

  // Leased fast path for one bucket: true = charged from this replica's credit. Otherwise the
  // charge is marked remote with its `want` (need + prefetch). `renew_want` > 0: renew now.
  bool take_credit(shared_admission& a, shared_admission::charge& c, std::int64_t now_ns,
                   std::uint64_t& renew_want) {
    const std::uint64_t capacity = capacity_of(c.limit, c.tokens);
    shard& s = shard_of(c.key);
    std::lock_guard lock(s.m);
    auto it = s.entries.find(c.key);
    if (it == s.entries.end()) {
      if (s.entries.size() >= std::max<std::size_t>(opts.capacity / shard_count, 1)) {
        c.remote = true;  // no room to track a lease: this one is asked for exactly
        c.want = c.cost;
        return false;
      }
      it = s.entries.emplace(c.key, entry{}).first;
      it->second.remote_remaining = capacity;
      it->second.limit = c.limit;
      it->second.tokens = c.tokens;
    }
    entry& e = it->second;
    roll(e, now_ns);
    e.last_use_ns = now_ns;
    if (e.credit >= to_i64(c.cost)) {
      e.credit -= to_i64(c.cost);
      e.window_units += c.cost;
      keep_tightest(c.tokens ? a.tokens : a.requests, header_of(e, capacity, now_ns));
      // Renew before the slice runs out: at half of what a lease would be now.
      const std::uint64_t size = prefetch(e, capacity);
      if (!e.renewing && size > 0 && e.credit * 2 <= to_i64(size)) {
        e.renewing = true;
        e.pending += to_i64(size);
        renew_want = size;
      }
      return true;
    }
    const std::uint64_t extra = c.keep > 0 ? 0 : prefetch(e, capacity);
    e.pending += to_i64(extra);
    e.window_units += c.cost;
    c.remote = true;
    c.want = c.cost + extra;
    return false;
  }

  // Adds `units` (< 0 takes) to the credit of a bucket; what would exceed max_lease, or a
  // bucket no longer tracked, goes back to Redis.
  void give_credit(const bucket_ref& b, std::int64_t units) {
    std::int64_t back = 0;
    {
      shard& s = shard_of(b.key);
      std::lock_guard lock(s.m);
      auto it = s.entries.find(b.key);
      if (it == s.entries.end()) {
        back = units;
      } else {
        entry& e = it->second;
        e.credit += units;
        const std::int64_t cap = to_i64(max_lease(capacity_of(b.limit, b.tokens)));
        if (e.credit > cap) {
          back = e.credit - cap;
          e.credit = cap;
        }
      }
    }
    if (back != 0) {
      send_adjust({{b, -back}});
    }
  }

  void adjust_args(const bucket_ref& b, std::int64_t delta, std::vector<std::string>& keys,
                   std::vector<std::string>& args) const {
    const auto g = gcra_of(capacity_of(b.limit, b.tokens), period_of(b.limit, b.tokens));
    keys.push_back(bucket_key(opts.key_prefix, b.key));
    args.push_back(number(g.interval_us));
    args.push_back(number(g.burst_us));
    args.push_back(std::to_string(delta));
  }

  // Adjustments without waiting: returned leases (delta < 0), refunds, extra charges.
  void send_adjust(std::vector<std::pair<bucket_ref, std::int64_t>> deltas) {
    std::vector<std::string> keys, args;
    for (const auto& [b, delta] : deltas) {
      if (delta != 0) {
        adjust_args(b, delta, keys, args);
      }
    }
    if (keys.empty()) {
      return;  // the usual case (nothing to reconcile): no atomic on the client's count
    }
    auto client = redis.lock();
    if (!client) {
      return;
    }
    eval_async(client, adjust_script(), std::move(keys), std::move(args), opts.return_timeout,
               [weak = weak_from_this()](result<redis_reply> r) {
                 auto self = weak.lock();
                 if (self && (!r || r->kind == redis_reply::type::error)) {
                   self->failed_calls.fetch_add(1, std::memory_order_relaxed);
                 }
               });
  }

  // A background renewal of one leased bucket: need 0, want `want`, on the redis thread.
  void renew(const bucket_ref& b, std::uint64_t want) {
    const auto g = gcra_of(capacity_of(b.limit, b.tokens), period_of(b.limit, b.tokens));
    std::vector<std::string> keys{bucket_key(opts.key_prefix, b.key)};
    std::vector<std::string> args{number(g.interval_us), number(g.burst_us), "0",
                                  std::to_string(want), "0"};
    auto client = redis.lock();
    if (!client) {
      renewed(b, want, make_error(errc::unavailable, "redis: the client is gone"));
      return;
    }
    eval_async(client, take_script(), std::move(keys), std::move(args), opts.return_timeout,
               [weak = weak_from_this(), b, want](result<redis_reply> r) {
                 if (auto self = weak.lock()) {
                   self->renewed(b, want, r);
                 }
               });
  }

  void renewed(const bucket_ref& b, std::uint64_t want, const result<redis_reply>& r) {
    const std::int64_t now_ns = switchyard::now_ns();
    const bool ok = r && r->kind == redis_reply::type::array && !r->elements.empty() &&
                    r->elements[0].integer == 1;
    std::optional<bucket_reply> got = ok ? bucket_at(*r, 0) : std::nullopt;
    std::int64_t back = 0;
    {
      shard& s = shard_of(b.key);
      std::lock_guard lock(s.m);
      auto it = s.entries.find(b.key);
      if (it == s.entries.end()) {
        back = got ? to_i64(got->granted) : 0;  // the bucket went idle meanwhile
      } else {
        entry& e = it->second;
        e.renewing = false;
        e.pending -= to_i64(want);
        if (got) {
          e.credit += to_i64(got->granted);
          e.remote_remaining = got->remaining;
          e.remote_reset_ns = got->reset_us * 1000;
          e.at_ns = now_ns;
        }
      }
    }
    if (back > 0) {
      send_adjust({{b, -back}});
    }
    if (got) {
      leave_fallback();
    } else {
      enter_fallback(r ? "unexpected reply to the lease script" : r.error().message);
    }
  }

  // Decides every charge of `a` not yet decided (all of them when `only_remote` is false) by
  // the per-replica fallback limits; refuses (and rolls back) on the first that does not fit.
  void decide_by_fallback(shared_admission& a, bool only_remote, std::int64_t now_ns) {
    fallback_decisions.fetch_add(1, std::memory_order_relaxed);
    for (auto& c : a.charges) {
      if (only_remote && !c.remote) {
        continue;
      }
      c.remote = false;
      c.how = shared_admission::via::fallback;
      const std::uint64_t limit = c.tokens ? fallback_tokens[c.limit] : fallback_requests[c.limit];
      const rate_limit_config& cfg = limits[c.limit];
      const std::uint64_t keep = c.keep > 0 ? batch_keep(limit, cfg.batch_reserve) : 0;
      const decision d =
          fallback.take(c.key, c.cost, limit, period_of(c.limit, c.tokens), now_ns, keep);
      if (d.allowed) {
        c.granted = c.cost;
        keep_tightest(c.tokens ? a.tokens : a.requests, {limit, d.remaining, d.reset_after});
        continue;
      }
      refuse(a, c, d.retry_after, rate_header{limit, d.remaining, d.reset_after});
      return;
    }
  }

  void refuse(shared_admission& a, const shared_admission::charge& c,
              std::chrono::nanoseconds retry_after, rate_header h) {
    a.allowed = false;
    a.retryable = true;
    a.refused_scope_label = labels[c.limit];
    a.retry_after = retry_after;
    (c.tokens ? a.tokens : a.requests) = h;
    rollback(a, &c);
  }

  // Gives back every charge `a` holds (granted > 0), except `skip` (the refusing one).
  void rollback(shared_admission& a, const shared_admission::charge* skip) {
    const std::int64_t now_ns = switchyard::now_ns();
    std::vector<std::pair<bucket_ref, std::int64_t>> adjust;
    for (auto& c : a.charges) {
      if (&c == skip || c.remote || c.granted == 0) {
        continue;  // the refusing one, undecided, or nothing taken
      }
      const bucket_ref b{c.limit, c.key, c.tokens};
      switch (c.how) {
        case shared_admission::via::lease:
          give_credit(b, to_i64(c.cost));
          break;
        case shared_admission::via::redis:
          if (leased(c.limit)) {
            give_credit(b, to_i64(c.cost));  // what Redis granted beyond it is credit already
          } else {
            adjust.push_back({b, -to_i64(c.cost)});
          }
          break;
        case shared_admission::via::fallback: {
          const std::uint64_t limit =
              c.tokens ? fallback_tokens[c.limit] : fallback_requests[c.limit];
          fallback.adjust(c.key, -to_i64(c.cost), limit, period_of(c.limit, c.tokens), now_ns);
          break;
        }
      }
    }
    send_adjust(std::move(adjust));
    a.charges.clear();
    a.needs_redis = false;
  }

  void apply_reply(const redis_reply& r, shared_admission& a, std::int64_t now_ns) {
    const bool ok = r.elements[0].integer == 1;
    const auto refused_at = static_cast<std::size_t>(
        std::max<std::int64_t>(r.elements.size() > 1 ? r.elements[1].integer : 0, 0));
    std::size_t j = 0;
    shared_admission::charge* refusing = nullptr;
    for (auto& c : a.charges) {
      if (!c.remote) {
        continue;
      }
      const auto got = bucket_at(r, j++).value_or(bucket_reply{});
      const std::uint64_t capacity = capacity_of(c.limit, c.tokens);
      const rate_header h{capacity, got.remaining,
                          std::chrono::nanoseconds(std::max<std::int64_t>(got.reset_us, 0) * 1000)};
      if (leased(c.limit)) {
        shard& s = shard_of(c.key);
        std::lock_guard lock(s.m);
        if (auto it = s.entries.find(c.key); it != s.entries.end()) {
          entry& e = it->second;
          e.pending -= to_i64(c.want - c.cost);
          e.remote_remaining = got.remaining;
          e.remote_reset_ns = h.reset.count();
          e.at_ns = now_ns;
          if (ok) {
            e.credit += to_i64(got.granted) - to_i64(c.cost);
          }
        } else if (ok && got.granted > c.cost) {
          send_adjust({{bucket_ref{c.limit, c.key, c.tokens}, -to_i64(got.granted - c.cost)}});
        }
      }
      c.remote = false;
      c.how = shared_admission::via::redis;
      c.granted = ok ? got.granted : 0;
      if (ok) {
        keep_tightest(c.tokens ? a.tokens : a.requests, h);
      } else if (j == refused_at) {
        refusing = &c;
        (c.tokens ? a.tokens : a.requests) = h;
      }
    }
    a.needs_redis = false;
    if (!ok) {
      // Redis granted nothing (all or nothing); what came from this replica's credit goes back.
      a.allowed = false;
      a.retryable = true;
      const auto& which = refusing != nullptr ? *refusing : a.charges.front();
      a.refused_scope_label = labels[which.limit];
      a.retry_after = std::chrono::microseconds(std::max<std::int64_t>(r.elements[2].integer, 1));
      rollback(a, nullptr);
    }
  }

  // Returns the credit of buckets unused for `idle_return` and forgets them.
  void return_idle(std::int64_t now_ns) {
    std::vector<std::pair<bucket_ref, std::int64_t>> back;
    for (auto& s : shards) {
      std::lock_guard lock(s.m);
      for (auto it = s.entries.begin(); it != s.entries.end();) {
        const entry& e = it->second;
        if (!e.renewing && e.pending == 0 && now_ns - e.last_use_ns > opts.idle_return.count()) {
          back.push_back({bucket_ref{e.limit, it->first, e.tokens}, -e.credit});
          it = s.entries.erase(it);
        } else {
          ++it;
        }
      }
    }
    send_adjust(std::move(back));
  }

  void idle_loop() {
    std::unique_lock lock(idle_m);
    while (!idle_cv.wait_for(lock, 1s, [this] { return stopping; })) {
      lock.unlock();
      return_idle(switchyard::now_ns());
      lock.lock();
    }
  }

  std::mutex idle_m;
  std::condition_variable idle_cv;
  bool stopping = false;
  std::thread idle_thread;
};

shared_limiter::shared_limiter(std::vector<rate_limit_config> limits,
                               std::shared_ptr<redis_client> redis, options opts)
    : core_(std::make_shared<core>(std::move(limits), std::move(redis), std::move(opts))) {
  for (const auto& c : core_->limits) {
    active_ = active_ ||
              (c.mode != rate_limit_mode::local && (c.requests > 0 || c.tokens_per_minute > 0));
  }
  if (active_) {
    core* k = core_.get();
    k->idle_thread = std::thread([k] {
      name_thread("sy-leases");
      k->idle_loop();
    });
  }
}

shared_limiter::~shared_limiter() {
  {
    std::lock_guard lock(core_->idle_m);
    core_->stopping = true;
  }
  core_->idle_cv.notify_all();
  if (core_->idle_thread.joinable()) {
    core_->idle_thread.join();
  }
}

shared_admission shared_limiter::begin(const rate_request& request, std::int64_t now_ns) {
  shared_admission a;
  if (!active_) {
    return a;
  }
  core& k = *core_;
  for (std::size_t i = 0; i < k.limits.size(); ++i) {
    const rate_limit_config& c = k.limits[i];
    if (c.mode == rate_limit_mode::local || !rate_limit_applies(c, request)) {
      continue;
    }
    const auto add = [&](bool tokens, std::uint64_t cost) {
      shared_admission::charge ch{i, rate_bucket_key(i, c, request, tokens), cost, tokens};
      ch.keep = request.batch ? batch_keep(k.capacity_of(i, tokens), c.batch_reserve) : 0;
      a.charges.push_back(ch);
    };
    if (c.requests > 0) {
      add(false, 1);
    }
    if (c.tokens_per_minute > 0) {
      add(true, request.estimated_tokens);
    }
  }
  for (const auto& ch : a.charges) {
    if (ch.cost > k.capacity_of(ch.limit, ch.tokens)) {
      // Can never fit: the same answer as the local limiter's.
      a.allowed = false;
      a.retryable = false;
      a.refused_scope_label = k.labels[ch.limit];
      a.retry_after = k.period_of(ch.limit, ch.tokens);
      a.charges.clear();
      return a;
    }
  }
  if (a.charges.empty()) {
    return a;
  }
  if (!k.use_redis()) {
    k.decide_by_fallback(a, false, now_ns);
    return a;
  }
  for (auto& ch : a.charges) {
    if (!k.leased(ch.limit) || ch.keep > 0) {
      // Exact, or batch priority: the reserve is judged on the shared bucket itself.
      ch.remote = true;
      ch.want = ch.cost;
      continue;
    }
    std::uint64_t renew_want = 0;
    if (k.take_credit(a, ch, now_ns, renew_want)) {
      ch.how = shared_admission::via::lease;
      ch.granted = ch.cost;
    }
    if (renew_want > 0) {
      k.renew({ch.limit, ch.key, ch.tokens}, renew_want);
    }
  }
  a.needs_redis =
      std::any_of(a.charges.begin(), a.charges.end(), [](const auto& ch) { return ch.remote; });
  return a;
}

net::awaitable<void> shared_limiter::complete(shared_admission& a, std::int64_t now_ns) {
  if (!a.needs_redis || !a.allowed) {
    co_return;
  }
  std::shared_ptr<core> k = core_;  // alive across the wait
  std::vector<std::string> keys, args;
  for (const auto& c : a.charges) {
    if (!c.remote) {
      continue;
    }
    const auto g = gcra_of(k->capacity_of(c.limit, c.tokens), k->period_of(c.limit, c.tokens));
    keys.push_back(bucket_key(k->opts.key_prefix, c.key));
    args.push_back(number(g.interval_us));
    args.push_back(number(g.burst_us));
    args.push_back(std::to_string(c.cost));
    args.push_back(std::to_string(c.want));
    args.push_back(std::to_string(c.keep));
  }
  auto client = k->redis.lock();
  if (!client) {
    k->enter_fallback("the redis client is gone");
    a.needs_redis = false;
    k->decide_by_fallback(a, true, now_ns);
    co_return;
  }
  auto r = co_await client->eval(take_script(), std::move(keys), std::move(args), k->opts.timeout);
  client.reset();
  const bool usable = r && r->kind == redis_reply::type::array && r->elements.size() >= 3;
  if (!usable) {
    k->enter_fallback(r ? "unexpected reply to the rate-limit script: " + r->str
                        : r.error().message);
    // Their prefetch is not coming; then the fallback decides them.
    for (auto& c : a.charges) {
      if (c.remote && k->leased(c.limit)) {
        auto& s = k->shard_of(c.key);
        std::lock_guard lock(s.m);
        if (auto it = s.entries.find(c.key); it != s.entries.end()) {
          it->second.pending -= to_i64(c.want - c.cost);
        }
      }
    }
    a.needs_redis = false;
    k->decide_by_fallback(a, true, now_ns);
    co_return;
  }
  k->leave_fallback();
  k->apply_reply(*r, a, now_ns);
}

void shared_limiter::finish(shared_admission& a, std::optional<std::uint64_t> actual_tokens,
                            std::int64_t now_ns) noexcept {
  if (a.charges.empty()) {
    return;
  }
  core& k = *core_;
  if (actual_tokens && a.allowed) {
    std::vector<std::pair<core::bucket_ref, std::int64_t>> adjust;
    for (const auto& c : a.charges) {
      if (!c.tokens || c.remote) {
        continue;
      }
      const std::int64_t delta = to_i64(*actual_tokens) - to_i64(c.cost);  // > 0: used more
      const core::bucket_ref b{c.limit, c.key, c.tokens};
      if (delta == 0) {
        continue;
      }
      if (c.how == shared_admission::via::fallback) {
        k.fallback.adjust(c.key, delta, k.fallback_tokens[c.limit], token_period, now_ns);
      } else if (k.leased(c.limit)) {
        k.give_credit(b, -delta);  // a refund grows the slice, extra usage is a debt
      } else {
        adjust.push_back({b, delta});
      }
    }
    k.send_adjust(std::move(adjust));
  }
  a.charges.clear();
}

void shared_limiter::cancel(shared_admission& a, std::int64_t) noexcept {
  if (a.charges.empty()) {
    return;
  }
  core_->rollback(a, nullptr);
}

void shared_limiter::return_leases() {
  if (!active_) {
    return;
  }
  core& k = *core_;
  std::vector<std::string> keys, args;
  for (auto& s : k.shards) {
    std::lock_guard lock(s.m);
    for (auto& [key, e] : s.entries) {
      if (e.credit != 0) {
        k.adjust_args(core::bucket_ref{e.limit, key, e.tokens}, -e.credit, keys, args);
        e.credit = 0;
      }
    }
  }
  // Outside the shard locks: the redis thread's completions take them.
  for (std::size_t at = 0; at < keys.size();) {
    const std::size_t n = std::min(max_keys_per_call, keys.size() - at);
    std::vector<std::string> part_keys(keys.begin() + static_cast<std::ptrdiff_t>(at),
                                       keys.begin() + static_cast<std::ptrdiff_t>(at + n));
    std::vector<std::string> part_args(args.begin() + static_cast<std::ptrdiff_t>(3 * at),
                                       args.begin() + static_cast<std::ptrdiff_t>(3 * (at + n)));
    auto client = k.redis.lock();
    if (!client) {
      return;
    }
    auto r = client->eval_sync(adjust_script(), std::move(part_keys), std::move(part_args),
                               k.opts.return_timeout);
    if (!r || r->kind == redis_reply::type::error) {
      k.failed_calls.fetch_add(1, std::memory_order_relaxed);
    }
    at += n;
  }
}

shared_limiter_stats shared_limiter::stats() const noexcept {
  return {core_->fallback_decisions.load(), core_->failed_calls.load(), core_->leases.load(),
          core_->in_fallback.load()};
}

}  // namespace switchyard
