#include "switchyard/upstream/breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t sec = 1000 * ms;
constexpr std::int64_t t0 = 1000 * sec;  // a multiple of every window used below

breaker_config config(std::uint32_t consecutive = 5) {
  breaker_config c;
  c.consecutive_failures = consecutive;
  c.failure_rate = 0.5;
  c.min_requests = 20;
  c.window = 10s;
  c.cooldown = 5s;
  c.max_cooldown = 300s;
  return c;
}

void fail(circuit_breaker& b, int times, std::int64_t now) {
  for (int i = 0; i < times; ++i) {
    b.record(false, now);
  }
}

TEST(breaker, opens_after_consecutive_failures) {
  circuit_breaker b(config(5));
  fail(b, 4, t0);
  b.record(true, t0);  // a success breaks the run
  fail(b, 4, t0);
  EXPECT_EQ(b.current(t0), breaker_state::closed);
  EXPECT_TRUE(b.allow(t0));
  fail(b, 1, t0);
  EXPECT_EQ(b.current(t0), breaker_state::open);
  EXPECT_FALSE(b.allow(t0));
  EXPECT_EQ(b.ejections(), 1U);
  EXPECT_EQ(b.streak(), 1U);
}

TEST(breaker, refuses_during_cooldown_with_the_right_retry_after) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  EXPECT_EQ(b.retry_after(t0), 5s);
  EXPECT_EQ(b.retry_after(t0 + 1 * sec), 4s);
  EXPECT_EQ(b.retry_after(t0 + 4900 * ms), 100ms);
  EXPECT_FALSE(b.allow(t0 + 4999 * ms));
  EXPECT_EQ(b.current(t0 + 4999 * ms), breaker_state::open);
  EXPECT_EQ(b.current(t0 + 5 * sec), breaker_state::half_open);
  EXPECT_EQ(b.retry_after(t0 + 5 * sec), 0s);
}

TEST(breaker, outcomes_recorded_while_open_are_ignored) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  b.record(true, t0 + 1 * sec);  // a request admitted before the ejection
  EXPECT_EQ(b.current(t0 + 1 * sec), breaker_state::open);
  fail(b, 10, t0 + 2 * sec);
  EXPECT_EQ(b.retry_after(t0 + 2 * sec), 3s);
  EXPECT_EQ(b.ejections(), 1U);
}

TEST(breaker, exactly_one_half_open_probe_among_concurrent_callers) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  const std::int64_t later = t0 + 6 * sec;
  constexpr int threads = 8;
  std::latch start(threads);
  std::atomic<int> allowed{0};
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 10'000; ++i) {
        if (b.allow(later)) {
          allowed.fetch_add(1);
        }
      }
    });
  }
  pool.clear();  // joins
  EXPECT_EQ(allowed.load(), 1);
  EXPECT_EQ(b.current(later), breaker_state::half_open);
  EXPECT_EQ(b.retry_after(later), 5s);  // the probe's lease
}

TEST(breaker, probe_success_closes_and_clears_the_counters) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  ASSERT_TRUE(b.allow(t0 + 5 * sec));
  b.record(true, t0 + 5 * sec);
  EXPECT_EQ(b.current(t0 + 5 * sec), breaker_state::closed);
  EXPECT_TRUE(b.allow(t0 + 5 * sec));
  EXPECT_TRUE(b.allow(t0 + 5 * sec));
  EXPECT_EQ(b.retry_after(t0 + 5 * sec), 0s);
  fail(b, 4, t0 + 6 * sec);  // the failures before the ejection are forgotten
  EXPECT_EQ(b.current(t0 + 6 * sec), breaker_state::closed);
}

TEST(breaker, probe_failure_doubles_the_cooldown_up_to_the_cap) {
  breaker_config c = config();
  c.max_cooldown = 30s;
  circuit_breaker b(c);
  std::int64_t now = t0;
  fail(b, 5, now);
  EXPECT_EQ(b.retry_after(now), 5s);
  for (auto expected : {10s, 20s, 30s, 30s, 30s}) {
    now += b.retry_after(now).count();
    EXPECT_FALSE(b.allow(now - 1));
    ASSERT_TRUE(b.allow(now));
    EXPECT_FALSE(b.allow(now));  // the probe is out
    b.record(false, now);
    EXPECT_EQ(b.current(now), breaker_state::open);
    EXPECT_EQ(b.retry_after(now), expected);
  }
  EXPECT_EQ(b.ejections(), 6U);
  EXPECT_EQ(b.streak(), 6U);
}

TEST(breaker, a_lost_probe_is_replaced_after_its_lease) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  ASSERT_TRUE(b.allow(t0 + 5 * sec));  // its outcome is never recorded
  EXPECT_FALSE(b.allow(t0 + 9 * sec));
  EXPECT_TRUE(b.allow(t0 + 10 * sec));
  EXPECT_FALSE(b.allow(t0 + 10 * sec));
}

TEST(breaker, a_flapping_upstream_keeps_its_streak_a_healthy_one_is_forgiven) {
  circuit_breaker b(config());
  fail(b, 5, t0);
  ASSERT_TRUE(b.allow(t0 + 5 * sec));
  b.record(true, t0 + 5 * sec);
  // Fails again soon after the good probe: the second ejection lasts twice as long.
  fail(b, 5, t0 + 7 * sec);
  EXPECT_EQ(b.retry_after(t0 + 7 * sec), 10s);
  ASSERT_TRUE(b.allow(t0 + 17 * sec));
  b.record(true, t0 + 17 * sec);
  // Healthy for two max_cooldowns (300 s each): both levels are forgiven.
  const std::int64_t much_later = t0 + 17 * sec + 600 * sec;
  fail(b, 5, much_later);
  EXPECT_EQ(b.retry_after(much_later), 5s);
  EXPECT_EQ(b.streak(), 1U);
  EXPECT_EQ(b.ejections(), 3U);
}

TEST(breaker, failure_rate_over_the_window_needs_min_requests) {
  breaker_config c = config(0);  // the consecutive rule is off
  c.min_requests = 10;
  circuit_breaker b(c);
  // success, failure, success, failure…: 50 % once the 10th outcome is in.
  for (int i = 0; i < 9; ++i) {
    b.record(i % 2 == 0, t0 + i * ms);
    EXPECT_EQ(b.current(t0 + i * ms), breaker_state::closed) << i;
  }
  b.record(false, t0 + 9 * ms);
  EXPECT_EQ(b.current(t0 + 9 * ms), breaker_state::open);
}

TEST(breaker, failure_rate_below_the_threshold_does_not_open) {
  breaker_config c = config(0);
  c.min_requests = 10;
  circuit_breaker b(c);
  for (int i = 0; i < 1000; ++i) {
    b.record(i % 10 >= 3, t0 + i * ms);  // 30 % failures
  }
  EXPECT_EQ(b.current(t0 + sec), breaker_state::closed);
  EXPECT_EQ(b.ejections(), 0U);
}

TEST(breaker, failure_rate_window_starts_over_at_its_boundary) {
  breaker_config c = config(0);
  c.min_requests = 10;
  circuit_breaker b(c);
  fail(b, 9, t0 + 9 * sec);   // the end of window [t0, t0 + 10 s)
  fail(b, 9, t0 + 10 * sec);  // the start of the next one
  EXPECT_EQ(b.current(t0 + 10 * sec), breaker_state::closed);
  fail(b, 1, t0 + 19 * sec);
  EXPECT_EQ(b.current(t0 + 19 * sec), breaker_state::open);
}

TEST(breaker, disabled_breaker_always_allows) {
  breaker_config c = config();
  c.enabled = false;
  circuit_breaker b(c);
  fail(b, 100, t0);
  EXPECT_TRUE(b.allow(t0));
  EXPECT_EQ(b.current(t0), breaker_state::closed);
  EXPECT_EQ(b.retry_after(t0), 0s);
  EXPECT_EQ(b.ejections(), 0U);
}

}  // namespace
}  // namespace switchyard
