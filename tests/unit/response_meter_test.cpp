#include "switchyard/proxy/response_meter.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

TEST(find_usage, reads_the_last_usage_object) {
  auto u = find_usage(
      json, R"({"choices":[{"message":{"content":"the \"usage\": {\"prompt_tokens\": 9}"}}],)"
            R"("usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,)"
            R"("prompt_tokens_details":{"cached_tokens":0}}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 12);
  EXPECT_EQ(u->completion_tokens, 30);
  EXPECT_EQ(u->total_tokens, 42);
}

TEST(find_usage, null_or_missing_usage_is_none) {
  EXPECT_FALSE(find_usage(json, R"({"choices":[],"usage":null})"));
  EXPECT_FALSE(find_usage(json, R"({"choices":[]})"));
  EXPECT_FALSE(find_usage(json, R"({"usage":{"prompt_tokens":1)"));  // truncated
}

TEST(find_usage, embeddings_usage_has_no_completion_tokens) {
  auto u = find_usage(json, R"({"data":[],"usage":{"prompt_tokens":5,"total_tokens":5}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 5);
  EXPECT_EQ(u->completion_tokens, 0);
  EXPECT_EQ(u->total_tokens, 5);
}

constexpr std::string_view stream =
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
    "\"total_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

TEST(response_meter, forwards_only_whole_events_whatever_the_chunking) {
  for (std::size_t cut = 1; cut < stream.size(); cut += 7) {
    response_meter m(true, 1 << 16);
    std::string forwarded;
    for (std::size_t pos = 0; pos < stream.size(); pos += cut) {
      ASSERT_TRUE(m.feed(stream.substr(pos, cut), json).has_value());
      // Whatever was released ends on an event boundary.
      if (!m.ready().empty()) {
        EXPECT_EQ(m.ready().substr(m.ready().size() - 2), "\n\n");
      }
      forwarded += m.ready();
      m.ready().clear();
    }
    EXPECT_EQ(forwarded, stream) << "chunk size " << cut;
    EXPECT_TRUE(m.saw_done());
    EXPECT_TRUE(m.saw_content());
    EXPECT_EQ(m.events(), 5u);
    ASSERT_TRUE(m.usage());
    EXPECT_EQ(m.usage()->completion_tokens, 2);
  }
}

TEST(response_meter, role_only_first_chunk_is_not_content) {
  response_meter m(true, 1 << 16);
  ASSERT_TRUE(m.feed(stream.substr(0, stream.find("\n\n") + 2), json).has_value());
  EXPECT_FALSE(m.saw_content());
}

TEST(response_meter, holds_a_partial_event) {
  response_meter m(true, 1 << 16);
  ASSERT_TRUE(m.feed("data: {\"a\":1}\n\ndata: {\"b\"", json).has_value());
  EXPECT_EQ(m.ready(), "data: {\"a\":1}\n\n");
  EXPECT_EQ(m.held_bytes(), std::string_view("data: {\"b\"").size());
  m.ready().clear();
  m.release_held();
  EXPECT_EQ(m.ready(), "data: {\"b\"");
}

TEST(response_meter, plain_body_is_forwarded_at_once_and_usage_read_at_the_end) {
  response_meter m(false, 1 << 16);
  std::string body = R"({"id":"x","choices":[{"message":{"content":")" + std::string(40000, 'a') +
                     R"("}}],"usage":{"prompt_tokens":7,"completion_tokens":8,"total_tokens":15}})";
  std::size_t forwarded = 0;
  for (std::size_t pos = 0; pos < body.size(); pos += 4096) {
    ASSERT_TRUE(m.feed(std::string_view(body).substr(pos, 4096), json).has_value());
    forwarded += m.ready().size();
    m.ready().clear();
  }
  EXPECT_EQ(forwarded, body.size());
  m.finish(json);
  ASSERT_TRUE(m.usage());
  EXPECT_EQ(m.usage()->total_tokens, 15);
}

}  // namespace
}  // namespace switchyard
