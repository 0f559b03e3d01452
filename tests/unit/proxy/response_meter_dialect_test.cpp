// The meter's dialects and its translation mode (proxy/response_meter.hpp): a Responses stream
// relayed as sent (usage from the terminal event, the hold kept by response.created, a gateway
// failure ended with `error` + `response.failed`), and an Anthropic stream translated for a
// chat client event by event (fixtures: tests/fixtures/providers/anthropic, SOURCES.md).

#include "switchyard/proxy/response_meter.hpp"
#include "switchyard/proxy/responses_event.hpp"
#include "switchyard/proxy/translation.hpp"

#include "../providers/anthropic_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchyard {
namespace {

namespace json = boost::json;

simdjson::ondemand::parser parser;

// A Responses stream as OpenAI sends it (event names and shapes from the streaming-responses
// guide and openai-node 6.x `ResponseStreamEvent`).
const std::string responses_stream =
    "event: response.created\n"
    R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_9","object":"response","created_at":1700,"status":"in_progress","model":"gpt-5","output":[]}})"
    "\n\nevent: response.in_progress\n"
    R"(data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_9","object":"response","created_at":1700,"status":"in_progress","model":"gpt-5","output":[]}})"
    "\n\nevent: response.output_item.added\n"
    R"(data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}})"
    "\n\nevent: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"})"
    "\n\n";
const std::string responses_end =
    "event: response.completed\n"
    R"(data: {"type":"response.completed","sequence_number":4,"response":{"id":"resp_9","object":"response","created_at":1700,"status":"completed","model":"gpt-5","output":[],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":5},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}})"
    "\n\n";

TEST(responses_event, classifies_holdable_output_terminal_and_error_events) {
  auto classify = [](std::string data) {
    data.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    return classify_responses_event(
        parser, simdjson::padded_string_view(data.data(), data.size(), data.capacity()));
  };
  auto created = classify(
      R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_9","model":"m","created_at":5,"usage":null}})");
  EXPECT_TRUE(created.facts.keeps_hold());
  EXPECT_EQ(created.response_id, "resp_9");
  EXPECT_EQ(created.created_at, 5);
  auto delta = classify(R"({"sequence_number":7,"type":"response.function_call_arguments.delta","delta":"{"})");
  EXPECT_TRUE(delta.facts.output);
  EXPECT_FALSE(delta.facts.keeps_hold());
  EXPECT_EQ(delta.sequence_number, 7u);
  auto err = classify(R"({"type":"error","code":"server_error","message":"x","sequence_number":3})");
  EXPECT_TRUE(err.facts.error);
  EXPECT_FALSE(err.facts.keeps_hold());
  auto done = classify(
      R"({"response":{"id":"r","usage":{"input_tokens":2,"output_tokens":1,"total_tokens":3}},"type":"response.incomplete"})");
  EXPECT_TRUE(done.terminal);
  ASSERT_TRUE(done.facts.usage);
  EXPECT_EQ(done.facts.usage->prompt_tokens, 2);
  EXPECT_FALSE(classify("[1]").facts.object);
}

TEST(response_meter, responses_pass_through_is_relayed_as_sent_and_metered_from_the_end) {
  for (std::size_t cut = 1; cut < 200; cut += 37) {
    response_meter m(true, 1 << 16, api_kind::responses);
    const std::string all = responses_stream + responses_end;
    std::string out;
    bool released_before_output = false;
    for (std::size_t pos = 0; pos < all.size(); pos += cut) {
      ASSERT_TRUE(m.feed(std::string_view(all).substr(pos, cut), parser));
      if (m.hold_released() && !m.saw_content()) {
        released_before_output = true;
      }
      out += m.ready();
      m.ready().clear();
    }
    EXPECT_EQ(out, all);
    EXPECT_FALSE(released_before_output) << "response.created/in_progress keep the hold";
    ASSERT_TRUE(m.usage());
    EXPECT_EQ(m.usage()->prompt_tokens, 12);
    EXPECT_EQ(m.usage()->completion_tokens, 3);
    EXPECT_EQ(m.usage()->total_tokens, 15);
    EXPECT_EQ(m.usage()->cache_read_tokens, 5);
  }
}

TEST(response_meter, a_failure_in_a_responses_stream_ends_with_error_and_response_failed) {
  response_meter m(true, 1 << 16, api_kind::responses);
  ASSERT_TRUE(m.feed(responses_stream, parser));
  m.ready().clear();
  m.fail_stream(make_error(errc::upstream_broken, "upstream u closed the response early"));
  sse_parser p(1 << 16);
  std::vector<sse_event> events;
  ASSERT_TRUE(p.feed(m.ready(), events));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "error");
  EXPECT_EQ(events[1].event, "response.failed");
  auto e = json::parse(events[0].data).as_object();
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["sequence_number"], 4);
  EXPECT_EQ(e["message"], "upstream u closed the response early");
  auto f = json::parse(events[1].data).as_object();
  EXPECT_EQ(f["sequence_number"], 5);
  EXPECT_EQ(f["response"].as_object()["id"], "resp_9");
  EXPECT_EQ(f["response"].as_object()["status"], "failed");
  EXPECT_EQ(f["response"].as_object()["model"], "gpt-5");

  // After the terminal event nothing is added.
  response_meter done(true, 1 << 16, api_kind::responses);
  ASSERT_TRUE(done.feed(responses_stream + responses_end, parser));
  done.ready().clear();
  done.fail_stream(make_error(errc::upstream_broken, "late"));
  EXPECT_TRUE(done.ready().empty());
}

TEST(response_meter, a_chat_stream_failure_is_still_the_chat_error_event) {
  response_meter m(true, 1 << 16);
  const error e = make_error(errc::upstream_broken, "cut");
  m.fail_stream(e);
  EXPECT_EQ(m.ready(), error_event(e));
}

TEST(response_meter, translation_mode_sends_the_translators_output_whatever_the_chunking) {
  const std::string upstream = test::anthropic_fixture("sdk_stream_basic.sse");
  response_translation rt{.kind = translation::chat_to_messages};
  rt.chat.include_usage = true;
  std::string expected;
  {
    response_translator t(rt, 1 << 16);
    sse_parser p(1 << 16);
    std::vector<sse_event> events;
    ASSERT_TRUE(p.feed(upstream, events));
    for (const auto& e : events) {
      t.feed(e.event, e.data, expected);
    }
  }
  for (std::size_t cut = 1; cut < upstream.size(); cut += 29) {
    response_meter m(true, 1 << 16, api_kind::messages);
    m.translate(rt);
    std::string out;
    bool released_without_output = false;
    for (std::size_t pos = 0; pos < upstream.size(); pos += cut) {
      ASSERT_TRUE(m.feed(std::string_view(upstream).substr(pos, cut), parser));
      released_without_output |= m.hold_released() && !m.saw_content();
      out += m.ready();
      m.ready().clear();
    }
    EXPECT_EQ(m.end_translated_stream(), std::nullopt);
    out += m.ready();
    EXPECT_EQ(out, expected) << cut;
    EXPECT_FALSE(released_without_output);
    ASSERT_TRUE(m.usage());
    EXPECT_EQ(m.usage()->prompt_tokens, 11);
  }
}

TEST(response_meter, translation_mode_gathers_a_plain_body_and_translates_it_whole) {
  response_translation rt{.kind = translation::chat_to_messages};
  response_meter m(false, 1 << 16, api_kind::messages);
  m.translate(rt);
  const std::string body = test::anthropic_fixture("docs_message_text.json");
  ASSERT_TRUE(m.feed(std::string_view(body).substr(0, 10), parser));
  ASSERT_TRUE(m.feed(std::string_view(body).substr(10), parser));
  EXPECT_TRUE(m.ready().empty());
  ASSERT_TRUE(m.finish_translation());
  auto v = json::parse(m.ready()).as_object();
  EXPECT_EQ(v["object"], "chat.completion");
  ASSERT_TRUE(m.usage());
  EXPECT_EQ(m.usage()->prompt_tokens, 2095);
}

}  // namespace
}  // namespace switchyard
