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

}  // namespace
}  // namespace switchyard
