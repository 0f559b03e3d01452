// The pure arithmetic of shared rate limits: lease sizing (TensorZero's token-pool caps), the
// per-replica fallback limit, the batch reserve, bucket keys and the priority header.
#include "switchyard/ratelimit/redis_lease.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

TEST(redis_lease, max_lease_is_a_quarter_of_the_capacity_and_at_least_one) {
  EXPECT_EQ(max_lease(60), 15u);
  EXPECT_EQ(max_lease(200000), 50000u);
  EXPECT_EQ(max_lease(3), 1u);
  EXPECT_EQ(max_lease(1), 1u);
}

TEST(redis_lease, an_idle_replica_leases_one_unit) {
  EXPECT_EQ(lease_size(0.0, 1s, 60, 60), 1u);
  EXPECT_EQ(lease_size(0.2, 1s, 600, 600), 1u);
}

TEST(redis_lease, a_busy_replica_leases_about_one_horizon_of_its_traffic) {
  EXPECT_EQ(lease_size(10.0, 1s, 600, 600), 10u);
  EXPECT_EQ(lease_size(10.0, 2s, 600, 600), 20u);
  EXPECT_EQ(lease_size(10.4, 1s, 600, 600), 11u);  // rounded up
}

TEST(redis_lease, the_cap_shrinks_as_the_bucket_fills) {
  // Below 50 % used: 25 %; 50–80 %: 10 %; above: 5 % (TensorZero PR #5663).
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 1000), 250u);
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 501), 250u);
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 500), 100u);
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 201), 100u);
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 200), 50u);
  EXPECT_EQ(lease_size(1e9, 1s, 1000, 0), 50u);
  EXPECT_EQ(lease_size(1e9, 1s, 10, 0), 1u);  // never below one unit
  EXPECT_LE(lease_size(1e9, 1s, 60, 60), max_lease(60));
}

TEST(redis_lease, fallback_is_a_share_minus_the_margin_never_the_full_limit) {
  EXPECT_EQ(fallback_limit(60, 3, 0.1), 18u);  // 60 / 3 × 0.9
  EXPECT_EQ(fallback_limit(600, 3, 0.1), 180u);
  EXPECT_EQ(fallback_limit(600, 4, 0.0), 150u);
  EXPECT_EQ(fallback_limit(100, 3, 0.1), 30u);  // 30.0: floored, not rounded up
  EXPECT_EQ(fallback_limit(10, 3, 0.1), 3u);    // 3.0
  EXPECT_EQ(fallback_limit(10, 1, 0.1), 9u);    // one replica still keeps the margin
  EXPECT_EQ(fallback_limit(2, 5, 0.1), 1u);     // at least one (0 would mean unlimited)
  EXPECT_EQ(fallback_limit(0, 3, 0.1), 0u);     // no limit stays no limit
  EXPECT_EQ(fallback_limit(60, 0, 0.1), 54u);   // expected_replicas 0 is treated as 1
  // The sum over the expected replicas stays at or below limit × (1 − margin).
  for (std::uint64_t limit : {7u, 60u, 99u, 1000u, 200000u}) {
    for (std::uint32_t r : {1u, 2u, 3u, 7u}) {
      EXPECT_LE(fallback_limit(limit, r, 0.1) * r, std::max<std::uint64_t>(limit * 9 / 10, r))
          << limit << " / " << r;
    }
  }
}

TEST(redis_lease, batch_keeps_the_reserve_for_live_traffic) {
  EXPECT_EQ(batch_keep(60, 0.2), 12u);
  EXPECT_EQ(batch_keep(10, 0.2), 2u);
  EXPECT_EQ(batch_keep(3, 0.2), 1u);  // 0.6 rounds up: some room always stays
  EXPECT_EQ(batch_keep(10, 0.0), 0u);
  EXPECT_EQ(batch_keep(10, 1.0), 10u);
  EXPECT_TRUE(batch_fits(10, 1, 2));
  EXPECT_TRUE(batch_fits(3, 1, 2));
  EXPECT_FALSE(batch_fits(2, 1, 2));
  EXPECT_FALSE(batch_fits(0, 1, 0));
  EXPECT_TRUE(batch_fits(1, 1, 0));  // live: just needs room
}

TEST(redis_lease, bucket_keys_are_prefix_and_hash_only) {
  EXPECT_EQ(bucket_key("switchyard:", 0x0123456789abcdefULL), "switchyard:rl:0123456789abcdef");
  EXPECT_EQ(bucket_key("", 1), "rl:0000000000000001");
}

TEST(redis_lease, gcra_constants_in_microseconds) {
  const auto g = gcra_of(60, 60s);
  EXPECT_DOUBLE_EQ(g.interval_us, 1e6);
  EXPECT_DOUBLE_EQ(g.burst_us, 60e6);
  const auto t = gcra_of(200000, 60s);
  EXPECT_DOUBLE_EQ(t.interval_us, 300.0);
  EXPECT_DOUBLE_EQ(gcra_of(0, 60s).interval_us, 0.0);
}

TEST(redis_lease, only_batch_lowers_the_priority) {
  EXPECT_TRUE(is_batch_priority("batch"));
  EXPECT_TRUE(is_batch_priority("Batch"));
  EXPECT_TRUE(is_batch_priority(" batch\t"));
  EXPECT_FALSE(is_batch_priority(""));
  EXPECT_FALSE(is_batch_priority("live"));
  EXPECT_FALSE(is_batch_priority("batches"));
  EXPECT_FALSE(is_batch_priority("b atch"));
}

}  // namespace
}  // namespace switchyard
