// An upstream's error answer as an attempt's outcome: retried, or the client's as it is.
#include "switchyard/proxy/attempt.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

upstream_header header(unsigned status) {
  upstream_header h;
  h.result(status);
  h.set(http::field::content_type, "application/json");
  return h;
}

TEST(attempt, error_answer_a_retriable_status_is_a_retry_carrying_the_answer_and_its_floor) {
  auto h = header(503);
  h.set("retry-after-ms", "1500");
  auto o = error_answer(h, R"({"error":{"message":"busy"}})", false, 11, json);
  auto* r = std::get_if<attempt_retry>(&o);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->err.code, errc::upstream_status);
  EXPECT_EQ(r->err.status, 503u);
  EXPECT_EQ(r->err.retry, retry_mode::yes);
  ASSERT_TRUE(r->answer);
  EXPECT_EQ(r->answer->result_int(), 503u);
  EXPECT_EQ(r->answer->body(), R"({"error":{"message":"busy"}})");
  EXPECT_EQ(r->retry_floor, std::chrono::milliseconds(1500));
}

TEST(attempt, error_answer_a_status_no_retry_changes_is_final_and_kept_as_sent) {
  auto o = error_answer(header(400), R"({"error":{"message":"bad"}})", false, 11, json);
  auto* f = std::get_if<attempt_final>(&o);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->answer.result_int(), 400u);
  EXPECT_EQ(f->err.retry, retry_mode::no);

  auto odd = error_answer(header(599), "{}", false, 11, json);  // a code Beast does not name
  ASSERT_TRUE(std::holds_alternative<attempt_final>(odd));
  EXPECT_EQ(std::get<attempt_final>(odd).answer.result_int(), 599u);
}

TEST(attempt, error_answer_a_429_for_an_exhausted_account_is_final_a_rate_limit_is_retried) {
  auto quota =
      error_answer(header(429), R"({"error":{"code":"insufficient_quota"}})", false, 11, json);
  EXPECT_TRUE(std::holds_alternative<attempt_final>(quota));
  auto limit =
      error_answer(header(429), R"({"error":{"code":"rate_limit_exceeded"}})", false, 11, json);
  EXPECT_TRUE(std::holds_alternative<attempt_retry>(limit));
}

TEST(attempt, error_answer_a_decoded_body_loses_its_content_encoding) {
  auto h = header(500);
  h.set(http::field::content_encoding, "gzip");
  auto o = error_answer(h, "{}", true, 11, json);
  auto& r = std::get<attempt_retry>(o);
  EXPECT_EQ(r.answer->find(http::field::content_encoding), r.answer->end());
  EXPECT_EQ(r.answer->body(), "{}");
}

}  // namespace
}  // namespace switchyard
