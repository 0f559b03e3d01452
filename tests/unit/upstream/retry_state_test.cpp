// One request's retry state, on a fake clock: every "no" is named.
#include "switchyard/upstream/retry_state.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

const steady_clock::time_point t0 = steady_clock::time_point{} + 1h;

retry_config config(std::uint32_t attempts = 3) {
  retry_config c;
  c.max_attempts = attempts;
  c.base = 100ms;
  c.cap = 1000ms;
  return c;
}

breaker_config breaker_after(std::uint32_t failures) {
  breaker_config b;
  b.enabled = true;
  b.consecutive_failures = failures;
  b.failure_rate = 0;
  b.cooldown = 5000ms;
  b.max_cooldown = 60000ms;
  return b;
}

const error timeout = retryable(make_error(errc::upstream_timeout, "slow"));

TEST(retry_state, retries_until_the_attempts_are_spent) {
  auto cfg = config(3);
  retry_budget budget(100, 10);
  retry_state s(cfg, budget, t0 + 60s);
  s.start_target(nullptr);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s.allow(t0));
    s.begin_attempt();
    s.end_attempt();
    auto d = s.decide(timeout, std::nullopt, 0.5, t0);
    EXPECT_TRUE(d.retry);
    EXPECT_EQ(s.stopped(), retry_stop::none);
  }
  s.begin_attempt();
  s.end_attempt();
  auto d = s.decide(timeout, std::nullopt, 0.5, t0);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(s.stopped(), retry_stop::max_attempts);
  EXPECT_EQ(retry_stop_label(s.stopped()), "max_attempts");
  EXPECT_EQ(s.attempts(), 3u);
  EXPECT_EQ(s.retries(), 2u);
}

TEST(retry_state, a_failure_not_worth_repeating_stops_at_once) {
  auto cfg = config(3);
  retry_budget budget(100, 10);
  retry_state s(cfg, budget, t0 + 60s);
  s.start_target(nullptr);
  s.begin_attempt();
  EXPECT_FALSE(s.decide(make_error(errc::upstream_broken, "cut"), std::nullopt, 0.5, t0).retry);
  EXPECT_EQ(s.stopped(), retry_stop::not_retriable);
  EXPECT_FALSE(s.decide(upstream_answer(400, retry_mode::no), std::nullopt, 0.5, t0).retry);
}

TEST(retry_state, a_wait_past_the_deadline_is_not_taken) {
  auto cfg = config(5);
  cfg.max_retry_after = 60s;
  retry_budget budget(100, 10);
  retry_state s(cfg, budget, t0 + 2s);
  s.start_target(nullptr);
  s.begin_attempt();
  auto d = s.decide(upstream_answer(503, retry_mode::yes), 3000ms, 0.5, t0);  // retry-after: 3
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(s.stopped(), retry_stop::deadline);
  EXPECT_FALSE(s.past_deadline(t0 + 1s));
  EXPECT_TRUE(s.past_deadline(t0 + 2s));
}

TEST(retry_state, the_budget_slot_is_held_until_the_retried_attempt_ends) {
  auto cfg = config(5);
  retry_budget budget(0, 1);  // one retry at a time, process-wide
  retry_state a(cfg, budget, t0 + 60s);
  retry_state b(cfg, budget, t0 + 60s);
  EXPECT_EQ(budget.in_flight(), 2u);
  a.start_target(nullptr);
  b.start_target(nullptr);
  a.begin_attempt();
  a.end_attempt();
  ASSERT_TRUE(a.decide(timeout, std::nullopt, 0.5, t0).retry);
  EXPECT_EQ(budget.active_retries(), 1u);
  b.begin_attempt();
  b.end_attempt();
  EXPECT_FALSE(b.decide(timeout, std::nullopt, 0.5, t0).retry);
  EXPECT_EQ(b.stopped(), retry_stop::retry_budget);
  a.begin_attempt();  // the retry itself
  EXPECT_EQ(budget.active_retries(), 1u);
  a.end_attempt();
  EXPECT_EQ(budget.active_retries(), 0u);
  EXPECT_TRUE(b.decide(timeout, std::nullopt, 0.5, t0).retry);
}

TEST(retry_state, a_slot_left_unused_is_returned_on_the_next_target_or_at_the_end) {
  auto cfg = config(5);
  retry_budget budget(0, 1);
  {
    retry_state s(cfg, budget, t0 + 60s);
    s.start_target(nullptr);
    s.begin_attempt();
    s.end_attempt();
    ASSERT_TRUE(s.decide(timeout, std::nullopt, 0.5, t0).retry);
    s.start_target(nullptr);  // e.g. the breaker refused the retry: on to a fallback
    EXPECT_EQ(budget.active_retries(), 0u);
    s.begin_attempt();
    s.end_attempt();
    ASSERT_TRUE(s.decide(timeout, std::nullopt, 0.5, t0).retry);
  }
  EXPECT_EQ(budget.active_retries(), 0u);
  EXPECT_EQ(budget.in_flight(), 0u);
}

TEST(retry_state, the_breaker_is_recorded_once_per_attempt) {
  auto cfg = config(5);
  retry_budget budget(100, 10);
  circuit_breaker breaker(breaker_after(2));
  retry_state s(cfg, budget, t0 + 60s);
  s.start_target(&breaker);
  s.record(false, t0);  // before any attempt: ignored
  s.begin_attempt();
  s.record(false, t0);
  s.record(false, t0);  // the same attempt again: ignored
  EXPECT_EQ(breaker.current(0), breaker_state::closed);
  s.begin_attempt();
  s.record(false, t0);  // a second failed attempt: two in a row eject
  EXPECT_EQ(breaker.ejections(), 1u);
}

TEST(retry_state, a_success_recorded_early_is_not_overwritten) {
  auto cfg = config(5);
  retry_budget budget(100, 10);
  circuit_breaker breaker(breaker_after(1));
  retry_state s(cfg, budget, t0 + 60s);
  s.start_target(&breaker);
  s.begin_attempt();
  s.record(true, t0);   // the relay: the response started
  s.record(false, t0);  // the end of the attempt: already recorded
  EXPECT_EQ(breaker.ejections(), 0u);
}

TEST(retry_state, an_open_breaker_stops_the_target_as_ejected_with_its_wait) {
  auto cfg = config(5);
  retry_budget budget(100, 10);
  circuit_breaker breaker(breaker_after(1));
  const auto ns = [](steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  breaker.record(false, ns(t0));  // ejected for the 5 s cooldown
  retry_state s(cfg, budget, t0 + 60s);
  s.start_target(&breaker);
  EXPECT_FALSE(s.allow(t0 + 1s));
  EXPECT_EQ(s.stopped(), retry_stop::ejected);
  EXPECT_EQ(s.ejected_for(), 4s);
  EXPECT_TRUE(s.allow(t0 + 5s)) << "after the cooldown, the probe goes";
}

TEST(retry_state, stops_decided_elsewhere_are_named_too) {
  auto cfg = config();
  retry_budget budget(100, 10);
  retry_state s(cfg, budget, t0 + 60s);
  s.stop(retry_stop::client_gone);
  EXPECT_EQ(retry_stop_label(s.stopped()), "client_gone");
  s.stop(retry_stop::shutdown);
  EXPECT_EQ(retry_stop_label(s.stopped()), "shutdown");
}

}  // namespace
}  // namespace switchyard
