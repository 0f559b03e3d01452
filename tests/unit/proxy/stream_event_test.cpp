#include "switchyard/proxy/stream_event.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

event_facts classify(std::string s) {
  s.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  return classify_event(json, simdjson::padded_string_view(s.data(), s.size(), s.capacity()));
}

bool valid_json(std::string_view s) {
  boost::system::error_code ec;
  boost::json::parse(s, ec);
  return !ec;
}

TEST(stream_event, classify_event_content_is_output_whatever_the_spacing_and_order) {
  for (const char* s : {
           R"({"choices":[{"delta":{"content":"Hi"}}]})",
           R"({"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]})",
           "{\n  \"choices\": [\n    {\n      \"delta\": {\n        \"content\": \"Hi\"\n      }\n"
           "    }\n  ]\n}",
           R"({"id":"x","object":"chat.completion.chunk","choices":[{"finish_reason":null,)"
           R"("delta":{"role":null,"content":"Hi"},"index":0}],"unknown":{"nested":[1,2]}})",
           R"({"choices":[{"delta":{"cont\u0065nt":"\u0048i"}}]})",
       }) {
    auto f = classify(s);
    EXPECT_TRUE(f.object) << s;
    EXPECT_TRUE(f.output) << s;
    EXPECT_FALSE(f.keeps_hold()) << s;
  }
}

TEST(stream_event, classify_event_role_chunk_and_empty_values_are_not_output) {
  for (
      const char* s : {
          R"({"choices":[{"delta":{"role":"assistant","content":""}}]})",
          R"({"choices": [{"delta": {"role": "assistant", "content": null}, "finish_reason": null}]})",
          R"({"choices":[{"delta":{"tool_calls":[]}}]})",
          R"({"choices":[{"delta":{}}]})",
          R"({"choices":[],"prompt_filter_results":[{"prompt_index":0}]})",  // Azure's first
          R"({"choices":[{"text":"","finish_reason":null}]})",
      }) {
    auto f = classify(s);
    EXPECT_TRUE(f.object) << s;
    EXPECT_FALSE(f.output) << s;
    EXPECT_TRUE(f.keeps_hold()) << s;
  }
}

TEST(stream_event, classify_event_every_kind_of_output) {
  for (
      const char* s : {
          R"({"choices":[{"delta":{"reasoning_content":"Let me think"}}]})",
          R"({"choices":[{"delta":{"reasoning":"hmm"}}]})",
          R"({"choices":[{"delta":{"refusal":"I can't"}}]})",
          R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]}}]})",
          R"({"choices":[{"delta":{"function_call":{"name":"f"}}}]})",
          R"({"choices":[{"delta":{"audio":{"id":"a","data":"AAAA"}}}]})",
          R"({"choices":[{"delta":{},"finish_reason":"stop"}]})",
          R"({"choices":[{"text":"Hello","index":0}]})",  // completions
          R"({"choices":[{"message":{"content":"full"}}]})",
      }) {
    EXPECT_TRUE(classify(s).output) << s;
  }
}

TEST(stream_event, classify_event_output_in_any_of_n_choices) {
  auto f = classify(
      R"({"choices":[{"index":0,"delta":{"content":""}},{"index":1,"delta":{"content":"B"}}]})");
  EXPECT_TRUE(f.output);
  EXPECT_EQ(f.choice_count, 2u);
}

TEST(stream_event, classify_event_usage_in_any_position_and_groq) {
  auto f = classify(R"({"usage": {"total_tokens": 9, "completion_tokens": 4, "prompt_tokens": 5},)"
                    R"( "choices": []})");
  ASSERT_TRUE(f.usage);
  EXPECT_EQ(f.usage->prompt_tokens, 5);
  EXPECT_EQ(f.usage->completion_tokens, 4);
  EXPECT_TRUE(f.usage_only);
  auto g = classify(R"({"choices":[{"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r",)"
                    R"("usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}})");
  ASSERT_TRUE(g.usage);
  EXPECT_EQ(g.usage->total_tokens, 18);
  EXPECT_FALSE(g.usage_only);
  // Usage alongside output (vLLM's continuous usage) is not the usage-only chunk.
  auto v = classify(R"({"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}})");
  EXPECT_TRUE(v.usage);
  EXPECT_FALSE(v.usage_only);
}

TEST(stream_event, classify_event_text_that_says_usage_is_not_usage) {
  auto f = classify(
      R"({"choices":[{"delta":{"content":"\"usage\": {\"prompt_tokens\": 9}, \"choices\":[]"}}]})");
  EXPECT_FALSE(f.usage);
  EXPECT_FALSE(f.usage_only);
  EXPECT_TRUE(f.null_usage.empty());
}

TEST(stream_event, classify_event_errors_and_insufficient_quota) {
  auto f = classify(R"({"error": {"message": "x", "type": "insufficient_quota", "code": null}})");
  EXPECT_TRUE(f.error);
  EXPECT_TRUE(f.insufficient_quota);
  EXPECT_FALSE(f.keeps_hold());
  auto g = classify(R"({"error":{"code":"rate_limit_exceeded","message":"insufficient_quota"}})");
  EXPECT_TRUE(g.error);
  EXPECT_FALSE(g.insufficient_quota);
  EXPECT_FALSE(classify(R"({"error":null,"choices":[]})").error);
}

TEST(stream_event, classify_event_unparsable_or_odd_events_release_the_hold) {
  for (const char* s : {"not json", "{\"choices\":[", "[1,2]", "\"text\"",
                        R"({"type":"response.output_text.delta","delta":"x"})"}) {
    EXPECT_FALSE(classify(s).keeps_hold()) << s;
  }
}

TEST(stream_event, classify_event_removes_null_usage_by_member_offsets) {
  struct tc {
    const char* in;
    const char* out;
  };
  for (auto [in, out] : std::initializer_list<tc>{
           {R"({"id":"c","choices":[],"usage":null})", R"({"id":"c","choices":[]})"},
           {R"({"usage":null,"id":"c"})", R"({"id":"c"})"},
           {R"({"id": "c", "usage": null, "choices": []})", R"({"id": "c", "choices": []})"},
           {"{\n  \"usage\" : null ,\n  \"id\": 1\n}", "{\n  \"id\": 1\n}"},
           {R"({"usage":null})", R"({})"},
           {R"({"us\u0061ge":null,"x":"\"usage\":null"})", R"({"x":"\"usage\":null"})"},
       }) {
    std::string data = in;
    auto f = classify(data);
    ASSERT_EQ(f.null_usage.size(), 1u) << in;
    auto edited = without_null_usage(data, f);
    EXPECT_EQ(edited, out);
    EXPECT_TRUE(valid_json(edited)) << edited;
  }
}

TEST(stream_event, may_mention_usage_is_conservative) {
  EXPECT_TRUE(may_mention_usage(R"({"usage":null})"));
  EXPECT_TRUE(may_mention_usage(R"({"\u0075sage":null})"));
  EXPECT_FALSE(may_mention_usage(R"({"choices":[{"delta":{"content":"x"}}]})"));
  EXPECT_TRUE(may_count_tokens(R"({"usage":{"prompt_tokens":1}})"));
  EXPECT_TRUE(may_count_tokens(R"({"usage":{"prompt\u005ftokens":1}})"));
  EXPECT_FALSE(may_count_tokens(R"({"choices":[],"usage":null})"));
}

// Moved from retry_policy_test: the body half of "a 429 for an exhausted account is final".
TEST(stream_event, says_insufficient_quota_reads_the_error_object_not_the_words) {
  // As OpenAI sends it: pretty-printed, spaces after the colons.
  constexpr std::string_view quota = R"({
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": null,
        "code": "insufficient_quota"
    }
})";
  EXPECT_TRUE(says_insufficient_quota(json, quota));
  EXPECT_TRUE(says_insufficient_quota(json, R"({"error":{"code":"insufficient_quota"}})"));
  EXPECT_TRUE(says_insufficient_quota(json, R"({"error":{"type":"insufficient_quota"}})"));
  EXPECT_FALSE(says_insufficient_quota(json,
                                       R"({"error":{"message":"Rate limit reached",)"
                                       R"("type":"requests","code":"rate_limit_exceeded"}})"));
  // The words in a message are not the code.
  EXPECT_FALSE(says_insufficient_quota(
      json, R"({"error":{"message":"not \"insufficient_quota\" at all"}})"));
  // A real parse: a code outside the error object is not it; member order, spacing and escapes
  // do not matter, nor how far into the body the error object is.
  std::string late(5000, ' ');
  late += R"({"code":"insufficient_quota"})";
  EXPECT_FALSE(says_insufficient_quota(json, late));
  EXPECT_TRUE(
      says_insufficient_quota(json, R"({"padding":")" + std::string(8000, 'x') +
                                        R"(","error":{"c\u006fde" : "insufficient_quota"}})"));
  EXPECT_FALSE(says_insufficient_quota(json, "not json insufficient_quota"));
}

}  // namespace
}  // namespace switchyard
