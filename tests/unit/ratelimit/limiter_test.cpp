#include "switchyard/ratelimit/limiter.hpp"

#include <gtest/gtest.h>

#include <utility>

namespace switchyard {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;

constexpr std::int64_t t0 = 1'000'000'000'000;

rate_limit_config requests_limit(std::vector<rate_scope> scope, std::uint64_t requests,
                                 duration period = 1min) {
  rate_limit_config c;
  c.scope = std::move(scope);
  c.requests = requests;
  c.period = period;
  return c;
}

rate_limit_config tokens_limit(std::vector<rate_scope> scope, std::uint64_t tokens_per_minute) {
  rate_limit_config c;
  c.scope = std::move(scope);
  c.tokens_per_minute = tokens_per_minute;
  return c;
}

rate_limit_config concurrency_limit(std::vector<rate_scope> scope, std::uint32_t concurrent) {
  rate_limit_config c;
  c.scope = std::move(scope);
  c.concurrent = concurrent;
  return c;
}

rate_request req(std::string_view api_key, std::uint64_t tokens = 0) {
  return rate_request{api_key, "", "gpt-4o", "", tokens};
}

TEST(limiter, api_key_buckets_are_independent) {
  rate_limiter limiter({requests_limit({rate_scope::api_key}, 2)});
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  admission refused = limiter.admit(req("sk-a"), t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_scope_label, "api_key");
  EXPECT_TRUE(limiter.admit(req("sk-b"), t0).allowed);
}

TEST(limiter, global_bucket_is_shared) {
  rate_limiter limiter({requests_limit({}, 2)});
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  EXPECT_TRUE(limiter.admit(req("sk-b"), t0).allowed);
  admission refused = limiter.admit(req("sk-c"), t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_scope_label, "global");
}

TEST(limiter, model_limit_ignores_other_models) {
  rate_limit_config c = requests_limit({rate_scope::api_key}, 1);
  c.model = "gpt-4o";
  rate_limiter limiter({c});
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  EXPECT_FALSE(limiter.admit(req("sk-a"), t0).allowed);
  rate_request other = req("sk-a");
  other.model = "gpt-4o-mini";
  for (int i = 0; i < 5; ++i) {
    admission a = limiter.admit(other, t0);
    EXPECT_TRUE(a.allowed);
    EXPECT_FALSE(a.requests);  // no limit applies, so no headers
  }
}

TEST(limiter, user_scope_is_skipped_without_a_user) {
  rate_limiter limiter({requests_limit({rate_scope::user}, 1)});
  for (int i = 0; i < 3; ++i) {
    admission a = limiter.admit(req("sk-a"), t0);
    EXPECT_TRUE(a.allowed);
    EXPECT_FALSE(a.requests);
  }
  rate_request with_user = req("sk-a");
  with_user.user = "u-1";
  EXPECT_TRUE(limiter.admit(with_user, t0).allowed);
  EXPECT_FALSE(limiter.admit(with_user, t0).allowed);
  with_user.user = "u-2";
  EXPECT_TRUE(limiter.admit(with_user, t0).allowed);
}

TEST(limiter, scope_values_are_combined_in_one_bucket) {
  rate_limiter limiter({requests_limit({rate_scope::api_key, rate_scope::variant}, 1)});
  rate_request r = req("sk-a");
  r.variant = "control";
  EXPECT_TRUE(limiter.admit(r, t0).allowed);
  admission refused = limiter.admit(r, t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_scope_label, "api_key+variant");
  r.variant = "treatment";
  EXPECT_TRUE(limiter.admit(r, t0).allowed);
}

TEST(limiter, refusal_gives_back_tokens_taken_by_earlier_limits) {
  rate_limiter limiter({tokens_limit({}, 1000), requests_limit({rate_scope::api_key}, 1)});
  admission first = limiter.admit(req("sk-a", 100), t0);
  ASSERT_TRUE(first.allowed);
  ASSERT_TRUE(first.tokens);
  EXPECT_EQ(first.tokens->remaining, 900u);
  admission second = limiter.admit(req("sk-a", 100), t0);
  EXPECT_FALSE(second.allowed);
  EXPECT_EQ(second.refused_scope_label, "api_key");
  ASSERT_TRUE(second.tokens);
  EXPECT_EQ(second.tokens->remaining, 900u);  // the 100 it took were refunded
  EXPECT_FALSE(second.pending());
  admission third = limiter.admit(req("sk-b", 100), t0);
  ASSERT_TRUE(third.allowed);
  EXPECT_EQ(third.tokens->remaining, 800u);
}

TEST(limiter, refusal_releases_concurrency_taken_by_earlier_limits) {
  rate_limiter limiter({concurrency_limit({}, 1), requests_limit({rate_scope::api_key}, 1)});
  admission first = limiter.admit(req("sk-a"), t0);
  ASSERT_TRUE(first.allowed);
  limiter.finish(first, std::nullopt, t0);
  EXPECT_FALSE(limiter.admit(req("sk-a"), t0).allowed);  // took the slot, then refused
  EXPECT_TRUE(limiter.admit(req("sk-b"), t0).allowed);   // so the slot must be free
}

TEST(limiter, finish_refunds_unused_reserved_tokens) {
  rate_limiter limiter({tokens_limit({rate_scope::api_key}, 1000)});
  admission a = limiter.admit(req("sk-a", 300), t0);
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.tokens->remaining, 700u);
  limiter.finish(a, 100, t0);
  limiter.finish(a, 0, t0);  // a second finish does nothing
  admission b = limiter.admit(req("sk-a", 50), t0);
  ASSERT_TRUE(b.allowed);
  EXPECT_EQ(b.tokens->remaining, 850u);  // 1000 - 100 used - 50 reserved
}

TEST(limiter, finish_charges_tokens_used_beyond_the_estimate) {
  rate_limiter limiter({tokens_limit({rate_scope::api_key}, 1000)});
  admission a = limiter.admit(req("sk-a", 100), t0);
  limiter.finish(a, 400, t0);
  admission b = limiter.admit(req("sk-a", 100), t0);
  ASSERT_TRUE(b.allowed);
  EXPECT_EQ(b.tokens->remaining, 500u);
}

TEST(limiter, finish_without_usage_keeps_the_reservation) {
  rate_limiter limiter({tokens_limit({rate_scope::api_key}, 1000)});
  admission a = limiter.admit(req("sk-a", 300), t0);
  limiter.finish(a, std::nullopt, t0);
  EXPECT_EQ(limiter.admit(req("sk-a", 100), t0).tokens->remaining, 600u);
}

TEST(limiter, zero_estimate_still_reports_and_reconciles_tokens) {
  rate_limiter limiter({tokens_limit({rate_scope::api_key}, 1000)});
  admission a = limiter.admit(req("sk-a", 0), t0);
  ASSERT_TRUE(a.tokens);
  EXPECT_EQ(a.tokens->remaining, 1000u);
  EXPECT_TRUE(a.pending());
  limiter.finish(a, 200, t0);
  EXPECT_EQ(limiter.admit(req("sk-a", 0), t0).tokens->remaining, 800u);
}

TEST(limiter, headers_carry_openai_values) {
  rate_limiter limiter({requests_limit({rate_scope::api_key}, 60), tokens_limit({}, 1000)});
  admission a = limiter.admit(req("sk-a", 10), t0);
  ASSERT_TRUE(a.allowed);
  boost::beast::http::fields f;
  apply_headers(a, f);
  EXPECT_EQ(f["x-ratelimit-limit-requests"], "60");
  EXPECT_EQ(f["x-ratelimit-remaining-requests"], "59");
  EXPECT_EQ(f["x-ratelimit-reset-requests"], "1s");
  EXPECT_EQ(f["x-ratelimit-limit-tokens"], "1000");
  EXPECT_EQ(f["x-ratelimit-remaining-tokens"], "990");
  EXPECT_EQ(f["x-ratelimit-reset-tokens"], "600ms");  // 10 tokens at 60 ms each
  EXPECT_EQ(f.count(boost::beast::http::field::retry_after), 0u);
  EXPECT_EQ(f.count("retry-after-ms"), 0u);
}

TEST(limiter, headers_come_from_the_most_constrained_limit) {
  rate_limiter limiter({requests_limit({}, 100), requests_limit({rate_scope::api_key}, 10)});
  admission a = limiter.admit(req("sk-a"), t0);
  ASSERT_TRUE(a.requests);
  EXPECT_EQ(a.requests->limit, 10u);
  EXPECT_EQ(a.requests->remaining, 9u);
  EXPECT_EQ(a.requests->reset, ns(6s));
}

TEST(limiter, refusal_sets_retry_after) {
  rate_limiter limiter({requests_limit({rate_scope::api_key}, 1)});
  ASSERT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  admission refused = limiter.admit(req("sk-a"), t0 + 15'000'000'000);
  ASSERT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.retryable);
  EXPECT_EQ(refused.retry_after, ns(45s));
  boost::beast::http::fields f;
  apply_headers(refused, f);
  EXPECT_EQ(f[boost::beast::http::field::retry_after], "45");
  EXPECT_EQ(f["retry-after-ms"], "45000");
  EXPECT_EQ(f["x-ratelimit-remaining-requests"], "0");
  EXPECT_EQ(f["x-ratelimit-reset-requests"], "45s");
}

TEST(limiter, sub_second_retry_after_is_at_least_one_second) {
  rate_limiter limiter({requests_limit({}, 10, 1s)});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  }
  admission refused = limiter.admit(req("sk-a"), t0);
  ASSERT_FALSE(refused.allowed);
  boost::beast::http::fields f;
  apply_headers(refused, f);
  EXPECT_EQ(f[boost::beast::http::field::retry_after], "1");
  EXPECT_EQ(f["retry-after-ms"], "100");
}

TEST(limiter, tokens_above_the_limit_are_not_retryable) {
  rate_limiter limiter({tokens_limit({}, 1000)});
  admission a = limiter.admit(req("sk-a", 5000), t0);
  EXPECT_FALSE(a.allowed);
  EXPECT_FALSE(a.retryable);
  EXPECT_EQ(a.retry_after, ns(1min));
}

TEST(limiter, concurrency_slot_is_held_until_finish) {
  rate_limiter limiter({concurrency_limit({rate_scope::api_key}, 1)});
  admission a = limiter.admit(req("sk-a"), t0);
  ASSERT_TRUE(a.allowed);
  EXPECT_TRUE(a.pending());
  admission refused = limiter.admit(req("sk-a"), t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, ns(1s));
  EXPECT_TRUE(limiter.admit(req("sk-b"), t0).allowed);
  limiter.finish(a, std::nullopt, t0);
  EXPECT_FALSE(a.pending());
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
}

TEST(limiter, admission_moves_and_is_released_once) {
  rate_limiter limiter({concurrency_limit({}, 1)});
  {
    admission a = limiter.admit(req("sk-a"), t0);
    admission b = std::move(a);
    EXPECT_FALSE(a.pending());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.pending());
    limiter.finish(a, std::nullopt, t0);  // nothing held: must not release b's slot
    EXPECT_FALSE(limiter.admit(req("sk-b"), t0).allowed);
  }  // b destroyed without finish: the slot comes back
  admission c = limiter.admit(req("sk-c"), t0);
  EXPECT_TRUE(c.allowed);
  c = admission{};  // assigning over c releases its slot
  EXPECT_TRUE(limiter.admit(req("sk-d"), t0).allowed);
}

// An admission keeps up to four charges and two concurrency tickets inline (no allocation per
// request); more limits spill to the heap and behave the same: refunds on refusal, reconciling
// on finish, release on move and destruction.
TEST(limiter, many_limits_beyond_the_inline_capacity_admit_refund_and_reconcile) {
  std::vector<rate_limit_config> limits;
  for (auto scope : {rate_scope::global, rate_scope::api_key, rate_scope::model}) {
    rate_limit_config c = tokens_limit({scope}, 1000);
    c.requests = 3;
    c.period = 1min;
    c.concurrent = 2;
    limits.push_back(c);
  }  // 6 charges and 3 tickets per request
  rate_limiter limiter(limits);
  admission a = limiter.admit(req("sk-a", 100), t0);
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.tokens->remaining, 900u);
  EXPECT_EQ(a.requests->remaining, 2u);
  admission moved = std::move(a);
  EXPECT_FALSE(a.pending());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  admission b = limiter.admit(req("sk-a", 100), t0);
  ASSERT_TRUE(b.allowed);
  EXPECT_EQ(b.tokens->remaining, 800u);
  // Two concurrent requests hold both slots of every limit: the third is refused, and what it
  // took from the limits before the refusing one is given back.
  admission refused = limiter.admit(req("sk-a", 100), t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.refused_scope_label, "global");
  EXPECT_EQ(refused.tokens->remaining, 800u);
  limiter.finish(moved, 10, t0);  // refunds 90 of every tokens limit, frees its slots
  limiter.finish(b, std::nullopt, t0);
  admission c = limiter.admit(req("sk-a", 100), t0);
  ASSERT_TRUE(c.allowed);
  EXPECT_EQ(c.tokens->remaining, 1000u - 10 - 100 - 100);
  EXPECT_EQ(c.requests->remaining, 0u);  // three requests taken (the refused one refunded)
}

rate_request batch_req(std::string_view api_key, std::uint64_t tokens = 0) {
  rate_request r = req(api_key, tokens);
  r.batch = true;
  return r;
}

TEST(limiter, batch_requests_leave_the_reserve_to_live_traffic) {
  rate_limiter limiter({requests_limit({rate_scope::api_key}, 10)});  // batch_reserve 0.2 = 2
  int batch = 0;
  for (int i = 0; i < 20 && limiter.admit(batch_req("sk-a"), t0).allowed; ++i) {
    ++batch;
  }
  EXPECT_EQ(batch, 8);
  admission refused = limiter.admit(batch_req("sk-a"), t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.retryable);
  EXPECT_GT(refused.retry_after, ns(0));
  // Live traffic still has its reserve.
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  EXPECT_TRUE(limiter.admit(req("sk-a"), t0).allowed);
  EXPECT_FALSE(limiter.admit(req("sk-a"), t0).allowed);
}

TEST(limiter, batch_reserve_applies_to_tokens_and_concurrency_too) {
  rate_limit_config tokens = tokens_limit({}, 1000);
  tokens.batch_reserve = 0.5;
  rate_limiter t({tokens});
  EXPECT_TRUE(t.admit(batch_req("k", 400), t0).allowed);
  EXPECT_FALSE(t.admit(batch_req("k", 200), t0).allowed);  // would leave 400 < 500
  EXPECT_TRUE(t.admit(req("k", 500), t0).allowed);

  rate_limiter c({concurrency_limit({}, 4)});  // 0.2 × 4 → one slot kept
  std::vector<admission> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(c.admit(batch_req("k"), t0));
    EXPECT_TRUE(held.back().allowed) << i;
  }
  EXPECT_FALSE(c.admit(batch_req("k"), t0).allowed);
  held.push_back(c.admit(req("k"), t0));
  EXPECT_TRUE(held.back().allowed);
}

TEST(limiter, cancel_gives_back_everything) {
  rate_limiter limiter({requests_limit({}, 2), tokens_limit({}, 100), concurrency_limit({}, 1)});
  admission a = limiter.admit(req("k", 60), t0);
  ASSERT_TRUE(a.allowed);
  limiter.cancel(a, t0);
  EXPECT_FALSE(a.pending());
  admission b = limiter.admit(req("k", 60), t0);
  ASSERT_TRUE(b.allowed);
  ASSERT_TRUE(b.requests && b.tokens);
  EXPECT_EQ(b.requests->remaining, 1u);
  EXPECT_EQ(b.tokens->remaining, 40u);
}

TEST(limiter, shared_modes_leave_rate_buckets_to_the_shared_limiter) {
  rate_limit_config shared = requests_limit({}, 1);
  shared.mode = rate_limit_mode::leased;
  rate_limit_config conc = concurrency_limit({}, 1);
  conc.mode = rate_limit_mode::exact;
  rate_limiter limiter({shared, conc});
  admission a = limiter.admit(req("k"), t0);
  EXPECT_TRUE(a.allowed);
  EXPECT_FALSE(a.requests);                           // not counted here
  EXPECT_FALSE(limiter.admit(req("k"), t0).allowed);  // but concurrency stays local
  limiter.finish(a, std::nullopt, t0);
  EXPECT_TRUE(limiter.admit(req("k"), t0).allowed);
}

TEST(limiter, estimate_tokens_counts_prompt_and_completion) {
  EXPECT_EQ(estimate_tokens(400, 50, 1), 150u);
  EXPECT_EQ(estimate_tokens(400, std::nullopt, 1), 356u);
  EXPECT_EQ(estimate_tokens(400, 50, 3), 250u);
  EXPECT_EQ(estimate_tokens(0, 10, 0), 11u);  // at least one prompt token, at least one choice
  EXPECT_EQ(estimate_tokens(8, UINT64_MAX, 2), UINT64_MAX);
}

}  // namespace
}  // namespace switchyard
