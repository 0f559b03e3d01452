#include "switchyard/jobs/batch_line.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

namespace json = boost::json;

constexpr std::string_view chat = "/v1/chat/completions";

std::string code_of(std::string_view line, std::string_view endpoint = chat) {
  auto r = validate_batch_line(line, endpoint);
  return r ? "" : r.error().code;
}

TEST(batch_line, accepts_openai_example_in_any_member_order_and_spacing) {
  // The example line of OpenAI's Batch guide (platform.openai.com/docs/guides/batch).
  auto r = validate_batch_line(
      R"({"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-3.5-turbo-0125", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 1000}})",
      chat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->custom_id, "request-1");
  EXPECT_EQ(r->model, "gpt-3.5-turbo-0125");
  EXPECT_EQ(json::parse(r->body).at("max_tokens").as_int64(), 1000);
  auto reordered = validate_batch_line(
      "  {\"body\":{\"messages\":[],\"model\":\"m\"} ,\"url\":\"/v1/chat/completions\","
      "\n\"method\":\"POST\",\"custom_id\":\"x\\u0031\"}\r",
      chat);
  ASSERT_TRUE(reordered);
  EXPECT_EQ(reordered->custom_id, "x1");  // escapes decoded by the parser
}

TEST(batch_line, reports_each_problem_with_openai_codes) {
  EXPECT_EQ(code_of("not json"), "invalid_json_line");
  EXPECT_EQ(code_of("[1,2]"), "invalid_json_line");
  EXPECT_EQ(
      code_of(
          R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"})"),
      "invalid_json_line");  // truncated
  EXPECT_EQ(code_of(R"({"method":"POST","url":"/v1/chat/completions","body":{"model":"m"}})"),
            "missing_required_parameter");
  EXPECT_EQ(
      code_of(
          R"({"custom_id":"","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}})"),
      "invalid_value");
  EXPECT_EQ(
      code_of(
          R"({"custom_id":7,"method":"POST","url":"/v1/chat/completions","body":{"model":"m"}})"),
      "invalid_value");
  EXPECT_EQ(
      code_of(
          R"({"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{"model":"m"}})"),
      "invalid_method");
  EXPECT_EQ(
      code_of(R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m"}})"),
      "invalid_url");
  EXPECT_EQ(code_of(R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions"})"),
            "missing_required_parameter");
  EXPECT_EQ(code_of(R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":"x"})"),
            "invalid_value");
  EXPECT_EQ(code_of(R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}})"),
            "missing_required_parameter");
  EXPECT_EQ(
      code_of(
          R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","stream":true}})"),
      "invalid_value");
  auto e = validate_batch_line(
      R"({"custom_id":"a","method":"POST","url":"/v1/x","body":{"model":"m"}})", chat);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().param, "url");
}

TEST(batch_line, endpoints) {
  for (auto e : {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"}) {
    EXPECT_TRUE(valid_batch_endpoint(e)) << e;
  }
  EXPECT_FALSE(valid_batch_endpoint("/v1/messages"));
  EXPECT_FALSE(valid_batch_endpoint("/v1/chat/completions/"));
}

TEST(batch_line, output_and_error_lines_have_openai_shape) {
  auto out = json::parse(batch_output_line("batch_req_1", "c1", 200, "req_9",
                                           R"({"id":"chatcmpl-1","object":"chat.completion"})"));
  EXPECT_EQ(out.at("id").as_string(), "batch_req_1");
  EXPECT_EQ(out.at("custom_id").as_string(), "c1");
  EXPECT_EQ(out.at("response").at("status_code").as_int64(), 200);
  EXPECT_EQ(out.at("response").at("request_id").as_string(), "req_9");
  EXPECT_EQ(out.at("response").at("body").at("object").as_string(), "chat.completion");
  EXPECT_TRUE(out.at("error").is_null());
  auto text = json::parse(batch_output_line("i", "c", 502, "", "Bad gateway"));
  EXPECT_EQ(text.at("response").at("body").as_string(), "Bad gateway");
  auto err = json::parse(batch_error_line("i", "c", "batch_expired", "too late"));
  EXPECT_TRUE(err.at("response").is_null());
  EXPECT_EQ(err.at("error").at("code").as_string(), "batch_expired");
  EXPECT_EQ(err.at("error").at("message").as_string(), "too late");
}

TEST(batch_line, usage_from_each_dialect) {
  auto chat_u = usage_of(R"({"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}})");
  EXPECT_EQ(chat_u.input_tokens, 3u);
  EXPECT_EQ(chat_u.output_tokens, 5u);
  auto resp = usage_of(R"({"usage":{"input_tokens":2,"output_tokens":9}})");
  EXPECT_EQ(resp.input_tokens, 2u);
  EXPECT_EQ(resp.output_tokens, 9u);
  EXPECT_EQ(usage_of("nope").input_tokens, 0u);
  EXPECT_EQ(usage_of(R"({"usage":{"prompt_tokens":-4}})").input_tokens, 0u);
}

}  // namespace
}  // namespace switchyard
