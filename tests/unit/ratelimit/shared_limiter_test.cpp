// The shared limiter with no Redis to talk to (a client pointed at a closed port): the first
// shared admission fails over to the per-replica fallback share, every later one is decided by
// it at once, batch priority keeps its reserve of that share, local limits are not its business,
// and the counters say so. The Redis side is tested in tests/integration/replica_limits_test.cpp.
#include "switchyard/ratelimit/shared_limiter.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/ratelimit/redis_lease.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

std::uint16_t closed_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();  // closed again when `a` goes
}

struct no_redis : ::testing::Test {
  std::shared_ptr<redis_client> client = [] {
    auto ep = parse_redis_url("redis://127.0.0.1:" + std::to_string(closed_port()) + "/0");
    return redis_client::start(*ep, duration(100));
  }();
  void TearDown() override { client->stop(); }

  shared_limiter make(std::vector<rate_limit_config> limits) {
    return shared_limiter(
        std::move(limits), client,
        shared_limiter::options{
            .timeout = duration(100), .return_timeout = duration(100), .expected_replicas = 3});
  }
};

rate_limit_config leased(std::uint64_t per_minute) {
  rate_limit_config c;
  c.requests = per_minute;
  c.mode = rate_limit_mode::leased;
  return c;
}

rate_request req(bool batch = false) {
  rate_request r{"sk-a", "", "gpt-4o", "", 0};
  r.batch = batch;
  return r;
}

// begin, and complete when it asks for Redis (run to the end on a private io_context).
shared_admission admit(shared_limiter& l, const rate_request& r) {
  shared_admission a = l.begin(r, now_ns());
  if (a.needs_redis) {
    net::io_context io;
    net::co_spawn(io, l.complete(a, now_ns()), net::detached);  // run to completion just below
    io.run();
  }
  return a;
}

TEST_F(no_redis, falls_back_to_the_replica_share_and_counts_it) {
  auto l = make({leased(60)});
  ASSERT_TRUE(l.active());
  int passed = 0;
  for (int i = 0; i < 40; ++i) {
    shared_admission a = admit(l, req());
    EXPECT_FALSE(a.needs_redis);
    if (a.allowed) {
      ++passed;
    } else {
      EXPECT_TRUE(a.retryable);
      EXPECT_EQ(a.refused_scope_label, "global");
      EXPECT_GT(a.retry_after, 0ns);
      ASSERT_TRUE(a.requests);
      EXPECT_EQ(a.requests->limit, 18u);  // the share is what the headers report
    }
    l.finish(a, std::nullopt, now_ns());
  }
  EXPECT_EQ(passed, 18);  // 60 / 3 × (1 − 0.1), never the full 60
  const auto s = l.stats();
  EXPECT_TRUE(s.fallback_active);
  EXPECT_EQ(s.fallback_decisions, 40u);
  EXPECT_GE(s.failed_calls, 1u);
}

TEST_F(no_redis, batch_keeps_the_reserve_of_the_share) {
  auto l = make({leased(60)});
  int batch = 0;
  for (int i = 0; i < 30; ++i) {
    batch += admit(l, req(true)).allowed ? 1 : 0;
  }
  EXPECT_EQ(batch, 18 - 4);  // ⌈18 × 0.2⌉ = 4 kept for live requests
  int live = 0;
  for (int i = 0; i < 10; ++i) {
    live += admit(l, req()).allowed ? 1 : 0;
  }
  EXPECT_EQ(live, 4);
}

TEST_F(no_redis, tokens_are_reconciled_in_the_fallback_too) {
  rate_limit_config c;
  c.tokens_per_minute = 3000;  // share 900
  c.mode = rate_limit_mode::exact;
  auto l = make({c});
  rate_request r = req();
  r.estimated_tokens = 800;
  shared_admission a = admit(l, r);
  ASSERT_TRUE(a.allowed);
  EXPECT_FALSE(admit(l, r).allowed);  // 100 left of 900
  l.finish(a, 100, now_ns());         // used 100 of the 800 reserved: 700 back
  EXPECT_TRUE(admit(l, r).allowed);
}

TEST_F(no_redis, a_request_above_the_whole_limit_is_never_retryable) {
  rate_limit_config c;
  c.tokens_per_minute = 1000;
  c.mode = rate_limit_mode::leased;
  auto l = make({c});
  rate_request r = req();
  r.estimated_tokens = 1001;
  shared_admission a = admit(l, r);
  EXPECT_FALSE(a.allowed);
  EXPECT_FALSE(a.retryable);
}

TEST_F(no_redis, local_limits_are_left_to_the_local_limiter) {
  rate_limit_config c = leased(1);
  c.mode = rate_limit_mode::local;
  auto l = make({c});
  EXPECT_FALSE(l.active());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(admit(l, req()).allowed);
  }
}

}  // namespace
}  // namespace switchyard
