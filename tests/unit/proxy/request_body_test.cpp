#include "switchyard/proxy/request_body.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

result<request_fields> parse(endpoint ep, std::string body) {
  static simdjson::ondemand::parser parser;
  pad_for_simdjson(body);
  return parse_request_body(ep, parser, body);
}

TEST(request_body, reads_model_stream_and_include_usage) {
  auto r = parse(endpoint::chat_completions,
                 R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
                 R"("messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
}

TEST(request_body, null_stream_means_false) {
  auto r = parse(endpoint::chat_completions,
                 R"({"model":"m","stream":null,"stream_options":null,"messages":[{}]})");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->stream);
}

TEST(request_body, splice_keeps_every_other_byte) {
  std::string body =
      "{ \"messages\" : [{\"role\":\"user\",\"content\":\"model: \\\"x\\\"\"}],\n"
      "  \"model\"  :  \"gpt-4o\"  , \"temperature\": 0.70000000000000001, \"n\": 1e2 }";
  auto r = parse(endpoint::chat_completions, body);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  auto out = splice_model(body, *r, "upstream/model-\"v2\"");
  std::string expected =
      "{ \"messages\" : [{\"role\":\"user\",\"content\":\"model: \\\"x\\\"\"}],\n"
      "  \"model\"  :  \"upstream/model-\\\"v2\\\"\"  , \"temperature\": 0.70000000000000001, "
      "\"n\": 1e2 }";
  EXPECT_EQ(out, expected);
}

TEST(request_body, splice_of_an_escaped_model_name) {
  std::string body = R"({"model":"gpt\u002d4o","input":"x"})";
  auto r = parse(endpoint::embeddings, body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_EQ(splice_model(body, *r, "m"), R"({"model":"m","input":"x"})");
}

struct bad_case {
  endpoint ep;
  std::string body;
  std::string param;
  std::string message_part;
};

class request_body_errors : public ::testing::TestWithParam<bad_case> {};

TEST_P(request_body_errors, are_invalid_request_errors_naming_the_field) {
  const auto& c = GetParam();
  auto r = parse(c.ep, c.body);
  ASSERT_FALSE(r.has_value()) << c.body;
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_EQ(r.error().param, c.param);
  EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    cases, request_body_errors,
    ::testing::Values(
        bad_case{endpoint::chat_completions, "", "", "empty"},
        bad_case{endpoint::chat_completions, "{\"model\":", "", "could not parse the JSON"},
        bad_case{endpoint::chat_completions, "{\"model\":\"m\"} trailing", "",
                 "could not parse the JSON"},
        bad_case{endpoint::chat_completions, "[1,2]", "", "must be a JSON object"},
        bad_case{endpoint::chat_completions, R"({"messages":[{}]})", "model", "model"},
        bad_case{endpoint::chat_completions, R"({"model":4,"messages":[{}]})", "model",
                 "model must be a string, got a number"},
        bad_case{endpoint::chat_completions, R"({"model":"m"})", "messages", "messages"},
        bad_case{endpoint::chat_completions, R"({"model":"m","messages":"hi"})", "messages",
                 "messages must be an array, got a string"},
        bad_case{endpoint::chat_completions, R"({"model":"m","messages":[]})", "messages",
                 "at least one"},
        bad_case{endpoint::chat_completions, R"({"model":"m","messages":[{},3]})", "messages[1]",
                 "messages[1] must be an object"},
        bad_case{endpoint::chat_completions, R"({"model":"m","messages":[{}],"stream":"yes"})",
                 "stream", "stream must be a boolean"},
        bad_case{endpoint::chat_completions,
                 R"({"model":"m","messages":[{}],"stream_options":{"include_usage":1}})",
                 "stream_options.include_usage", "must be a boolean"},
        bad_case{endpoint::completions, R"({"model":"m"})", "prompt", "prompt"},
        bad_case{endpoint::completions, R"({"model":"m","prompt":{}})", "prompt",
                 "prompt must be a string or an array"},
        bad_case{endpoint::embeddings, R"({"model":"m","input":5})", "input",
                 "input must be a string or an array"}));

}  // namespace
}  // namespace switchyard
