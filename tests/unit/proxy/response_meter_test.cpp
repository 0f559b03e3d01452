#include "switchyard/proxy/response_meter.hpp"

#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

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

TEST(response_meter, cr_only_line_endings_keep_every_event_and_strip_only_the_usage_chunk) {
  const std::string cr =
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\r\r"
      "data: {\"choices\": [], \"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 1}}\r\r"
      "data: [DONE]\r\r";
  response_meter m(true, 1 << 16);
  m.strip_usage(true);
  ASSERT_TRUE(m.feed(cr, json));
  EXPECT_EQ(m.ready(), "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\rdata: [DONE]\r\r");
  ASSERT_TRUE(m.usage());
  EXPECT_EQ(m.usage()->prompt_tokens, 3);
}

TEST(response_meter, spaced_usage_chunk_is_stripped_and_comments_kept) {
  const std::string in =
      ": ping - 2024-01-01 00:00:00\r\n\r\n"
      "data: {\"id\": \"x\", \"choices\": [{\"delta\": {\"content\": \"Hi\"}}], \"usage\": "
      "null}\r\n\r\n"
      "data: {\"id\": \"x\", \"choices\": [], \"usage\": {\"prompt_tokens\": 3}}\r\n\r\n"
      "data: [DONE]\r\n\r\n";
  response_meter m(true, 1 << 16);
  m.strip_usage(true);
  ASSERT_TRUE(m.feed(in, json));
  EXPECT_EQ(m.ready(),
            ": ping - 2024-01-01 00:00:00\r\n\r\n"
            "data: {\"id\": \"x\", \"choices\": [{\"delta\": {\"content\": \"Hi\"}}]}\r\n\r\n"
            "data: [DONE]\r\n\r\n");
  EXPECT_TRUE(m.saw_content());
}

TEST(response_meter, multi_line_data_with_null_usage_is_rewritten_as_valid_events) {
  const std::string in =
      "data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}],\ndata:  \"usage\": null}\n\n";
  response_meter m(true, 1 << 16);
  m.strip_usage(true);
  ASSERT_TRUE(m.feed(in, json));
  EXPECT_EQ(m.ready(), "data: {\"choices\": [{\"delta\": {\"content\": \"a\"}}]}\n\n");
}

TEST(response_meter, an_unclassifiable_event_releases_the_hold) {
  response_meter m(true, 1 << 16);
  ASSERT_TRUE(m.feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n", json));
  EXPECT_FALSE(m.hold_released());
  ASSERT_TRUE(m.feed("data: hello there\n\n", json));
  EXPECT_TRUE(m.hold_released());
  EXPECT_FALSE(m.saw_content());
}

// Every fixture of the conformance corpus (tests/fixtures/wire, sources in its SOURCES.md).
namespace fs = std::filesystem;

using test::expected;
using test::fixtures;
using test::read_file;

std::optional<std::int64_t> expected_int(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) {
    return std::nullopt;
  }
  return it->value().to_number<std::int64_t>();
}

std::string feed_randomly(response_meter& m, std::string_view body, std::mt19937& rng) {
  std::string out;
  for (std::size_t pos = 0; pos < body.size();) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 97)(rng);
    EXPECT_TRUE(m.feed(body.substr(pos, n), json).has_value());
    out += m.ready();
    m.ready().clear();
    pos += n;
  }
  m.release_held();
  out += m.ready();
  m.ready().clear();
  return out;
}

TEST(response_meter, wire_fixtures_every_stream_is_forwarded_byte_for_byte_with_its_facts) {
  std::mt19937 rng(9);
  const auto all = fixtures(".sse");
  ASSERT_GE(all.size(), 10u);
  for (const auto& path : all) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const auto& exp = expected().at(name).as_object();
    const std::string body = read_file(path);
    for (int round = 0; round < 20; ++round) {
      response_meter m(true, 1 << 20);
      EXPECT_EQ(feed_randomly(m, body, rng), body);
      EXPECT_EQ(m.events(), exp.at("events").to_number<std::uint64_t>());
      EXPECT_EQ(m.saw_done(), exp.at("done").as_bool());
      const bool has_output = !exp.at("text").as_string().empty() ||
                              !exp.at("reasoning").as_string().empty() ||
                              !exp.at("tool_call_names").as_array().empty() ||
                              exp.contains("refusal") || !exp.at("finish_reason").is_null();
      EXPECT_EQ(m.saw_content(), has_output);
      EXPECT_EQ(m.hold_released(), true);
      auto prompt = expected_int(exp, "prompt_tokens");
      ASSERT_EQ(m.usage().has_value(), prompt.has_value());
      if (prompt) {
        EXPECT_EQ(m.usage()->prompt_tokens, *prompt);
        EXPECT_EQ(m.usage()->completion_tokens, expected_int(exp, "completion_tokens").value_or(0));
      }
    }
  }
}

TEST(response_meter, wire_fixtures_stripping_removes_only_the_injected_usage_and_leaves_valid_json) {
  std::mt19937 rng(10);
  for (const auto& path : fixtures(".sse")) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const auto& exp = expected().at(name).as_object();
    const std::string body = read_file(path);
    response_meter m(true, 1 << 20);
    m.strip_usage(true);
    const std::string out = feed_randomly(m, body, rng);
    // Re-read what the client gets: no usage-only chunk, no `"usage": null`, all JSON valid.
    sse_parser p(1 << 20);
    std::vector<sse_event> events;
    ASSERT_TRUE(p.feed(out, events));
    const bool usage_chunk = exp.at("usage_only_chunk").as_bool();
    EXPECT_EQ(events.size(), exp.at("events").to_number<std::size_t>() - (usage_chunk ? 1 : 0));
    for (auto& e : events) {
      if (e.data == "[DONE]") {
        continue;
      }
      auto f = classify_event(
          json, simdjson::padded_string_view(e.data.data(), e.data.size(), e.data.capacity()));
      if (!f.object) {
        continue;  // (an upstream's own non-JSON event is passed through untouched)
      }
      EXPECT_FALSE(f.usage_only) << e.data;
      EXPECT_TRUE(f.null_usage.empty()) << e.data;
      boost::system::error_code ec;
      boost::json::parse(e.data, ec);
      EXPECT_FALSE(ec) << e.data;
    }
    auto prompt = expected_int(exp, "prompt_tokens");
    ASSERT_EQ(m.usage().has_value(), prompt.has_value());
  }
}

TEST(response_meter, wire_fixtures_every_non_stream_body_gives_its_usage) {
  std::mt19937 rng(11);
  for (const auto& path : fixtures(".json")) {
    const std::string name = path.filename().string();
    if (name == "expected.json" || !expected().contains(name)) {
      continue;
    }
    SCOPED_TRACE(name);
    const auto& exp = expected().at(name).as_object();
    const std::string body = read_file(path);
    response_meter m(false, 1 << 20);
    EXPECT_EQ(feed_randomly(m, body, rng), body);
    m.finish(json);
    auto prompt = expected_int(exp, "prompt_tokens");
    ASSERT_EQ(m.usage().has_value(), prompt.has_value());
    if (prompt) {
      EXPECT_EQ(m.usage()->prompt_tokens, *prompt);
      EXPECT_EQ(m.usage()->completion_tokens, expected_int(exp, "completion_tokens").value_or(0));
    }
  }
}

}  // namespace
}  // namespace switchyard
