#include "switchyard/log/access_log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace switchyard {
namespace {

TEST(access_log, one_json_object_with_the_request_facts) {
  access_record r;
  r.request_id = "req_\"1";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.endpoint = "chat_completions";
  r.model = "gpt-4o";
  r.upstream = "openai";
  r.status = 200;
  r.stream = true;
  r.duration_ms = 12.5;
  r.ttfb_ms = 3.25;
  r.bytes_in = 100;
  r.bytes_out = 2000;
  r.usage = token_usage{10, 20, 30};
  auto line = format_access_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("request_id").as_string(), "req_\"1");
  EXPECT_EQ(v.at("endpoint").as_string(), "chat_completions");
  EXPECT_EQ(v.at("model").as_string(), "gpt-4o");
  EXPECT_EQ(v.at("upstream").as_string(), "openai");
  EXPECT_EQ(v.at("status").as_int64(), 200);
  EXPECT_TRUE(v.at("stream").as_bool());
  EXPECT_DOUBLE_EQ(v.at("duration_ms").as_double(), 12.5);
  EXPECT_DOUBLE_EQ(v.at("ttfb_ms").as_double(), 3.25);
  EXPECT_EQ(v.at("bytes_out").as_int64(), 2000);
  EXPECT_EQ(v.at("completion_tokens").as_int64(), 20);
  EXPECT_TRUE(v.contains("ts"));
}

// A record with only what every request has.
access_record answered(std::string_view method, std::string_view path) {
  access_record r;
  r.request_id = "r";
  r.method = method;
  r.path = path;
  r.status = 200;
  return r;
}

TEST(access_log, omits_what_did_not_happen) {
  const access_record r = answered("GET", "/healthz");
  auto v = boost::json::parse(format_access_line(r)).as_object();
  EXPECT_FALSE(v.contains("ttfb_ms"));
  EXPECT_FALSE(v.contains("upstream"));
  EXPECT_FALSE(v.contains("prompt_tokens"));
}

TEST(access_log, numbers_keep_their_format_and_the_line_stays_json_for_any_value) {
  access_record r = answered("POST", "/v1/chat/completions");
  r.duration_ms = 0.0125;  // three decimals, rounded
  r.ttfb_ms = 1234567.25;
  r.ttft_ms = 0;
  r.cost_usd = 0.000123456789;  // nine significant digits
  r.bytes_out = 18446744073709551615u;
  const auto line = format_access_line(r);
  EXPECT_NE(line.find("\"duration_ms\":0.013,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"ttfb_ms\":1234567.250,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"ttft_ms\":0.000"), std::string::npos) << line;
  EXPECT_NE(line.find("\"cost_usd\":0.000123456789"), std::string::npos) << line;
  EXPECT_EQ(boost::json::parse(line).at("bytes_out").as_uint64(), 18446744073709551615u);

  // No clock gives these, but a line must never be broken JSON or carry stray bytes.
  r.duration_ms = std::numeric_limits<double>::quiet_NaN();
  r.ttfb_ms = 1e300;  // wider than the formatting buffer in fixed notation
  r.ttft_ms = std::numeric_limits<double>::infinity();
  r.cost_usd = std::numeric_limits<double>::infinity();
  auto v = boost::json::parse(format_access_line(r)).as_object();
  EXPECT_TRUE(v.at("duration_ms").is_null());
  EXPECT_TRUE(v.at("ttfb_ms").is_null());
  EXPECT_TRUE(v.at("ttft_ms").is_null());
  EXPECT_TRUE(v.at("cost_usd").is_null());
}

}  // namespace
}  // namespace switchyard
