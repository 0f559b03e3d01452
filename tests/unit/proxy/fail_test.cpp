// The one exit of a refused proxied request: status, body, headers and record from one error.
#include "switchyard/proxy/fail.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchyard {
namespace {

struct fixture {
  fixture() : req(http::verb::post, "/v1/chat/completions", 11), ctx{.req = req, .rec = rec} {
    rec.request_id = "req_7";
    model.retry.client_may_retry = false;
  }
  client_request req;
  access_record rec;
  request_context ctx;
  model_config model;
};

std::string code_of(const string_response& res) {
  return std::string(boost::json::parse(res.body()).at("error").at("code").as_string());
}

TEST(fail, sets_status_body_and_record_from_the_error) {
  fixture f;
  auto res = fail(f.ctx, make_error(errc::model_not_found, "no such model", "model"));
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(code_of(res), "model_not_found");
  EXPECT_EQ(res["x-request-id"], "req_7");
  EXPECT_EQ(res["x-should-retry"], "false");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(f.rec.status, 404u);
  EXPECT_EQ(f.rec.error, "invalid_request");
  EXPECT_EQ(f.rec.error_source, "downstream");
  EXPECT_EQ(res.find("x-switchyard-attempts"), res.end()) << "not forwarded: no attempt headers";
}

TEST(fail, closes_the_connection_when_draining_or_untrustworthy) {
  fixture f;
  std::atomic<bool> draining{true};
  f.ctx.draining = &draining;
  EXPECT_FALSE(fail(f.ctx, make_error(errc::model_not_found, "x")).keep_alive());
  draining = false;
  EXPECT_FALSE(fail(f.ctx, make_error(errc::shutting_down, "bye")).keep_alive());
  f.req.keep_alive(false);
  EXPECT_FALSE(fail(f.ctx, make_error(errc::model_not_found, "x")).keep_alive());
}

TEST(fail, a_rate_limit_carries_tags_and_limit_headers_and_its_retry_after) {
  fixture f;
  f.ctx.tags.set("x-switchyard-experiment", "tone");
  f.ctx.limit_headers.set("x-ratelimit-limit-requests", "1");
  f.ctx.limit_headers.set("Retry-After", "3");
  f.ctx.limit_headers.set("retry-after-ms", "2500");
  auto res = fail(f.ctx, make_error(errc::rate_limited, "slow down"));
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res["x-switchyard-experiment"], "tone");
  EXPECT_EQ(res["x-ratelimit-limit-requests"], "1");
  EXPECT_EQ(res[http::field::retry_after], "3");
  EXPECT_EQ(res.find("x-should-retry"), res.end());
  EXPECT_EQ(f.rec.error, "rate_limit");
}

TEST(fail, a_request_too_large_for_its_limit_is_not_told_to_wait) {
  fixture f;
  f.ctx.limit_headers.set("Retry-After", "60");
  f.ctx.limit_headers.set("retry-after-ms", "60000");
  auto res = fail(f.ctx, make_error(errc::over_token_limit, "too big"));
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res.find(http::field::retry_after), res.end());
  EXPECT_EQ(res.find("retry-after-ms"), res.end());
  EXPECT_EQ(res["x-should-retry"], "false");
}

TEST(fail, the_errors_wait_becomes_retry_after_rounded_up) {
  fixture f;
  auto e = make_error(errc::upstream_ejected, "all ejected");
  e.retry_after = std::chrono::milliseconds(1200);
  auto res = fail(f.ctx, e);
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(res[http::field::retry_after], "2");
  EXPECT_EQ(res["retry-after-ms"], "1200");
  EXPECT_EQ(f.rec.error, "upstream_unavailable");
  EXPECT_EQ(f.rec.error_source, "upstream");
}

TEST(fail, after_forwarding_the_attempt_headers_and_spent_retries_are_said) {
  fixture f;
  f.ctx.model = &f.model;
  f.ctx.forwarded = true;
  f.ctx.attempts = 3;
  f.ctx.fallback = "backup/m";
  f.ctx.tags.set("x-switchyard-variant", "control");
  auto res = fail(f.ctx, retryable(make_error(errc::upstream_timeout, "slow")));
  EXPECT_EQ(res.result_int(), 504u);
  EXPECT_EQ(res["x-switchyard-attempts"], "3");
  EXPECT_EQ(res["x-switchyard-fallback"], "backup/m");
  EXPECT_EQ(res["x-switchyard-variant"], "control");
  EXPECT_EQ(res["x-should-retry"], "false") << "the gateway already retried";
  EXPECT_EQ(f.rec.error, "timeout");

  f.model.retry.client_may_retry = true;
  auto again = fail(f.ctx, make_error(errc::upstream_timeout, "slow"));
  EXPECT_EQ(again.find("x-should-retry"), again.end()) << "the client may retry: not forbidden";
}

TEST(fail, an_upstream_answer_is_relayed_as_sent_and_labelled_by_its_status) {
  fixture f;
  f.ctx.model = &f.model;
  f.ctx.forwarded = true;
  f.ctx.attempts = 1;
  string_response answer{http::status::too_many_requests, 11};
  answer.set("retry-after", "7");
  answer.body() = R"({"error":{"message":"upstream says slow down"}})";
  answer.prepare_payload();
  auto res = fail(f.ctx, upstream_answer(429, retry_mode::yes), answer);
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res.body(), answer.body());
  EXPECT_EQ(res[http::field::retry_after], "7") << "the upstream's own wait is kept";
  EXPECT_EQ(res["x-switchyard-attempts"], "1");
  EXPECT_EQ(res.find("x-should-retry"), res.end()) << "one attempt: the client may retry";
  EXPECT_EQ(f.rec.status, 429u);
  EXPECT_EQ(f.rec.error, "rate_limit");
  EXPECT_EQ(f.rec.error_source, "upstream");

  string_response bad{http::status::bad_request, 11};
  bad.body() = "{}";
  fail(f.ctx, upstream_answer(400, retry_mode::no), bad);
  EXPECT_EQ(f.rec.error, "invalid_request");
  string_response down{static_cast<http::status>(529), 11};
  fail(f.ctx, upstream_answer(529, retry_mode::yes), down);
  EXPECT_EQ(f.rec.status, 529u);
  EXPECT_EQ(f.rec.error, "upstream_error");
}

}  // namespace
}  // namespace switchyard
