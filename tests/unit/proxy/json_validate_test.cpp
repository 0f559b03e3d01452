#include "switchyard/proxy/json_validate.hpp"
#include "switchyard/proxy/request_body.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

result<void> check(std::string body) {
  pad_for_simdjson(body);
  return validate_json_body(body);
}

result<request_fields> parse(std::string body) {
  static simdjson::ondemand::parser parser;
  pad_for_simdjson(body);
  return parse_request_body(endpoint::chat_completions, parser, body);
}

constexpr std::string_view messages = R"("messages":[{"role":"user","content":"hi"}])";

TEST(json_validate, accepts_valid_documents) {
  EXPECT_TRUE(check(R"({"a":1,"b":[1,2,{"c":null}],"d":"\u00e9\ud83d\ude00","e":-0.5e+3})"));
  EXPECT_TRUE(check(" {\"a\" : true } \n"));
}

// Errors in members the gateway never reads must still be caught (the issue's examples).
TEST(json_validate, rejects_errors_in_members_nobody_reads) {
  for (std::string bad :
       {R"({"model":"m",)" + std::string(messages) + R"(,"temperature": tru})",
        std::string(R"({"a" 1})"), std::string(R"({"x": 01.})"), std::string(R"({"x": 01})"),
        std::string(R"({"x": 1.})"), std::string(R"({"x": .5})"), std::string(R"({"x": [1,]})"),
        std::string(R"({"x": 1,})"), std::string(R"({"x": "a\qb"})"),
        std::string("{\"x\": \"a\tb\"}"), std::string(R"({"x": 1} {})"),
        std::string(R"({"x": NaN})"), std::string("{\"x\": \"\xff\"}"),
        std::string(R"({'x': 1})")}) {
    auto r = check(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, errc::invalid_request);
    EXPECT_NE(r.error().message.find("could not parse the JSON body"), std::string::npos);
  }
}

TEST(json_validate, says_what_is_wrong) {
  EXPECT_NE(check(R"({"t": tru})").error().message.find("literal"), std::string::npos);
  EXPECT_NE(check(R"({"t": 01.})").error().message.find("number"), std::string::npos);
}

TEST(json_validate, duplicate_keys_are_named) {
  auto r = check(R"({"model":"unlisted","model":"evil"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "model");
  EXPECT_NE(r.error().message.find("`model`"), std::string::npos);

  r = check(R"({"stream_options":{"include_usage":true,"include_usage":false}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "stream_options.include_usage");

  r = check(R"({"messages":[{"role":"user"},{"role":"system","content":"a","role":"user"}]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "messages[1].role");

  // An escaped spelling is the same key once unescaped.
  r = check(R"({"model":"a","mod\u0065l":"b"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "model");
}

TEST(json_validate, large_objects_use_the_sorted_check) {
  std::string body = "{";
  for (int i = 0; i < 100; ++i) {
    body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  EXPECT_TRUE(check(body + "\"end\":0}"));
  EXPECT_EQ(check(body + "\"k57\":0}").error().param, "k57");
}

TEST(json_validate, the_request_parser_applies_it) {
  auto r = parse(R"({"model":"a",)" + std::string(messages) + R"(,"model":"b"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "model");
  r = parse(R"({"model":"a",)" + std::string(messages) + R"(,"top_p": 1.e})");
  ASSERT_FALSE(r);
  EXPECT_EQ(describe(r.error().code).status, boost::beast::http::status::bad_request);
  for (const char* key : {"stream", "stream_options", "user", "metadata", "messages"}) {
    std::string v = std::string(key) == "messages" ? "[{}]" : "null";
    auto d = parse(R"({"model":"a",)" + std::string(messages) + ",\"" + key + "\":" + v + ",\"" +
                   key + "\":" + v + "}");
    ASSERT_FALSE(d) << key;
    EXPECT_EQ(d.error().param, key);
  }
}

}  // namespace
}  // namespace switchyard
