#include "switchyard/ratelimit/gcra.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;

constexpr std::int64_t t0 = 1'000'000'000'000;  // an arbitrary steady-clock reading
constexpr std::int64_t second = 1'000'000'000;

TEST(gcra, bucket_of_n_allows_exactly_n_then_refuses) {
  gcra_table table(64);
  for (std::uint64_t i = 0; i < 5; ++i) {
    decision d = table.take(42, 1, 5, 10s, t0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5u);
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.reset_after, ns(2s) * static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(d.retry_after, ns(0));
  }
  decision d = table.take(42, 1, 5, 10s, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.retry_after, ns(2s));  // one emission interval T = 10 s / 5
  EXPECT_EQ(d.reset_after, ns(10s));
}

TEST(gcra, refills_one_unit_per_emission_interval) {
  gcra_table table(64);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(table.take(7, 1, 5, 10s, t0).allowed);
  }
  EXPECT_FALSE(table.take(7, 1, 5, 10s, t0 + 2 * second - 1).allowed);
  EXPECT_TRUE(table.take(7, 1, 5, 10s, t0 + 2 * second).allowed);
  EXPECT_FALSE(table.take(7, 1, 5, 10s, t0 + 2 * second).allowed);
  // After a whole period the bucket is full again, and holds no more than the limit.
  const std::int64_t later = t0 + 100 * second;
  EXPECT_EQ(table.take(7, 0, 5, 10s, later).remaining, 5u);
  EXPECT_TRUE(table.take(7, 5, 5, 10s, later).allowed);
  EXPECT_FALSE(table.take(7, 1, 5, 10s, later).allowed);
}

TEST(gcra, refused_take_changes_nothing) {
  gcra_table table(64);
  ASSERT_TRUE(table.take(9, 3, 5, 10s, t0).allowed);
  decision d = table.take(9, 3, 5, 10s, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 2u);
  EXPECT_EQ(d.retry_after, ns(2s));  // one more unit must drain before three fit
  EXPECT_TRUE(table.take(9, 2, 5, 10s, t0).allowed);
}

TEST(gcra, cost_above_limit_is_refused_with_the_period) {
  gcra_table table(64);
  decision d = table.take(11, 6, 5, 10s, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, ns(10s));
  EXPECT_EQ(d.remaining, 5u);
  EXPECT_TRUE(table.take(11, 5, 5, 10s, t0).allowed);  // the refusal took nothing
}

TEST(gcra, zero_limit_means_no_limit) {
  gcra_table table(64);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(table.take(3, 1000, 0, 10s, t0).allowed);
  }
}

TEST(gcra, adjust_refund_lets_more_through) {
  gcra_table table(64);
  ASSERT_TRUE(table.take(5, 80, 100, 1min, t0).allowed);
  EXPECT_FALSE(table.take(5, 30, 100, 1min, t0).allowed);
  table.adjust(5, -50, 100, 1min, t0);
  EXPECT_EQ(table.take(5, 0, 100, 1min, t0).remaining, 70u);
  EXPECT_TRUE(table.take(5, 70, 100, 1min, t0).allowed);
  // A refund never fills past full.
  table.adjust(5, -1000, 100, 1min, t0);
  decision d = table.take(5, 0, 100, 1min, t0);
  EXPECT_EQ(d.remaining, 100u);
  EXPECT_EQ(d.reset_after, ns(0));
}

TEST(gcra, adjust_charge_goes_into_debt_of_at_most_one_period) {
  gcra_table table(64);
  ASSERT_TRUE(table.take(6, 10, 10, 10s, t0).allowed);
  table.adjust(6, 1000, 10, 10s, t0);  // far more than the estimate: capped
  decision d = table.take(6, 1, 10, 10s, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset_after, ns(20s));
  EXPECT_EQ(d.retry_after, ns(11s));
  // A key without a slot (full bucket) is charged too.
  table.adjust(8, 4, 10, 10s, t0);
  EXPECT_EQ(table.take(8, 0, 10, 10s, t0).remaining, 6u);
}

TEST(gcra, expired_slots_are_reclaimed_when_the_table_is_full) {
  gcra_table table(16);  // one probe window covers the whole table
  for (std::uint64_t k = 1; k <= 16; ++k) {
    ASSERT_TRUE(table.take(k, 1, 2, 1s, t0).allowed);  // TAT = t0 + 0.5 s
  }
  EXPECT_EQ(table.overflows(), 0u);
  // Every TAT is in the past: key 17 takes over a slot and gets an exact bucket.
  const std::int64_t later = t0 + second;
  EXPECT_TRUE(table.take(17, 1, 2, 1s, later).allowed);
  EXPECT_TRUE(table.take(17, 1, 2, 1s, later).allowed);
  EXPECT_FALSE(table.take(17, 1, 2, 1s, later).allowed);
  EXPECT_EQ(table.overflows(), 0u);
}

TEST(gcra, full_table_of_live_keys_fails_open_and_counts) {
  gcra_table table(16);
  for (std::uint64_t k = 1; k <= 16; ++k) {
    ASSERT_TRUE(table.take(k, 1, 2, 1s, t0).allowed);
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(table.take(99, 1, 1, 1s, t0).allowed);
  }
  EXPECT_EQ(table.overflows(), 10u);
  EXPECT_TRUE(table.take(1, 1, 2, 1s, t0).allowed);  // the live keys keep their buckets
  EXPECT_FALSE(table.take(1, 1, 2, 1s, t0).allowed);
}

TEST(gcra, gcra_concurrency_concurrent_takes_admit_exactly_the_limit) {
  constexpr int threads = 8;
  constexpr int takes_per_thread = 2000;
  constexpr std::uint64_t limit = 5000;  // fewer than the 16000 takes
  gcra_table table;
  std::atomic<std::uint64_t> allowed{0};
  std::latch start(threads);
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      std::uint64_t mine = 0;
      for (int i = 0; i < takes_per_thread; ++i) {
        if (table.take(1234, 1, limit, std::chrono::hours(1), t0).allowed) {
          ++mine;
        }
      }
      allowed.fetch_add(mine);
    });
  }
  workers.clear();  // joins
  EXPECT_EQ(allowed.load(), limit);
  EXPECT_EQ(table.overflows(), 0u);
}

TEST(gcra, gcra_concurrency_concurrent_takes_on_a_new_key_share_one_bucket) {
  // Every round starts on a fresh key, so all threads race to claim its slot too.
  constexpr int threads = 8;
  constexpr int rounds = 100;
  gcra_table table;
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int> allowed{0};
    std::latch start(threads);
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 3; ++i) {
          if (table.take(static_cast<std::uint64_t>(1000 + r), 1, 7, 1min, t0).allowed) {
            allowed.fetch_add(1);
          }
        }
      });
    }
    workers.clear();
    ASSERT_EQ(allowed.load(), 7) << "round " << r;
  }
}

TEST(gcra, gcra_concurrency_acquire_refuses_at_the_limit_and_release_frees) {
  concurrency_table table(64);
  auto a = table.try_acquire(5, 2);
  auto b = table.try_acquire(5, 2);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(table.try_acquire(5, 2));
  EXPECT_TRUE(table.try_acquire(6, 2));  // another key
  EXPECT_EQ(table.in_flight(5), 2);
  table.release(*a);
  EXPECT_EQ(table.in_flight(5), 1);
  EXPECT_TRUE(table.try_acquire(5, 2));
}

TEST(gcra, gcra_concurrency_idle_slots_are_reclaimed) {
  concurrency_table table(16);
  for (std::uint64_t k = 1; k <= 16; ++k) {
    auto t = table.try_acquire(k, 1);
    ASSERT_TRUE(t);
    table.release(*t);
  }
  auto held = table.try_acquire(17, 1);
  ASSERT_TRUE(held);
  EXPECT_FALSE(table.try_acquire(17, 1));  // a real slot, so the limit holds
  EXPECT_EQ(table.overflows(), 0u);
  table.release(*held);
  EXPECT_EQ(table.in_flight(17), 0);
}

TEST(gcra, gcra_concurrency_in_flight_never_exceeds_the_limit) {
  constexpr int threads = 8;
  constexpr int iterations = 20000;
  constexpr std::uint32_t limit = 3;
  concurrency_table table;
  std::atomic<int> inside{0};
  std::atomic<int> high_water{0};
  std::atomic<int> admitted{0};
  std::latch start(threads);
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < iterations; ++i) {
        auto ticket = table.try_acquire(77, limit);
        if (!ticket) {
          continue;
        }
        const int now_inside = inside.fetch_add(1) + 1;
        int seen = high_water.load();
        while (now_inside > seen && !high_water.compare_exchange_weak(seen, now_inside)) {
        }
        admitted.fetch_add(1);
        inside.fetch_sub(1);
        table.release(*ticket);
      }
    });
  }
  workers.clear();
  EXPECT_LE(high_water.load(), static_cast<int>(limit));
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(table.in_flight(77), 0);
  EXPECT_EQ(table.overflows(), 0u);
}

TEST(gcra, go_duration_formats_like_go) {
  EXPECT_EQ(go_duration(0s), "0s");
  EXPECT_EQ(go_duration(12ms), "12ms");
  EXPECT_EQ(go_duration(1s), "1s");
  EXPECT_EQ(go_duration(1500ms), "1.5s");
  EXPECT_EQ(go_duration(1250ms), "1.25s");
  EXPECT_EQ(go_duration(1001ms), "1.001s");
  EXPECT_EQ(go_duration(6min), "6m0s");
  EXPECT_EQ(go_duration(1h + 2min + 3s), "1h2m3s");
  EXPECT_EQ(go_duration(1h), "1h0m0s");
  EXPECT_EQ(go_duration(90s), "1m30s");
}

TEST(gcra, go_duration_rounds_up_to_whole_milliseconds) {
  EXPECT_EQ(go_duration(1ns), "1ms");
  EXPECT_EQ(go_duration(ns(12'000'001)), "13ms");
  EXPECT_EQ(go_duration(ns(999'000'001)), "1s");
  EXPECT_EQ(go_duration(ns(1'000'000'001)), "1.001s");
  EXPECT_EQ(go_duration(-5s), "0s");
}

}  // namespace
}  // namespace switchyard
