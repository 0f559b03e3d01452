#include "switchyard/upstream/retry_policy.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

TEST(retry_policy, status_retry_mode_follows_the_retry_table) {
  for (unsigned s : {200U, 201U, 204U}) {
    EXPECT_EQ(status_retry_mode(s, false), retry_mode::no) << s;  // nothing to retry
  }
  for (unsigned s : {408U, 409U, 429U, 500U, 502U, 503U, 504U, 529U}) {
    EXPECT_EQ(status_retry_mode(s, false), retry_mode::yes) << s;
  }
  for (unsigned s :
       {100U, 301U, 304U, 400U, 401U, 403U, 404U, 405U, 413U, 422U, 451U, 501U, 505U, 599U, 0U}) {
    EXPECT_EQ(status_retry_mode(s, false), retry_mode::no) << s;
  }
}

TEST(retry_policy, status_retry_mode_insufficient_quota_429_is_final_rate_limit_429_is_retriable) {
  EXPECT_EQ(status_retry_mode(429, true), retry_mode::no);
  EXPECT_EQ(status_retry_mode(429, false), retry_mode::yes);
  // Only 429 carries the special case.
  EXPECT_EQ(status_retry_mode(503, true), retry_mode::yes);
}

TEST(retry_policy, classify_failure_the_retry_mode_travels_with_the_error) {
  EXPECT_EQ(make_error(errc::upstream_connect, "x").retry, retry_mode::no);
  EXPECT_EQ(retryable(make_error(errc::upstream_connect, "x")).retry, retry_mode::yes);
  EXPECT_EQ(upstream_answer(503, retry_mode::yes).retry, retry_mode::yes);
  EXPECT_EQ(upstream_answer(503, retry_mode::yes).source, error_source::upstream);
}

TEST(retry_policy, classify_failure_only_upstream_faults_count_against_the_breaker) {
  EXPECT_TRUE(upstream_fault(make_error(errc::upstream_connect, "x")));
  EXPECT_TRUE(upstream_fault(make_error(errc::upstream_timeout, "x")));
  EXPECT_TRUE(upstream_fault(upstream_answer(500, retry_mode::yes)));
  EXPECT_FALSE(upstream_fault(upstream_answer(429, retry_mode::yes)));
  EXPECT_FALSE(upstream_fault(make_error(errc::upstream_busy, "pool full")));  // our own limit
  EXPECT_FALSE(upstream_fault(make_error(errc::shutting_down, "x")));
}

TEST(retry_policy, classify_failure_labels_are_a_fixed_set) {
  EXPECT_EQ(reason_label(make_error(errc::upstream_connect, "")), "connect");
  EXPECT_EQ(reason_label(make_error(errc::upstream_busy, "")), "connect");
  EXPECT_EQ(reason_label(retryable(make_error(errc::upstream_broken, ""))), "reset");
  EXPECT_EQ(reason_label(make_error(errc::upstream_timeout, "")), "timeout");
  EXPECT_EQ(reason_label(make_error(errc::upstream_broken, "")), "broken");
  EXPECT_EQ(reason_label(upstream_answer(429, retry_mode::yes)), "429");
  EXPECT_EQ(reason_label(upstream_answer(529, retry_mode::yes)), "529");
  EXPECT_EQ(reason_label(upstream_answer(507, retry_mode::no)), "5xx");
  EXPECT_EQ(reason_label(upstream_answer(418, retry_mode::no)), "4xx");
  EXPECT_EQ(reason_label(upstream_answer(200, retry_mode::no)), "2xx");
  EXPECT_EQ(reason_label(upstream_answer(12345, retry_mode::no)), "other");
}

TEST(retry_policy, classify_failure_stop_labels_are_named) {
  EXPECT_EQ(retry_stop_label(retry_stop::none), "");
  for (auto s : {retry_stop::max_attempts, retry_stop::deadline, retry_stop::retry_budget,
                 retry_stop::not_retriable, retry_stop::client_gone, retry_stop::shutdown,
                 retry_stop::ejected}) {
    EXPECT_FALSE(retry_stop_label(s).empty());
  }
  EXPECT_EQ(retry_stop_label(retry_stop::max_attempts), "max_attempts");
}

const auto now = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21} + 7h + 28min;

TEST(retry_policy, parse_retry_after_retry_after_ms_wins_over_seconds) {
  EXPECT_EQ(parse_retry_after("1500", "20", now), milliseconds{1500});
  EXPECT_EQ(parse_retry_after("0", "20", now), milliseconds{0});
  // An unusable ms value falls back to retry-after, as the Stainless SDKs do.
  EXPECT_EQ(parse_retry_after("soon", "20", now), milliseconds{20'000});
  EXPECT_EQ(parse_retry_after("", "3", now), milliseconds{3000});
}

TEST(retry_policy, parse_retry_after_fractional_values_round_up) {
  EXPECT_EQ(parse_retry_after("", "1.5", now), milliseconds{1500});
  EXPECT_EQ(parse_retry_after("", " 0.25 ", now), milliseconds{250});
  EXPECT_EQ(parse_retry_after("12.1", "", now), milliseconds{13});
  EXPECT_EQ(parse_retry_after("", "0.0001", now), milliseconds{1});
}

TEST(retry_policy, parse_retry_after_http_date_is_relative_to_now) {
  EXPECT_EQ(parse_retry_after("", "Wed, 21 Oct 2015 07:28:05 GMT", now), milliseconds{5000});
  EXPECT_EQ(parse_retry_after("", "Thu, 22 Oct 2015 07:28:00 GMT", now), milliseconds{86'400'000});
  // Sub-second `now`: still rounded up, never undercut.
  EXPECT_EQ(parse_retry_after("", "Wed, 21 Oct 2015 07:28:05 GMT", now + 300ms),
            milliseconds{4700});
  EXPECT_EQ(parse_retry_after("", "Wed, 21 Oct 2015 07:28:00 GMT", now), milliseconds{0});
  EXPECT_EQ(parse_retry_after("", "Tue, 20 Oct 2015 07:28:00 GMT", now), milliseconds{0});
  EXPECT_EQ(parse_retry_after("", "Sun, 06 Nov 1994 08:49:37 GMT", now), milliseconds{0});
}

TEST(retry_policy, parse_retry_after_garbage_is_absent) {
  for (std::string_view bad :
       {"", "soon", "-1", "-0.5", "1s", "+3", "nan", "inf", "1e400", "0x10", "3 seconds",
        "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 31 Feb 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT", "Xyz, 21 Oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 2015 07:28 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"}) {
    EXPECT_EQ(parse_retry_after("", bad, now), std::nullopt) << bad;
    EXPECT_EQ(parse_retry_after(bad, "", now), std::nullopt) << bad;
  }
}

retry_config config_with(milliseconds base, milliseconds cap) {
  retry_config c;
  c.base = base;
  c.cap = cap;
  return c;
}

TEST(retry_policy, backoff_stays_within_full_jitter_bounds) {
  const retry_config c = config_with(250ms, 8000ms);
  for (std::uint32_t n = 0; n < 8; ++n) {
    const std::int64_t ceiling = std::min<std::int64_t>(8000, 250LL << n);
    milliseconds lo{ceiling};
    milliseconds hi{0};
    for (int i = 0; i < 1000; ++i) {
      const double u = i / 1000.0;
      const milliseconds w = full_jitter_backoff(n, c, u);
      EXPECT_GE(w.count(), 0);
      EXPECT_LT(w.count(), ceiling) << "retry " << n << " u " << u;
      lo = std::min(lo, w);
      hi = std::max(hi, w);
    }
    // The draw spreads over the whole interval, not one end of it.
    EXPECT_EQ(lo.count(), 0);
    EXPECT_GE(hi.count(), ceiling - ceiling / 100 - 1);
  }
}

TEST(retry_policy, backoff_cap_is_respected_and_u_near_one_stays_below_it) {
  const retry_config c = config_with(250ms, 8000ms);
  EXPECT_EQ(full_jitter_backoff(10, c, 0.5), 4000ms);
  EXPECT_EQ(full_jitter_backoff(10, c, 0.9999999999999999), 7999ms);
  EXPECT_EQ(full_jitter_backoff(10, c, 1.0), 7999ms);  // clamped into [0, 1)
  EXPECT_EQ(full_jitter_backoff(10, c, -3.0), 0ms);
  EXPECT_EQ(full_jitter_backoff(0, c, 0.5), 125ms);
  // A cap below the base is still the cap.
  EXPECT_EQ(full_jitter_backoff(0, config_with(1000ms, 100ms), 0.5), 50ms);
  EXPECT_EQ(full_jitter_backoff(3, config_with(0ms, 100ms), 0.5), 0ms);
}

TEST(retry_policy, backoff_huge_retry_index_does_not_overflow) {
  const retry_config c = config_with(250ms, 8000ms);
  for (std::uint32_t n : {30U, 31U, 32U, 61U, 62U, 63U, 64U, 1000U, 0xFFFF'FFFFU}) {
    const milliseconds w = full_jitter_backoff(n, c, 0.5);
    EXPECT_EQ(w, 4000ms) << n;
  }
  const retry_config huge = config_with(milliseconds{INT64_MAX / 4}, milliseconds{INT64_MAX});
  EXPECT_GE(full_jitter_backoff(5, huge, 0.5).count(), 0);
}

const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;

TEST(retry_policy, next_retry_stops_when_attempts_are_exhausted) {
  retry_config c = config_with(250ms, 8000ms);
  c.max_attempts = 3;
  EXPECT_TRUE(next_retry(1, c, std::nullopt, 0.5, t0, t0 + 60s).retry);
  EXPECT_TRUE(next_retry(2, c, std::nullopt, 0.5, t0, t0 + 60s).retry);
  const retry_decision d = next_retry(3, c, std::nullopt, 0.5, t0, t0 + 60s);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.why_not, retry_stop::max_attempts);
  c.max_attempts = 1;  // 1 = no retry
  EXPECT_FALSE(next_retry(1, c, std::nullopt, 0.5, t0, t0 + 60s).retry);
}

TEST(retry_policy, next_retry_backoff_grows_with_attempts) {
  retry_config c = config_with(250ms, 8000ms);
  c.max_attempts = 10;
  EXPECT_EQ(next_retry(1, c, std::nullopt, 0.5, t0, t0 + 60s).wait, 125ms);
  EXPECT_EQ(next_retry(2, c, std::nullopt, 0.5, t0, t0 + 60s).wait, 250ms);
  EXPECT_EQ(next_retry(3, c, std::nullopt, 0.5, t0, t0 + 60s).wait, 500ms);
}

TEST(retry_policy, next_retry_server_floor_raises_the_wait_and_is_capped) {
  retry_config c = config_with(250ms, 8000ms);
  c.max_retry_after = 20s;
  retry_decision d = next_retry(1, c, 1000ms, 0.5, t0, t0 + 60s);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.wait, 1000ms);
  EXPECT_EQ(d.why_not, retry_stop::none);
  // A floor below the backoff does not lower it.
  EXPECT_EQ(next_retry(2, c, 10ms, 0.5, t0, t0 + 60s).wait, 250ms);
  // An hour-long retry-after waits only max_retry_after.
  d = next_retry(1, c, 3'600'000ms, 0.5, t0, t0 + 60s);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.wait, 20s);
}

TEST(retry_policy, next_retry_a_wait_that_would_pass_the_deadline_is_not_taken) {
  retry_config c = config_with(250ms, 8000ms);
  c.max_retry_after = 60s;
  retry_decision d = next_retry(1, c, 5000ms, 0.5, t0, t0 + 4s);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.why_not, retry_stop::deadline);
  EXPECT_EQ(d.wait, 5000ms);
  EXPECT_FALSE(next_retry(1, c, 4000ms, 0.5, t0, t0 + 4s).retry);  // arriving at it is too late
  EXPECT_TRUE(next_retry(1, c, 3999ms, 0.5, t0, t0 + 4s).retry);
  EXPECT_FALSE(next_retry(1, c, std::nullopt, 0.0, t0 + 5s, t0 + 4s).retry);  // already past
}

TEST(retry_policy, retry_budget_share_of_in_flight_with_a_minimum) {
  retry_budget b(20, 3);
  for (int i = 0; i < 10; ++i) {
    b.request_started();
  }
  EXPECT_EQ(b.max_retries(), 3U);  // 20% of 10 is 2; the minimum is 3
  int granted = 0;
  while (b.try_start_retry()) {
    ++granted;
  }
  EXPECT_EQ(granted, 3);
  for (int i = 0; i < 90; ++i) {
    b.request_started();
  }
  EXPECT_EQ(b.in_flight(), 100U);
  EXPECT_EQ(b.max_retries(), 20U);
  while (b.try_start_retry()) {
    ++granted;
  }
  EXPECT_EQ(granted, 20);
  EXPECT_EQ(b.active_retries(), 20U);
  b.retry_finished();
  EXPECT_TRUE(b.try_start_retry());
  EXPECT_FALSE(b.try_start_retry());
}

TEST(retry_policy, retry_budget_racing_threads_get_exactly_the_free_slots) {
  retry_budget b(20, 3);
  for (int i = 0; i < 100; ++i) {
    b.request_started();
  }
  constexpr int threads = 8;
  std::latch start(threads);
  std::atomic<int> granted{0};
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 1000; ++i) {
        if (b.try_start_retry()) {
          granted.fetch_add(1);
        }
      }
    });
  }
  pool.clear();  // joins
  EXPECT_EQ(granted.load(), 20);
  EXPECT_EQ(b.active_retries(), 20U);
}

TEST(retry_policy, retry_budget_churning_threads_never_exceed_the_cap) {
  retry_budget b(20, 3);
  for (int i = 0; i < 100; ++i) {
    b.request_started();
  }
  constexpr int threads = 8;
  std::latch start(threads);
  std::atomic<int> granted{0};
  std::atomic<std::uint64_t> peak{0};
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 20'000; ++i) {
        if (b.try_start_retry()) {
          granted.fetch_add(1);
          std::uint64_t active = b.active_retries();
          std::uint64_t seen = peak.load();
          while (active > seen && !peak.compare_exchange_weak(seen, active)) {
          }
          if (i % 2 == 0) {
            b.retry_finished();  // keep slots churning so the race stays hot
          }
        }
      }
    });
  }
  pool.clear();
  EXPECT_LE(peak.load(), 20U);
  EXPECT_LE(b.active_retries(), 20U);
  EXPECT_GE(granted.load(), 20);
}

}  // namespace
}  // namespace switchyard
