#include "switchyard/providers/anthropic_errors.hpp"

#include "anthropic_fixtures.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

namespace json = boost::json;

TEST(anthropic_errors, every_anthropic_type) {
  struct row {
    unsigned in;
    std::string_view type;
    unsigned out;
    std::string_view openai_type;
    bool retry;
  };
  for (const row& r : std::initializer_list<row>{
           {400, "invalid_request_error", 400, "invalid_request_error", false},
           {422, "invalid_request_error", 422, "invalid_request_error", false},
           {401, "authentication_error", 401, "invalid_request_error", false},
           {403, "permission_error", 403, "invalid_request_error", false},
           {404, "not_found_error", 404, "invalid_request_error", false},
           {413, "request_too_large", 413, "invalid_request_error", false},
           {402, "billing_error", 402, "insufficient_quota", false},
           {429, "rate_limit_error", 429, "requests", true},
           {500, "api_error", 500, "server_error", true},
           {504, "timeout_error", 504, "timeout", true},
           {529, "overloaded_error", 503, "server_error", true},
           {418, "teapot_error", 418, "invalid_request_error", false},
           {507, "new_server_error", 507, "server_error", true},
       }) {
    const std::string body = R"({"type":"error","error":{"type":")" + std::string(r.type) +
                             R"(","message":"why"},"request_id":"req_1"})";
    mapped_error m = map_anthropic_error(r.in, body);
    EXPECT_EQ(m.status, r.out) << r.type;
    EXPECT_EQ(m.retryable, r.retry) << r.type;
    EXPECT_EQ(m.anthropic_type, r.type);
    auto v = json::parse(m.body);
    EXPECT_EQ(v.at("error").at("type").as_string(), r.openai_type) << r.type;
    EXPECT_EQ(v.at("error").at("code").as_string(), r.type);
    EXPECT_EQ(v.at("error").at("message"), "why");
    EXPECT_TRUE(v.at("error").at("param").is_null());
  }
}

TEST(anthropic_errors, fixtures_from_the_sdk_and_docs) {
  auto overloaded =
      map_anthropic_error(529, test::anthropic_fixture("sdk_error_529_overloaded.json"));
  EXPECT_EQ(overloaded.status, 503u);
  EXPECT_TRUE(overloaded.retryable);
  EXPECT_EQ(overloaded.body, R"({"error":{"message":"Overloaded","type":"server_error",)"
                             R"("param":null,"code":"overloaded_error"}})");
  auto bad =
      map_anthropic_error(400, test::anthropic_fixture("sdk_error_400_invalid_request.json"));
  EXPECT_EQ(bad.status, 400u);
  EXPECT_FALSE(bad.retryable);
  auto missing = map_anthropic_error(404, test::anthropic_fixture("docs_error_404.json"));
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(json::parse(missing.body).at("error").at("message"),
            "The requested resource could not be found.");
}

TEST(anthropic_errors, bodies_that_are_not_anthropic_errors) {
  auto html = map_anthropic_error(502, test::anthropic_fixture("error_502_html.txt"));
  EXPECT_EQ(html.status, 502u);
  EXPECT_TRUE(html.retryable);
  EXPECT_EQ(html.anthropic_type, "");
  EXPECT_EQ(html.body, R"({"error":{"message":"upstream answered 502","type":"server_error",)"
                       R"("param":null,"code":null}})");
  EXPECT_EQ(map_anthropic_error(429, "").status, 429u);
  EXPECT_TRUE(map_anthropic_error(429, "").retryable);
  EXPECT_EQ(map_anthropic_error(200, "{}").status, 502u);  // "an error" with a success status
  EXPECT_EQ(map_anthropic_error(408, "[1]").retryable, true);
}

TEST(anthropic_errors, gateway_refusals_in_the_anthropic_shape) {
  struct row {
    errc code;
    std::string_view type;
  };
  for (const row& r : std::initializer_list<row>{
           {errc::invalid_request, "invalid_request_error"},
           {errc::model_not_found, "not_found_error"},
           {errc::not_found, "not_found_error"},
           {errc::method_not_allowed, "invalid_request_error"},
           {errc::body_too_large, "request_too_large"},
           {errc::rate_limited, "rate_limit_error"},
           {errc::over_token_limit, "rate_limit_error"},
           {errc::unauthorized, "authentication_error"},
           {errc::upstream_connect, "api_error"},
           {errc::upstream_timeout, "api_error"},
           {errc::upstream_busy, "overloaded_error"},
           {errc::shutting_down, "overloaded_error"},
           {errc::overloaded, "overloaded_error"},
           {errc::internal, "api_error"},
       }) {
    error e = make_error(r.code, "no \"way\"");
    EXPECT_EQ(anthropic_error_type(e), r.type) << static_cast<int>(r.code);
    auto v = json::parse(anthropic_error_body(e));
    EXPECT_EQ(v.at("type"), "error");
    EXPECT_EQ(v.at("error").at("type").as_string(), r.type);
    EXPECT_EQ(v.at("error").at("message"), "no \"way\"");
  }
  error relayed = upstream_answer(403, retry_mode::no);
  EXPECT_EQ(anthropic_error_type(relayed), "permission_error");
  EXPECT_EQ(anthropic_error_body(make_error(errc::rate_limited, "slow"), "req_9"),
            R"({"type":"error","error":{"type":"rate_limit_error","message":"slow"},)"
            R"("request_id":"req_9"})");
  EXPECT_EQ(anthropic_error_event(make_error(errc::internal, "x")),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
            "\"message\":\"x\"}}\n\n");
}

}  // namespace
}  // namespace switchyard
