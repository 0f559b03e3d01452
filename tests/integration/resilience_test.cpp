// Retries, fallbacks, circuit breaking and rate limits as a client sees them.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <latch>

namespace switchyard::test {
namespace {

std::string yaml(const std::string& extra, const std::string& model_extra = "",
                 const std::string& upstream_extra = "") {
  return R"(
listen: 127.0.0.1:0
workers: 2
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1" )" +
         upstream_extra + R"( }
  - { name: backup, base_url: "http://127.0.0.1:{MOCK}/v1" }
models:
  - { name: gpt-4o-mini, upstream: mock, model: primary-model )" +
         model_extra + R"( }
log: { level: off, access: off }
)" + extra;
}

// The request ids let the mock fail only the first N tries of one request.
std::vector<std::pair<std::string, std::string>> fault(const std::string& f,
                                                       const std::string& id) {
  return {{"x-mock-fault", f}, {"x-request-id", id}};
}

TEST(retries, a_429_with_retry_after_is_waited_out_and_the_client_sees_one_200) {
  rig r(yaml("retry: { base: 10ms, cap: 50ms }\n"));
  client c(r.port());
  auto start = steady_clock::now();
  auto res =
      c.post("/v1/chat/completions", chat_body, fault("status=429;retry_after=1;times=1", "r429"));
  auto took = steady_clock::now() - start;
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-attempts"), "2");
  EXPECT_GE(took, 1s) << "retry-after is a floor for the wait";
  EXPECT_LT(took, 3s);
  EXPECT_EQ(r.upstream().counters().requests.load(), 2u);
}

TEST(retries, three_503s_then_success) {
  rig r(yaml("retry: { max_attempts: 4, base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, fault("status=503;times=3", "r503"));
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-attempts"), "4");
  EXPECT_EQ(r.upstream().counters().requests.load(), 4u);
}

TEST(retries, attempts_exhausted_returns_the_upstreams_last_answer) {
  rig r(yaml("retry: { max_attempts: 3, base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, fault("status=503", "r503x"));
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(res.header("x-switchyard-attempts"), "3");
  EXPECT_EQ(boost::json::parse(res.body).at("error").at("type").as_string(), "server_error");
}

TEST(retries, reset_before_headers_is_retried) {
  rig r(yaml("retry: { base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, fault("reset;times=1", "rreset"));
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-attempts"), "2");
}

TEST(retries, a_400_is_tried_exactly_once) {
  rig r(yaml("retry: { base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, fault("status=400", "r400"));
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.header("x-switchyard-attempts"), "1");
  EXPECT_EQ(r.upstream().counters().requests.load(), 1u);
}

TEST(retries, stream_failing_before_content_is_retried_invisibly) {
  rig r(yaml("retry: { base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  // cut_after=0: headers and the role chunk, then the connection drops — no content yet.
  auto head =
      c.start_stream("/v1/chat/completions", stream_body, fault("cut_after=0;times=1", "rcut0"));
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("x-switchyard-attempts"), "2");
  std::vector<std::string> events;
  while (auto e = c.next_event()) {
    events.push_back(*e);
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) {
    EXPECT_EQ(e.find("\"error\""), std::string::npos);
  }
}

TEST(retries, stream_cut_after_content_is_an_error_event_not_a_retry) {
  rig r(yaml("retry: { base: 5ms, cap: 20ms }\n"));
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", stream_body, fault("cut_after=3", "rcut3"));
  ASSERT_EQ(head.status, 200u);
  std::string last;
  while (auto e = c.next_event()) {
    last = *e;
  }
  EXPECT_NE(last.find("\"error\""), std::string::npos);
  EXPECT_EQ(r.upstream().counters().requests.load(), 1u);
}

TEST(fallbacks, used_when_the_primary_keeps_failing) {
  rig r(yaml("retry: { max_attempts: 2, base: 5ms, cap: 20ms }\n",
             ", fallbacks: [ { upstream: backup, model: backup-model } ]"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, fault("status=502;times=2", "rfb"));
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-attempts"), "3");
  EXPECT_EQ(res.header("x-switchyard-fallback"), "backup/backup-model");
  EXPECT_EQ(boost::json::parse(r.upstream().last_request().body).at("model").as_string(),
            "backup-model");
}

TEST(breaker, opens_after_consecutive_failures_and_recovers) {
  rig r(yaml("retry: { max_attempts: 1 }\n", "",
             ", breaker: { consecutive_failures: 2, cooldown: 200ms, max_cooldown: 1s }"));
  client c(r.port());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(
        c.post("/v1/chat/completions", chat_body, fault("status=500", "rbrk" + std::to_string(i)))
            .status,
        500u);
  }
  auto fast = c.post("/v1/chat/completions", chat_body);
  EXPECT_EQ(fast.status, 503u) << fast.body;
  EXPECT_EQ(boost::json::parse(fast.body).at("error").at("type").as_string(),
            "upstream_unavailable");
  EXPECT_FALSE(fast.header("retry-after").empty());
  EXPECT_FALSE(fast.header("retry-after-ms").empty());
  EXPECT_EQ(r.upstream().counters().requests.load(), 2u) << "ejected: no upstream call";
  // After the cooldown a probe goes through and closes the breaker.
  EXPECT_TRUE(
      eventually([&] { return c.post("/v1/chat/completions", chat_body).status == 200u; }, 3s));
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
}

TEST(retry_budget, caps_amplification_when_half_the_calls_fail) {
  rig r(
      yaml("retry: { max_attempts: 3, base: 20ms, cap: 40ms, budget_percent: 10, "
           "budget_min: 1 }\n",
           "", ", max_connections: 64, breaker: { enabled: false }"));
  constexpr int threads = 16;
  constexpr int per_thread = 40;
  std::vector<std::thread> pool;
  std::latch go(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      client c(r.port());
      go.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        std::vector<std::pair<std::string, std::string>> h;
        if (i % 2 == 0) {
          h = {{"x-mock-fault", "status=503"}};
        }
        c.post("/v1/chat/completions", chat_body, h);
      }
      (void)t;
    });
  }
  for (auto& th : pool) {
    th.join();
  }
  double calls = static_cast<double>(r.upstream().counters().requests.load());
  double amplification = calls / (threads * per_thread);
  EXPECT_LE(amplification, 1.2) << calls << " upstream calls";
  EXPECT_GT(amplification, 1.0) << "some retries still happen";
}

TEST(rate_limits, exact_across_workers_with_openai_headers) {
  rig r(yaml("rate_limits: [ { scope: global, requests_per_minute: 20 } ]\n"));
  constexpr int clients = 21;
  std::vector<std::thread> pool;
  std::latch go(clients);
  std::atomic<int> ok{0}, limited{0};
  std::vector<response> refused(clients);
  for (int t = 0; t < clients; ++t) {
    pool.emplace_back([&, t] {
      client c(r.port());
      go.arrive_and_wait();
      auto res = c.post("/v1/chat/completions", chat_body);
      if (res.status == 200u) {
        ++ok;
        EXPECT_EQ(res.header("x-ratelimit-limit-requests"), "20");
      } else if (res.status == 429u) {
        ++limited;
        refused[static_cast<std::size_t>(t)] = res;
      }
    });
  }
  for (auto& th : pool) {
    th.join();
  }
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(limited.load(), 1);
  for (const auto& res : refused) {
    if (res.status != 429u) {
      continue;
    }
    auto e = boost::json::parse(res.body).at("error");
    EXPECT_EQ(e.at("code").as_string(), "rate_limit_exceeded");
    EXPECT_EQ(res.header("x-ratelimit-remaining-requests"), "0");
    EXPECT_FALSE(res.header("x-ratelimit-reset-requests").empty());
    auto after = std::stoi(res.header("retry-after"));
    EXPECT_GE(after, 1);
    EXPECT_LE(after, 4);  // one slot frees every 3 s
    EXPECT_FALSE(res.header("retry-after-ms").empty());
  }
  EXPECT_EQ(r.upstream().counters().requests.load(), 20u);
}

TEST(rate_limits, per_api_key_buckets_are_independent) {
  rig r(yaml("rate_limits: [ { scope: api_key, requests_per_minute: 2 } ]\n"));
  client c(r.port());
  auto as = [&](const std::string& key) {
    return c.post("/v1/chat/completions", chat_body, {{"authorization", "Bearer " + key}});
  };
  EXPECT_EQ(as("sk-a").status, 200u);
  auto second = as("sk-a");
  EXPECT_EQ(second.status, 200u);
  EXPECT_EQ(second.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(as("sk-a").status, 429u);
  EXPECT_EQ(as("sk-b").status, 200u);
}

TEST(rate_limits, token_reservation_is_reconciled_with_real_usage) {
  rig r(yaml("rate_limits: [ { scope: global, tokens_per_minute: 100000 } ]\n"));
  client c(r.port());
  std::string body =
      R"({"model":"gpt-4o-mini","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]})";
  auto start = steady_clock::now();
  auto first = c.post("/v1/chat/completions", body);
  ASSERT_EQ(first.status, 200u);
  auto reserved_left = std::stoll(first.header("x-ratelimit-remaining-tokens"));
  EXPECT_LE(reserved_left, 100000 - 5000) << "max_tokens is reserved up front";
  const auto estimate = 100000 - reserved_left;  // what one reservation costs
  auto used = boost::json::parse(first.body).at("usage").at("total_tokens").as_int64();
  ASSERT_LT(used, estimate / 10);
  auto second = c.post("/v1/chat/completions", body);
  ASSERT_EQ(second.status, 200u);
  auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - start).count();
  auto left = std::stoll(second.header("x-ratelimit-remaining-tokens"));
  // After the first answer only its real usage stays charged; the second reserves its estimate.
  // The bucket also refills 100000/60000 tokens per ms between the two admissions.
  const auto expected = 100000 - used - estimate;
  const auto refill = elapsed_ms * 100000 / 60000 + 2;
  EXPECT_GE(left, expected - 1);
  EXPECT_LE(left, expected + refill);
  EXPECT_GT(left, 100000 - 2 * estimate + refill) << "without reconciliation both estimates stay";
}

TEST(rate_limits, a_request_that_can_never_fit_says_do_not_retry) {
  rig r(yaml("rate_limits: [ { scope: global, tokens_per_minute: 1000 } ]\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"gpt-4o-mini","max_tokens":5000,"messages":[{}]})");
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(res.header("x-should-retry"), "false");
  EXPECT_EQ(res.header("retry-after"), "") << "no wait makes it fit";
  EXPECT_EQ(boost::json::parse(res.body).at("error").at("code").as_string(),
            "request_too_large_for_limit");
}

}  // namespace
}  // namespace switchyard::test
