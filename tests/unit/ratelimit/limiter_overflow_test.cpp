// A flood of distinct keys must not turn the rate limiter off: once its table is full a fresh
// key is refused (on_overflow: deny, the default) or explicitly let through (allow), and either
// way the overflow is counted for /metrics.
#include "switchyard/ratelimit/limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t t0 = 1'000'000'000'000;

rate_limit_config per_key(std::uint64_t requests, bool deny) {
  rate_limit_config c;
  c.scope = {rate_scope::api_key};
  c.requests = requests;
  c.period = 1min;
  c.deny_on_overflow = deny;
  return c;
}

// Fills a 64-slot table with keys whose buckets are all in use (a TAT in the future).
void flood(rate_limiter& l, int keys) {
  for (int i = 0; i < keys; ++i) {
    std::string key = "sk-flood-" + std::to_string(i);
    (void)l.admit(rate_request{key, "", "m", "", 0}, t0);
  }
}

TEST(limiter_overflow, a_full_table_denies_fresh_keys_by_default) {
  rate_limiter l({per_key(600, true)}, 64);
  flood(l, 5000);
  ASSERT_GT(l.overflows_of(0), 0u);
  const auto before = l.overflows_of(0);
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    std::string fresh = "sk-fresh-" + std::to_string(i);
    auto a = l.admit(rate_request{fresh, "", "m", "", 0}, t0);
    refused += a.allowed ? 0 : 1;
    if (!a.allowed) {
      EXPECT_TRUE(a.retryable);
      EXPECT_GT(a.retry_after, 0ns);
      EXPECT_EQ(a.refused_scope_label, "api_key");
    }
  }
  EXPECT_EQ(refused, static_cast<int>(l.overflows_of(0) - before));
  EXPECT_GT(refused, 90) << "almost every fresh key lands in a full probe window";
}

TEST(limiter_overflow, allow_lets_fresh_keys_through_but_counts_them) {
  rate_limiter l({per_key(600, false)}, 64);
  flood(l, 5000);
  const auto before = l.overflows_of(0);
  for (int i = 0; i < 100; ++i) {
    std::string fresh = "sk-fresh-" + std::to_string(i);
    EXPECT_TRUE(l.admit(rate_request{fresh, "", "m", "", 0}, t0).allowed);
  }
  EXPECT_GT(l.overflows_of(0), before + 90);
}

TEST(limiter_overflow, buckets_free_again_once_they_refill) {
  rate_limiter l({per_key(600, true)}, 64);
  flood(l, 5000);
  // 600 per minute: one request's bucket is full again after 100 ms; the slots can be reused.
  auto later = t0 + std::chrono::nanoseconds(1s).count();
  EXPECT_TRUE(l.admit(rate_request{"sk-after", "", "m", "", 0}, later).allowed);
}

TEST(limiter_overflow, concurrency_limits_deny_too) {
  rate_limit_config c;
  c.scope = {rate_scope::api_key};
  c.concurrent = 1;
  rate_limiter l({c}, 16);
  std::vector<admission> held;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "sk-" + std::to_string(i);
    auto a = l.admit(rate_request{key, "", "m", "", 0}, t0);
    if (a.allowed) {
      held.push_back(std::move(a));
    }
  }
  EXPECT_LE(held.size(), 16u) << "never more keys in flight than the table can track";
  EXPECT_GT(l.overflows_of(0), 0u);
}

}  // namespace
}  // namespace switchyard
