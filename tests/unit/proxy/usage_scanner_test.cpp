#include "switchyard/proxy/usage_scanner.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

std::optional<token_usage> scan(std::string_view body, std::size_t piece) {
  usage_scanner s;
  for (std::size_t i = 0; i < body.size(); i += piece) {
    s.feed(body.substr(i, piece));
  }
  return s.finish(json);
}

TEST(usage_scanner, finds_usage_anywhere_at_any_split) {
  const std::string big(100000, 'x');
  for (
      const std::string& body : {
          R"({"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7},"choices":[{"message":{"content":")" +
              big + R"("}}]})",
          R"({"id":"a","choices":[{"message":{"content":")" + big +
              R"("}}],"usage": {"prompt_tokens": 3, "completion_tokens": 4}})",
          "{\n  \"prompt_logprobs\": [" + std::string(20000, '1') +
              "],\n  \"usage\" : {\n    \"completion_tokens\" : 4,\n    \"prompt_tokens\" : 3\n  "
              "}\n}",
      }) {
    for (std::size_t piece : {1u, 7u, 4096u, 1u << 20}) {
      auto u = scan(body, piece);
      ASSERT_TRUE(u) << piece;
      EXPECT_EQ(u->prompt_tokens, 3);
      EXPECT_EQ(u->completion_tokens, 4);
      EXPECT_EQ(u->total_tokens, 7);
    }
  }
}

TEST(usage_scanner, nested_or_quoted_usage_is_not_it) {
  EXPECT_FALSE(scan(R"({"choices":[{"usage":{"prompt_tokens":1}}]})", 3));
  EXPECT_FALSE(scan(R"({"content":"\"usage\":{\"prompt_tokens\":1}"})", 3));
  EXPECT_FALSE(scan(R"({"usage":null})", 2));
  EXPECT_FALSE(scan(R"({"usage":{"prompt_tokens":1)", 2));  // truncated
  EXPECT_FALSE(scan("[1,2,3]", 2));
}

TEST(usage_scanner, escaped_member_name_and_strings_with_braces) {
  auto u = scan(R"({"a":"}{\"\\","us\u0061ge":{"prompt_tokens":2,"note":"}"}})", 1);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 2);
}

TEST(usage_scanner, embeddings_usage) {
  auto u = scan(
      R"({"object":"list","data":[{"embedding":[0.1,-0.2e-3]}],"usage":{"prompt_tokens":5,"total_tokens":5}})",
      5);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->total_tokens, 5);
}

// Member names are kept inline up to 65 bytes: a long name (or a long one that starts like
// "usage") is not `usage`, one of exactly 64 bytes with an escape is still compared, and the
// last of two `usage` members wins.
TEST(usage_scanner, long_member_names_and_repeated_usage) {
  const std::string long_name(200, 'u');
  EXPECT_FALSE(scan(R"({")" + long_name + R"(":{"prompt_tokens":1}})", 7));
  EXPECT_FALSE(scan(R"({"usage)" + long_name + R"(":{"prompt_tokens":1}})", 3));
  const std::string padded_escape = "us\\u0061ge";  // 10 bytes; `usage` once unescaped
  auto u = scan(R"({")" + padded_escape + R"(":{"prompt_tokens":6}})", 2);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 6);
  u = scan(R"({"usage":{"prompt_tokens":1},"x":1,"usage":{"prompt_tokens":2}})", 4);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 2);
}

// Scanners one after another on a thread reuse the buffers of the ones before (recycled
// strings): the results do not depend on what a buffer held before.
TEST(usage_scanner, scanners_in_sequence_reuse_buffers_and_agree) {
  const std::string big_usage = R"({"usage":{"prompt_tokens":3,"completion_tokens":4,"details":")" +
                                std::string(3000, 'd') + R"("},"id":"x"})";
  const std::string small_usage = R"({"id":"y","usage":{"prompt_tokens":9}})";
  for (int i = 0; i < 4; ++i) {
    auto big = scan(big_usage, 100);
    ASSERT_TRUE(big);
    EXPECT_EQ(big->total_tokens, 7);
    auto small = scan(small_usage, 3);
    ASSERT_TRUE(small);
    EXPECT_EQ(small->prompt_tokens, 9);
    EXPECT_EQ(small->total_tokens, 9);
    EXPECT_FALSE(scan(R"({"usage":null})", 1));
  }
  EXPECT_GT(recycled_string::kept(), 0u);  // the buffers went back to this thread's list
}

}  // namespace
}  // namespace switchyard
