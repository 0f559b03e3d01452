#include "switchyard/providers/anthropic_response.hpp"

#include "anthropic_fixtures.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

namespace json = boost::json;

chat_response translate(std::string_view body,
                        chat_response_context ctx = {.created = 1700000000}) {
  auto r = translate_messages_response(body, ctx);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : chat_response{};
}

TEST(anthropic_response, docs_text_message) {
  auto r = translate(test::anthropic_fixture("docs_message_text.json"));
  EXPECT_EQ(r.body, R"({"id":"chatcmpl-013Zva2CMHLNnXjNJJKqJ2EF","object":"chat.completion",)"
                    R"("created":1700000000,"model":"claude-sonnet-4-5","choices":[{"index":0,)"
                    R"("message":{"role":"assistant","content":"Hi! My name is Claude."},)"
                    R"("logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2095,)"
                    R"("completion_tokens":503,"total_tokens":2598,"prompt_tokens_details":)"
                    R"({"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0},)"
                    R"("cache_read_input_tokens":0,"cache_creation_input_tokens":0}})");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.input_tokens, 2095);
  EXPECT_EQ(r.usage.output_tokens, 503);
}

TEST(anthropic_response, sdk_tool_use_message) {
  auto r = translate(test::anthropic_fixture("sdk_message_tool_use.json"),
                     {.model = "claude-alias", .created = 5});
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("model"), "claude-alias");
  EXPECT_EQ(v.at("id"), "chatcmpl-012foMGXNQ1eqhaq3QvA5dY6");
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_EQ(choice.at("message").at("content"),
            "I'll use the test_tool with the value \"test\" as requested, then provide a final "
            "response.");
  EXPECT_EQ(choice.at("message").at("tool_calls"), json::parse(R"([{"id":
    "toolu_011LF2VkWpAfJnTKJcmh1PNf","type":"function","function":{"name":"test_tool",
    "arguments":"{\"value\":\"test\"}"}}])"));
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 415);
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 76);
}

TEST(anthropic_response, only_tool_calls_give_null_content) {
  auto r = translate(R"({"type":"message","id":"msg_1","model":"m","content":[{"type":"tool_use",
    "id":"t","name":"f","input":{"x":[1,{"y":null}]}}],"stop_reason":"tool_use",
    "usage":{"input_tokens":1,"output_tokens":2}})");
  auto v = json::parse(r.body);
  EXPECT_TRUE(v.at("choices").at(0).at("message").at("content").is_null());
  EXPECT_EQ(json::parse(v.at("choices")
                            .at(0)
                            .at("message")
                            .at("tool_calls")
                            .at(0)
                            .at("function")
                            .at("arguments")
                            .as_string()),
            json::parse(R"({"x":[1,{"y":null}]})"));
}

TEST(anthropic_response, thinking_and_cache_tokens) {
  auto r = translate(test::anthropic_fixture("docs_message_thinking.json"));
  auto v = json::parse(r.body);
  const auto& message = v.at("choices").at(0).at("message");
  EXPECT_EQ(message.at("content"), "Based on my analysis...");
  EXPECT_EQ(message.at("reasoning_content"), "Let me analyze this step by step...");
  ASSERT_EQ(message.at("thinking_blocks").as_array().size(), 2u);
  EXPECT_EQ(message.at("thinking_blocks").at(1).at("type"), "redacted_thinking");
  EXPECT_EQ(message.at("thinking_blocks").at(0).at("signature"),
            "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL....");
  const auto& usage = v.at("usage");
  EXPECT_EQ(usage.at("prompt_tokens"), 120 + 1000 + 30);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens"), 1000);
  EXPECT_EQ(usage.at("cache_creation_input_tokens"), 30);
  EXPECT_EQ(usage.at("total_tokens"), 1150 + 250);
  EXPECT_EQ(r.usage.openai().prompt_tokens, 1150);

  auto off = translate(test::anthropic_fixture("docs_message_thinking.json"), {.reasoning = false});
  EXPECT_FALSE(json::parse(off.body).at("choices").at(0).at("message").as_object().contains(
      "reasoning_content"));
}

TEST(anthropic_response, stop_reasons) {
  EXPECT_EQ(chat_finish_reason("end_turn"), "stop");
  EXPECT_EQ(chat_finish_reason("stop_sequence"), "stop");
  EXPECT_EQ(chat_finish_reason("pause_turn"), "stop");
  EXPECT_EQ(chat_finish_reason("max_tokens"), "length");
  EXPECT_EQ(chat_finish_reason("model_context_window_exceeded"), "length");
  EXPECT_EQ(chat_finish_reason("tool_use"), "tool_calls");
  EXPECT_EQ(chat_finish_reason("refusal"), "content_filter");
  EXPECT_EQ(chat_finish_reason("a_future_reason"), "stop");
}

TEST(anthropic_response, ids) {
  EXPECT_EQ(chat_completion_id("msg_abc"), "chatcmpl-abc");
  EXPECT_EQ(chat_completion_id("other"), "chatcmpl-other");
  EXPECT_EQ(chat_completion_id(""), "chatcmpl-anthropic");
}

TEST(anthropic_response, reordered_and_spaced_input_gives_the_same_body) {
  auto a = translate(test::anthropic_fixture("sdk_message_tool_use.json"));
  auto b = translate(R"( { "usage" : { "output_tokens" : 76 , "input_tokens" : 415 } ,
    "stop_reason" : "tool_use" , "content" : [ { "text" : "I'll use the test_tool with the value \"test\" as requested, then provide a final response." , "type" : "text" } ,
    { "input" : { "value" : "test" } , "name" : "test_tool" , "id" : "toolu_011LF2VkWpAfJnTKJcmh1PNf" , "type" : "tool_use" } ] ,
    "role" : "assistant" , "type" : "message" , "id" : "msg_012foMGXNQ1eqhaq3QvA5dY6" , "model" : "claude-opus-4-8" } )");
  EXPECT_EQ(a.body, b.body);
}

TEST(anthropic_response, absurd_counts_are_clamped_not_overflowed) {
  auto r = translate(R"({"type":"message","content":[],"usage":{"input_tokens":9223372036854775807,
    "cache_read_input_tokens":9223372036854775807,"cache_creation_input_tokens":-5,
    "output_tokens":9223372036854775807}})");
  EXPECT_EQ(r.usage.input_tokens, std::int64_t{1} << 48);
  EXPECT_EQ(r.usage.cache_creation_input_tokens, 0);
  EXPECT_EQ(r.usage.openai().total_tokens, 3 * (std::int64_t{1} << 48));
}

TEST(anthropic_response, malformed_bodies_are_upstream_errors) {
  for (std::string_view body :
       {"", "{", "[]", R"({"type":"error","error":{"type":"api_error","message":"x"}})",
        R"({"type":"message","content":"text"})", R"({"type":"message","content":[1]})",
        R"({"type":"message","content":[],"usage":{"input_tokens":1e999}})"}) {
    auto r = translate_messages_response(body, {});
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code, errc::upstream_broken) << body;
  }
}

}  // namespace
}  // namespace switchyard
