// Metering Anthropic Messages streams and bodies: output, the stream hold and usage (with cache
// reads and writes) from the official SDK's recorded streams and the API docs' examples
// (tests/fixtures/providers/anthropic, sources in its SOURCES.md), fed at random split points.
#include "switchyard/proxy/messages_event.hpp"
#include "switchyard/proxy/response_meter.hpp"

#include "../providers/anthropic_fixtures.hpp"

#include <gtest/gtest.h>

#include <random>

namespace switchyard {
namespace {

simdjson::ondemand::parser json;

event_facts classify(std::string_view data, messages_usage* running = nullptr) {
  simdjson::padded_string padded(data);
  return running ? classify_messages_event(json, padded, *running)
                 : classify_messages_event(json, padded);
}

// Runs `bytes` through a Messages meter in pieces cut at random points; the bytes out must be
// the bytes in.
struct metered {
  std::string forwarded;
  bool saw_content = false;
  bool hold_released = false;
  std::optional<token_usage> usage;
  // Whether the hold was released after each event boundary, in order (by bytes forwarded).
};

metered meter_stream(std::string_view bytes, std::mt19937& rng) {
  response_meter m(true, 1 << 16);
  m.dialect(api_kind::messages);
  metered out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 97)(rng);
    EXPECT_TRUE(m.feed(bytes.substr(at, n), json).has_value());
    out.forwarded += m.ready();
    m.ready().clear();
    at += n;
  }
  m.release_held();
  out.forwarded += m.ready();
  m.finish(json);
  out.saw_content = m.saw_content();
  out.hold_released = m.hold_released();
  out.usage = m.usage();
  return out;
}

TEST(messages_event, the_events_of_the_sdk_basic_stream) {
  const auto events = test::sse_events(test::anthropic_fixture("sdk_stream_basic.sse"));
  ASSERT_EQ(events.size(), 9u);
  messages_usage running;
  auto start = classify(events[0].data, &running);  // message_start
  EXPECT_TRUE(start.object);
  EXPECT_FALSE(start.output);
  EXPECT_TRUE(start.keeps_hold());
  ASSERT_TRUE(start.usage);
  EXPECT_EQ(start.usage->prompt_tokens, 11);
  auto block = classify(events[1].data, &running);  // content_block_start, text ""
  EXPECT_FALSE(block.output);
  EXPECT_TRUE(block.keeps_hold());
  auto ping = classify(events[2].data, &running);  // {"type": "ping"}
  EXPECT_TRUE(ping.keeps_hold());
  EXPECT_FALSE(ping.usage);
  auto delta = classify(events[3].data, &running);
  EXPECT_TRUE(delta.output);
  EXPECT_FALSE(delta.keeps_hold());
  auto stop = classify(events[6].data, &running);  // content_block_stop
  EXPECT_FALSE(stop.output);
  auto message_delta = classify(events[7].data, &running);
  EXPECT_TRUE(message_delta.output) << "stop_reason ends the answer, like finish_reason";
  ASSERT_TRUE(message_delta.usage);
  EXPECT_EQ(message_delta.usage->prompt_tokens, 11) << "input from message_start";
  EXPECT_EQ(message_delta.usage->completion_tokens, 6) << "cumulative output from message_delta";
  EXPECT_EQ(message_delta.usage->total_tokens, 17);
  auto message_stop = classify(events[8].data, &running);
  EXPECT_FALSE(message_stop.keeps_hold());
}

TEST(messages_event, without_running_state_an_event_gives_its_own_counts) {
  auto d = classify(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}})");
  ASSERT_TRUE(d.usage);
  EXPECT_EQ(d.usage->prompt_tokens, 0);
  EXPECT_EQ(d.usage->completion_tokens, 6);
}

TEST(messages_event, tool_use_and_redacted_thinking_blocks_are_output_from_their_start) {
  EXPECT_TRUE(classify(R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}})")
                  .output);
  EXPECT_TRUE(classify(R"({"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}})")
                  .output);
  EXPECT_FALSE(classify(R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})")
                   .output);
  EXPECT_TRUE(classify(R"({"content_block":{"text":"Hi","type":"text"},"index":0,"type":"content_block_start"})")
                  .output)
      << "member order does not matter";
  EXPECT_TRUE(classify(R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"lo"}})")
                  .output);
  EXPECT_TRUE(classify(R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}})")
                  .output);
}

TEST(messages_event, an_error_event_releases_the_hold_and_garbage_is_unclassified) {
  auto e = classify(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  EXPECT_TRUE(e.object);
  EXPECT_TRUE(e.error);
  EXPECT_FALSE(e.keeps_hold());
  auto bad = classify(R"({"type":"ping"} trailing)");
  EXPECT_FALSE(bad.object);
  EXPECT_FALSE(bad.keeps_hold());
  EXPECT_FALSE(classify(R"({"type":"something_new"})").keeps_hold()) << "unknown: shown at once";
}

TEST(messages_event, cache_reads_and_writes_are_part_of_the_prompt_and_kept_apart) {
  messages_usage running;
  classify(R"({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":2000,"output_tokens":1}}})",
           &running);
  auto d = classify(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}})",
                    &running);
  ASSERT_TRUE(d.usage);
  EXPECT_EQ(d.usage->prompt_tokens, 2312);
  EXPECT_EQ(d.usage->cache_read_tokens, 2000);
  EXPECT_EQ(d.usage->cache_write_tokens, 300);
  EXPECT_EQ(d.usage->completion_tokens, 42);
  EXPECT_EQ(d.usage->total_tokens, 2354);
}

TEST(messages_event, a_null_cache_count_keeps_the_earlier_value) {
  messages_usage running;
  classify(R"({"type":"message_start","message":{"usage":{"input_tokens":5,"cache_read_input_tokens":7,"output_tokens":1}}})",
           &running);
  auto d = classify(R"({"type":"message_delta","usage":{"output_tokens":3,"cache_read_input_tokens":null}})",
                    &running);
  ASSERT_TRUE(d.usage);
  EXPECT_EQ(d.usage->cache_read_tokens, 7);
  EXPECT_EQ(d.usage->prompt_tokens, 12);
}

TEST(messages_meter, every_sdk_stream_is_relayed_byte_for_byte_at_random_split_points) {
  std::mt19937 rng(13);
  struct expected {
    const char* name;
    std::int64_t prompt, completion;
  };
  const expected cases[] = {{"sdk_stream_basic.sse", 11, 6},
                            {"sdk_stream_tool_use.sse", 377, 65},
                            {"sdk_stream_thinking_refusal.sse", 28, 106},
                            {"sdk_stream_max_tokens_partial_json.sse", 450, 124}};
  for (const auto& c : cases) {
    const std::string bytes = test::anthropic_fixture(c.name);
    for (int round = 0; round < 20; ++round) {
      auto r = meter_stream(bytes, rng);
      ASSERT_EQ(r.forwarded, bytes) << c.name;
      EXPECT_TRUE(r.saw_content) << c.name;
      EXPECT_TRUE(r.hold_released) << c.name;
      ASSERT_TRUE(r.usage) << c.name;
      if (c.prompt > 0) {
        EXPECT_EQ(r.usage->prompt_tokens, c.prompt) << c.name;
      }
      if (c.completion > 0) {
        EXPECT_EQ(r.usage->completion_tokens, c.completion) << c.name;
      }
      EXPECT_EQ(r.usage->total_tokens, r.usage->prompt_tokens + r.usage->completion_tokens);
    }
  }
}

TEST(messages_meter, the_tool_use_stream_reports_its_final_output_count) {
  std::mt19937 rng(7);
  const std::string bytes = test::anthropic_fixture("sdk_stream_tool_use.sse");
  // The fixture's message_delta carries the cumulative output count.
  const auto events = test::sse_events(bytes);
  messages_usage running;
  std::optional<token_usage> last;
  for (const auto& e : events) {
    if (auto f = classify(e.data, &running); f.usage) {
      last = f.usage;
    }
  }
  ASSERT_TRUE(last);
  auto r = meter_stream(bytes, rng);
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->completion_tokens, last->completion_tokens);
  EXPECT_GT(r.usage->completion_tokens, 1) << "not message_start's placeholder";
}

TEST(messages_meter, the_hold_keeps_start_and_ping_and_ends_at_output_or_error) {
  const std::string bytes = test::anthropic_fixture("stream_error_overloaded.sse");
  const auto first_delta = bytes.find("event: content_block_delta");
  ASSERT_NE(first_delta, std::string::npos);
  response_meter m(true, 1 << 16);
  m.dialect(api_kind::messages);
  ASSERT_TRUE(m.feed(std::string_view(bytes).substr(0, first_delta), json).has_value());
  EXPECT_FALSE(m.hold_released()) << "message_start, content_block_start and ping say nothing";
  EXPECT_FALSE(m.saw_content());
  const auto error_at = bytes.find("event: error");
  ASSERT_TRUE(m.feed(std::string_view(bytes).substr(first_delta, error_at - first_delta), json)
                  .has_value());
  EXPECT_TRUE(m.hold_released());
  EXPECT_TRUE(m.saw_content());

  response_meter only_error(true, 1 << 16);
  only_error.dialect(api_kind::messages);
  ASSERT_TRUE(only_error
                  .feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
                        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
                        json)
                  .has_value());
  EXPECT_TRUE(only_error.hold_released()) << "the client sees the error rather than wait";
  EXPECT_FALSE(only_error.saw_content());
}

TEST(messages_meter, a_non_stream_message_reads_usage_with_anthropic_names) {
  const std::string body = test::anthropic_fixture("docs_message_thinking.json");
  response_meter m(false, 1 << 16);
  m.dialect(api_kind::messages);
  for (std::size_t at = 0; at < body.size(); at += 13) {
    ASSERT_TRUE(m.feed(std::string_view(body).substr(at, 13), json).has_value());
  }
  EXPECT_EQ(m.ready(), body);
  m.finish(json);
  ASSERT_TRUE(m.usage());
  EXPECT_EQ(m.usage()->prompt_tokens, 120 + 30 + 1000);
  EXPECT_EQ(m.usage()->completion_tokens, 250);
  EXPECT_EQ(m.usage()->cache_read_tokens, 1000);
  EXPECT_EQ(m.usage()->cache_write_tokens, 30);
  EXPECT_EQ(m.usage()->total_tokens, 1400);

  response_meter plain(false, 1 << 16);
  plain.dialect(api_kind::messages);
  const std::string text = test::anthropic_fixture("docs_message_text.json");
  ASSERT_TRUE(plain.feed(text, json).has_value());
  plain.finish(json);
  ASSERT_TRUE(plain.usage());
  EXPECT_EQ(plain.usage()->prompt_tokens, 2095);
  EXPECT_EQ(plain.usage()->completion_tokens, 503);
}

}  // namespace
}  // namespace switchyard
