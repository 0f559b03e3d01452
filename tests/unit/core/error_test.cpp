#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

TEST(error, error_mapping_statuses_follow_openai_and_rfc_9110) {
  EXPECT_EQ(describe(errc::invalid_request).status, http::status::bad_request);
  EXPECT_EQ(describe(errc::model_not_found).status, http::status::not_found);
  EXPECT_EQ(describe(errc::model_not_found).code, "model_not_found");
  EXPECT_EQ(describe(errc::body_too_large).status, http::status::payload_too_large);
  EXPECT_EQ(describe(errc::headers_too_large).status,
            http::status::request_header_fields_too_large);
  EXPECT_EQ(describe(errc::bad_framing).status, http::status::bad_request);
  EXPECT_TRUE(describe(errc::bad_framing).close_connection);
  EXPECT_EQ(describe(errc::upstream_connect).status, http::status::bad_gateway);
  EXPECT_EQ(describe(errc::upstream_timeout).status, http::status::gateway_timeout);
  EXPECT_EQ(describe(errc::internal).status, http::status::internal_server_error);
}

TEST(error, error_mapping_every_kind_maps_into_the_bounded_taxonomy) {
  const std::set<std::string_view> taxonomy = {
      "rate_limit",           "timeout", "invalid_request", "auth_error", "upstream_error",
      "upstream_unavailable", "internal"};
  std::set<std::string_view> codes;
  for (int i = 0; i <= static_cast<int>(errc::internal); ++i) {
    const auto& info = describe(static_cast<errc>(i));
    EXPECT_TRUE(taxonomy.count(info.error_type)) << info.error_type;
    if (!info.code.empty()) {
      EXPECT_TRUE(codes.insert(info.code).second) << "duplicate code " << info.code;
    }
  }
  EXPECT_EQ(describe(errc::rate_limited).status, http::status::too_many_requests);
  EXPECT_EQ(describe(errc::rate_limited).code, "rate_limit_exceeded");
  EXPECT_EQ(describe(errc::upstream_ejected).status, http::status::service_unavailable);
}

TEST(error, error_mapping_body_is_openai_shaped) {
  auto body =
      error_body(make_error(errc::invalid_request, "messages must be \"an\" array", "messages"));
  auto v = boost::json::parse(body);
  const auto& e = v.at("error");
  EXPECT_EQ(e.at("message").as_string(), "messages must be \"an\" array");
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("param").as_string(), "messages");
  EXPECT_TRUE(e.at("code").is_null());

  auto upstream = boost::json::parse(error_body(make_error(errc::upstream_timeout, "slow")));
  EXPECT_TRUE(upstream.at("error").at("param").is_null());
  EXPECT_EQ(upstream.at("error").at("code").as_string(), "upstream_timeout");
}

TEST(error, error_mapping_sse_error_event_is_one_data_line) {
  auto ev = error_event(make_error(errc::upstream_broken, "cut\nshort"));
  EXPECT_EQ(ev.rfind("data: {\"error\":", 0), 0u);
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
  EXPECT_EQ(ev.find('\n'), ev.size() - 2);  // the newline in the message is escaped
}

TEST(error, error_mapping_response_headers) {
  auto res = error_response(make_error(errc::invalid_request, "bad"), 11, true, "req_1");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_EQ(res["x-request-id"], "req_1");
  EXPECT_EQ(res["x-should-retry"], "false");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_TRUE(res.keep_alive());
  auto framing = error_response(make_error(errc::bad_framing, "smuggled"), 11, true, "req_2");
  EXPECT_FALSE(framing.keep_alive());
  auto timeout = error_response(make_error(errc::upstream_timeout, "slow"), 11, true, "req_3");
  EXPECT_EQ(timeout.count("x-should-retry"), 0u);
}

}  // namespace
}  // namespace switchyard
