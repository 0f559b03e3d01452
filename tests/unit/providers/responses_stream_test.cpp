#include "switchyard/providers/responses_stream.hpp"

#include "responses_check.hpp"
#include "switchyard/sse/sse_parser.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace switchyard {
namespace {

namespace json = boost::json;
using test::check_stream;
using test::types;

responses_context context_for(std::string_view request) {
  auto t = translate_responses_request(request);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message);
  responses_context c = t ? t->context : responses_context{};
  c.response_id = "resp_test";
  c.created_at = 1741290958;
  return c;
}

responses_context plain_context() {
  return context_for(R"({"model":"gpt-4o-mini","input":"Hi","stream":true})");
}

struct replay_result {
  std::string out;
  responses_stream_state state = responses_stream_state::open;
  std::optional<responses_usage> usage;
  std::vector<error> errors;
};

/// Feeds every event of a chat SSE stream (parsed by the gateway's parser) into a translator,
/// then tells it the body ended.
replay_result replay(std::string_view chat_sse, responses_context ctx = plain_context(),
                     bool end = true) {
  sse_parser parser(1 << 20);
  std::vector<sse_event> events;
  EXPECT_TRUE(parser.feed(chat_sse, events).has_value());
  chat_to_responses_stream stream(std::move(ctx));
  replay_result r;
  for (const auto& e : events) {
    if (auto fed = stream.feed(e.data, r.out); !fed) {
      r.errors.push_back(fed.error());
    }
  }
  if (end) {
    if (auto f = stream.finish(r.out); !f) {
      r.errors.push_back(f.error());
    }
  }
  r.state = stream.state();
  r.usage = stream.usage();
  return r;
}

std::string chunk(std::string_view delta, std::string_view finish = "null",
                  std::string_view extra = "") {
  return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"up-model\","
         "\"choices\":[{\"index\":0,\"delta\":" +
         std::string(delta) + ",\"finish_reason\":" + std::string(finish) + "}]" +
         std::string(extra) + "}\n\n";
}

const std::string done = "data: [DONE]\n\n";

const json::object& terminal_response(const std::vector<test::responses_event>& events) {
  return events.back().data.at("response").as_object();
}

TEST(responses_stream, text_stream_gives_the_documented_event_sequence) {
  auto r = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                  "openai_chat_stream_usage.sse"));
  auto events = check_stream(r.out);
  EXPECT_EQ(types(events).front(), "response.created");
  const std::vector<std::string> tail = {"response.output_text.done", "response.content_part.done",
                                         "response.output_item.done", "response.completed"};
  ASSERT_GE(events.size(), 8u);
  const auto t = types(events);
  EXPECT_EQ(std::vector<std::string>(t.end() - 4, t.end()), tail);
  EXPECT_EQ(t[2], "response.output_item.added");
  EXPECT_EQ(t[3], "response.content_part.added");
  EXPECT_EQ(t[4], "response.output_text.delta");
  EXPECT_EQ(r.state, responses_stream_state::completed);
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_GT(r.usage->tokens.total_tokens, 0);
  const auto& resp = terminal_response(events);
  EXPECT_EQ(resp.at("status"), "completed");
  EXPECT_EQ(resp.at("usage").at("input_tokens"), r.usage->tokens.prompt_tokens);
  EXPECT_EQ(resp.at("usage").at("output_tokens"), r.usage->tokens.completion_tokens);
  EXPECT_EQ(resp.at("model"), "gpt-4o-mini");  // the client's model name, not the upstream's
  EXPECT_TRUE(r.errors.empty());
}

TEST(responses_stream, exact_events_for_a_small_text_stream) {
  auto r = replay(
      chunk(R"({"role":"assistant","content":""})") + chunk(R"({"content":"Hi"})") +
      chunk(R"({"content":" there"})") + chunk("{}", "\"stop\"") +
      R"(data: {"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":0}}})"
      "\n\n" +
      done);
  auto events = check_stream(r.out);
  EXPECT_EQ(types(events),
            (std::vector<std::string>{"response.created", "response.in_progress",
                                      "response.output_item.added", "response.content_part.added",
                                      "response.output_text.delta", "response.output_text.delta",
                                      "response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"}));
  const auto& added = events[2].data;
  EXPECT_EQ(added.at("item").at("id"), "msg_test_0");
  EXPECT_EQ(added.at("item").at("status"), "in_progress");
  EXPECT_EQ(added.at("item").at("content").as_array().size(), 0u);
  EXPECT_EQ(events[4].data.at("delta"), "Hi");
  EXPECT_EQ(events[6].data.at("text"), "Hi there");
  const auto& resp = terminal_response(events);
  EXPECT_EQ(resp.at("output").at(0).at("content").at(0).at("text"), "Hi there");
  EXPECT_EQ(resp.at("usage").at("input_tokens_details").at("cached_tokens"), 4);
  EXPECT_EQ(resp.at("usage").at("total_tokens"), 11);
  EXPECT_EQ(resp.at("completed_at"), 1741290958);
  EXPECT_EQ(resp.at("model"), "gpt-4o-mini");
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->cached_tokens, 4);
  // The created and in-progress snapshots are in progress, with no usage yet.
  EXPECT_EQ(events[0].data.at("response").at("status"), "in_progress");
  EXPECT_FALSE(events[0].data.at("response").as_object().contains("usage"));
}

TEST(responses_stream, parallel_tool_calls_become_function_call_items) {
  auto r = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                  "openai_chat_stream_tool_calls.sse"));
  auto events = check_stream(r.out);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0].at("type"), "function_call");
  EXPECT_EQ(output[0].at("name"), "get_weather");
  EXPECT_EQ(output[0].at("call_id"), "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  EXPECT_EQ(output[0].at("arguments"), R"({"location":"Paris, France"})");
  EXPECT_EQ(output[1].at("arguments"), R"({"location":"Tokyo"})");
  EXPECT_EQ(output[1].at("id"), "fc_test_1");
  EXPECT_EQ(r.state, responses_stream_state::completed);
}

TEST(responses_stream, interleaved_tool_call_fragments_keep_their_own_items) {
  auto call = [](int index, std::string_view rest) {
    return chunk(R"({"tool_calls":[{"index":)" + std::to_string(index) + "," + std::string(rest) +
                 "}]}");
  };
  auto r = replay(
      call(0, R"("id":"call_a","type":"function","function":{"name":"f","arguments":""})") +
      call(1, R"("id":"call_b","type":"function","function":{"name":"g","arguments":"{\"b\""})") +
      call(0, R"("function":{"arguments":"{\"a\":1}"})") +
      call(1, R"("function":{"arguments":":2}"})") + chunk("{}", "\"tool_calls\"") + done);
  auto events = check_stream(r.out);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0].at("arguments"), R"({"a":1})");
  EXPECT_EQ(output[1].at("arguments"), R"({"b":2})");
}

TEST(responses_stream, a_tool_call_name_that_arrives_late_defers_the_item) {
  auto r = replay(
      chunk(R"({"tool_calls":[{"index":0,"id":"call_x","function":{"arguments":"{\"q\""}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"name":"search","arguments":":1}"}}]})") +
      chunk("{}", "\"tool_calls\"") + done);
  auto events = check_stream(r.out);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 1u);
  EXPECT_EQ(output[0].at("name"), "search");
  EXPECT_EQ(output[0].at("arguments"), R"({"q":1})");
}

TEST(responses_stream, text_then_tool_call_closes_the_message_first) {
  auto r = replay(
      chunk(R"({"content":"Let me look."})") +
      chunk(
          R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]})") +
      chunk("{}", "\"tool_calls\"") + done);
  auto events = check_stream(r.out);
  auto t = types(events);
  const auto message_done = std::find(t.begin(), t.end(), "response.output_item.done");
  const auto call_added =
      std::find(t.begin() + 3, t.end(), "response.output_item.added");  // the second item
  EXPECT_LT(message_done, call_added);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0].at("type"), "message");
  EXPECT_EQ(output[1].at("type"), "function_call");
}

TEST(responses_stream, custom_tool_call_comes_back_with_its_raw_input) {
  auto ctx = context_for(
      test::read_file(test::responses_fixtures() / "requests" / "codex_custom_tool.json"));
  auto r = replay(
      chunk(
          R"({"tool_calls":[{"index":0,"id":"call_custom_sql_001","type":"function","function":{"name":"write_sql","arguments":"{\"input\":\"SELECT * "}}]})") +
          chunk(
              R"({"tool_calls":[{"index":0,"function":{"arguments":"FROM users WHERE age > 25\"}"}}]})") +
          chunk("{}", "\"tool_calls\"") + done,
      ctx);
  auto events = check_stream(r.out);
  EXPECT_EQ(types(events),
            (std::vector<std::string>{
                "response.created", "response.in_progress", "response.output_item.added",
                "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
                "response.output_item.done", "response.completed"}));
  const auto& item = terminal_response(events).at("output").at(0).as_object();
  EXPECT_EQ(item.at("type"), "custom_tool_call");
  EXPECT_EQ(item.at("input"), "SELECT * FROM users WHERE age > 25");
  EXPECT_EQ(item.at("status"), "completed");  // the AI SDK accepts only this
  EXPECT_EQ(item.at("call_id"), "call_custom_sql_001");
  EXPECT_EQ(terminal_response(events).at("tools").at(0).at("type"), "custom");
}

TEST(responses_stream, reasoning_content_becomes_a_reasoning_item_before_the_message) {
  auto r = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                  "deepseek_chat_stream_reasoning.sse"));
  auto events = check_stream(r.out);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0].at("type"), "reasoning");
  EXPECT_EQ(output[0].at("summary").at(0).at("type"), "summary_text");
  EXPECT_FALSE(output[0].at("summary").at(0).at("text").as_string().empty());
  EXPECT_EQ(output[1].at("type"), "message");
  auto t = types(events);
  EXPECT_NE(std::find(t.begin(), t.end(), "response.reasoning_summary_text.delta"), t.end());
  EXPECT_NE(std::find(t.begin(), t.end(), "response.reasoning_summary_part.done"), t.end());
}

TEST(responses_stream, refusal_becomes_a_refusal_part) {
  auto r = replay(chunk(R"({"role":"assistant","content":null,"refusal":""})") +
                  chunk(R"({"refusal":"I can't"})") + chunk(R"({"refusal":" help."})") +
                  chunk("{}", "\"stop\"") + done);
  auto events = check_stream(r.out);
  const auto& part = terminal_response(events).at("output").at(0).at("content").at(0);
  EXPECT_EQ(part.at("type"), "refusal");
  EXPECT_EQ(part.at("refusal"), "I can't help.");
  auto t = types(events);
  EXPECT_NE(std::find(t.begin(), t.end(), "response.refusal.delta"), t.end());
  EXPECT_NE(std::find(t.begin(), t.end(), "response.refusal.done"), t.end());
}

TEST(responses_stream, length_finish_is_incomplete_with_max_output_tokens) {
  auto r = replay(chunk(R"({"content":"Once upon"})") + chunk("{}", "\"length\"") + done);
  auto events = check_stream(r.out);
  EXPECT_EQ(events.back().name, "response.incomplete");
  const auto& resp = terminal_response(events);
  EXPECT_EQ(resp.at("status"), "incomplete");
  EXPECT_EQ(resp.at("incomplete_details").at("reason"), "max_output_tokens");
  EXPECT_TRUE(resp.at("completed_at").is_null());
  EXPECT_EQ(resp.at("output").at(0).at("status"), "incomplete");
  EXPECT_EQ(r.state, responses_stream_state::incomplete);
}

TEST(responses_stream, content_filter_finish_is_incomplete_with_content_filter) {
  auto r = replay(chunk(R"({"content":"x"})") + chunk("{}", "\"content_filter\"") + done);
  auto events = check_stream(r.out);
  EXPECT_EQ(terminal_response(events).at("incomplete_details").at("reason"), "content_filter");
}

TEST(responses_stream, azure_empty_choices_and_usage_only_chunks_are_tolerated) {
  auto r = replay(
      test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) / "azure_chat_stream.sse"));
  auto events = check_stream(r.out);
  const auto& resp = terminal_response(events);
  EXPECT_EQ(resp.at("output").at(0).at("content").at(0).at("text"), "Hi there!");
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->tokens.prompt_tokens, 9);
  EXPECT_EQ(r.usage->tokens.completion_tokens, 4);
  EXPECT_EQ(resp.at("usage").at("total_tokens"), 13);
}

TEST(responses_stream, groq_usage_is_read_from_x_groq) {
  auto r = replay(
      test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) / "groq_chat_stream.sse"));
  check_stream(r.out);
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_GT(r.usage->tokens.total_tokens, 0);
}

TEST(responses_stream, no_usage_chunk_still_gives_a_usage_object) {
  auto r = replay(chunk(R"({"content":"x"})") + chunk("{}", "\"stop\"") + done);
  auto events = check_stream(r.out);
  EXPECT_FALSE(r.usage.has_value());
  EXPECT_EQ(terminal_response(events).at("usage").at("total_tokens"), 0);  // the AI SDK needs it
}

TEST(responses_stream, upstream_error_chunk_ends_with_error_and_response_failed) {
  auto r = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                  "litellm_chat_stream_error.sse"));
  auto events = check_stream(r.out);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[events.size() - 2].name, "error");
  EXPECT_EQ(events.back().name, "response.failed");
  const auto& resp = terminal_response(events);
  EXPECT_EQ(resp.at("status"), "failed");
  EXPECT_EQ(resp.at("error").at("code"), "server_error");
  EXPECT_NE(resp.at("error").at("message").as_string().find("upstream connection reset"),
            std::string::npos);
  EXPECT_EQ(resp.at("output").at(0).at("status"), "incomplete");
  EXPECT_EQ(r.state, responses_stream_state::failed);
  ASSERT_EQ(r.errors.size(), 1u);  // finish() after the failure adds nothing
  EXPECT_EQ(r.errors[0].code, errc::upstream_broken);
  EXPECT_EQ(r.errors[0].source, error_source::upstream);
}

TEST(responses_stream, cut_before_done_without_finish_fails) {
  auto r = replay(chunk(R"({"content":"Par"})"));
  auto events = check_stream(r.out);
  EXPECT_EQ(events.back().name, "response.failed");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("ended before completion"), std::string::npos);
}

TEST(responses_stream, cut_before_done_after_finish_completes) {
  auto r = replay(chunk(R"({"content":"Paris"})") + chunk("{}", "\"stop\""));
  auto events = check_stream(r.out);
  EXPECT_EQ(events.back().name, "response.completed");
  EXPECT_TRUE(r.errors.empty());
}

TEST(responses_stream, malformed_data_fails_without_crashing) {
  for (std::string bad : {"{", "not json", "[1,2]", "\"str\"", "{\"choices\":[{\"delta\":", ""}) {
    chat_to_responses_stream s(plain_context());
    std::string out;
    auto fed = s.feed(bad, out);
    EXPECT_FALSE(fed.has_value()) << bad;
    EXPECT_EQ(s.state(), responses_stream_state::failed) << bad;
    auto events = check_stream(out);
    EXPECT_EQ(events.back().name, "response.failed") << bad;
    // Nothing after the terminal event.
    std::string more;
    EXPECT_TRUE(s.feed(chunk(R"({"content":"x"})").substr(6), more).has_value());
    EXPECT_TRUE(s.finish(more).has_value());
    s.fail(make_error(errc::internal, "late"), more);
    EXPECT_TRUE(more.empty()) << more;
  }
}

TEST(responses_stream, odd_but_valid_chunks_are_ignored) {
  auto r = replay(std::string("data: {}\n\n") + R"(data: {"choices":null}

data: {"choices":[null,1,{"index":1,"delta":{"content":"other choice"}}]}

data: {"choices":[{"index":0,"delta":null}]}

)" + chunk(R"({"content":"ok","tool_calls":[{"index":0,"function":{"arguments":"x"}}]})") +
                  chunk("{}", "\"stop\"") + " data: [DONE] \n\n");
  auto events = check_stream(r.out);
  const auto& output = terminal_response(events).at("output").as_array();
  ASSERT_EQ(output.size(), 1u);  // the call without a name never became an item
  EXPECT_EQ(output[0].at("content").at(0).at("text"), "ok");
}

TEST(responses_stream, fail_after_start_and_before_output) {
  chat_to_responses_stream s(plain_context());
  std::string out;
  error e = make_error(errc::upstream_timeout, "upstream stream idle for 300s");
  s.fail(e, out);
  auto events = check_stream(out);
  EXPECT_EQ(types(events), (std::vector<std::string>{"response.created", "response.in_progress",
                                                     "error", "response.failed"}));
  EXPECT_EQ(events[2].data.at("message"), "upstream stream idle for 300s");
  EXPECT_TRUE(events[2].data.at("param").is_null());
  // OpenAI's own nested shape too (what openai-node raises; see aisdk_openai_error.chunks.txt).
  EXPECT_EQ(events[2].data.at("error").at("message"), "upstream stream idle for 300s");
  EXPECT_EQ(events[2].data.at("error").at("type"), "server_error");
  EXPECT_FALSE(s.output_started());

  chat_to_responses_stream limited(plain_context());
  std::string out2;
  limited.fail(make_error(errc::rate_limited, "slow down"), out2);
  EXPECT_EQ(check_stream(out2).back().data.at("response").at("error").at("code"),
            "rate_limit_exceeded");
}

TEST(responses_stream, metering_view_follows_the_stream) {
  chat_to_responses_stream s(plain_context());
  std::string out;
  EXPECT_FALSE(s.started());
  ASSERT_TRUE(
      s.feed(chunk(R"({"role":"assistant","content":""})").substr(6, std::string::npos), out)
          .has_value());
  EXPECT_TRUE(s.started());
  EXPECT_FALSE(s.output_started());  // only created / in_progress so far: still retryable
  EXPECT_EQ(s.next_sequence_number(), 2u);
  std::string c = chunk(R"({"content":"x"})");
  ASSERT_TRUE(s.feed(std::string_view(c).substr(6, c.size() - 8), out).has_value());
  EXPECT_TRUE(s.output_started());
  EXPECT_EQ(s.state(), responses_stream_state::open);
  ASSERT_TRUE(s.feed("[DONE]", out).has_value());
  EXPECT_EQ(s.state(), responses_stream_state::completed);
}

TEST(responses_stream, every_chat_stream_of_the_wire_corpus_translates_cleanly) {
  int n = 0;
  for (const auto& path : test::fixtures(".sse")) {
    const std::string name = path.filename().string();
    if (name.find("completions") != std::string::npos || name.find("_chat_") == std::string::npos) {
      continue;  // legacy completions are not chat
    }
    SCOPED_TRACE(name);
    auto r = replay(test::read_file(path));
    auto events = check_stream(r.out);
    const bool error = name.find("error") != std::string::npos;
    EXPECT_EQ(r.state, error ? responses_stream_state::failed : responses_stream_state::completed);
    ++n;
  }
  EXPECT_GE(n, 15);
}

/// The real OpenAI stream the AI SDK tests replay (fixture from vercel/ai): every member its
/// events and items carry, ours carry too (except `obfuscation`, stream padding, and the
/// reasoning item's `encrypted_content`, which only OpenAI can produce).
TEST(responses_stream, events_carry_every_member_a_real_openai_stream_has) {
  std::map<std::string, std::set<std::string>> real, ours;
  auto collect = [](const json::object& e, std::map<std::string, std::set<std::string>>& into) {
    std::string type(e.at("type").as_string());
    for (const auto& m : e) {
      into[type].insert(std::string(m.key()));
    }
    if (const auto* item = e.if_contains("item"); item != nullptr) {
      std::string key = type + "/" + std::string(item->at("type").as_string());
      for (const auto& m : item->as_object()) {
        into[key].insert(std::string(m.key()));
      }
    }
  };
  std::istringstream lines(test::read_file(test::responses_fixtures() /
                                           "aisdk_openai_reasoning_encrypted_content.chunks.txt"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      collect(json::parse(line).as_object(), real);
    }
  }
  auto r = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                  "deepseek_chat_stream_reasoning.sse"));
  auto r2 = replay(test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                   "openai_chat_stream_tool_calls.sse"));
  for (const auto* out : {&r.out, &r2.out}) {
    for (const auto& e : test::parse_events(*out)) {
      collect(e.data, ours);
    }
  }
  int compared = 0;
  for (const auto& [type, members] : real) {
    if (!ours.contains(type)) {
      continue;
    }
    ++compared;
    for (const auto& m : members) {
      if (m == "obfuscation" || m == "encrypted_content") {
        continue;
      }
      EXPECT_TRUE(ours[type].contains(m)) << type << " lacks " << m;
    }
  }
  EXPECT_GE(compared, 12);
}

}  // namespace
}  // namespace switchyard

namespace switchyard {
namespace {

/// The translations the end-to-end test (tests/e2e/responses_translation.test.mjs) replays to
/// the official `openai` SDK and the AI SDK: checked here like any stream, and written as files
/// into $SWITCHYARD_RESPONSES_TRANSCRIPTS when that is set (the e2e test sets it).
TEST(responses_stream, sdk_transcripts) {
  const auto wire = std::filesystem::path(SWITCHYARD_WIRE_FIXTURES);
  const std::string weather_request =
      R"({"model":"tools","input":"Weather in Paris and Tokyo?","stream":true,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]})";
  struct transcript {
    std::string name;
    std::string request;
    std::string chat;  // chat SSE, or a chat completion for a ".json" transcript
  };
  const std::vector<transcript> cases = {
      {"text.sse", R"({"model":"text","input":"Hi","stream":true})",
       test::read_file(wire / "openai_chat_stream_usage.sse")},
      {"tools.sse", weather_request, test::read_file(wire / "openai_chat_stream_tool_calls.sse")},
      {"reasoning.sse", R"({"model":"reasoning","input":"Hi","stream":true})",
       test::read_file(wire / "deepseek_chat_stream_reasoning.sse")},
      {"custom.sse",
       test::read_file(test::responses_fixtures() / "requests" / "codex_custom_tool.json"),
       chunk(
           R"({"tool_calls":[{"index":0,"id":"call_custom_sql_001","type":"function","function":{"name":"write_sql","arguments":"{\"input\":\"SELECT * FROM users\"}"}}]})") +
           chunk("{}", "\"tool_calls\"") + done},
      {"incomplete.sse", R"({"model":"incomplete","input":"Hi","stream":true})",
       chunk(R"({"content":"Once upon"})") + chunk("{}", "\"length\"") + done},
      {"failed.sse", R"({"model":"failed","input":"Hi","stream":true})",
       test::read_file(wire / "litellm_chat_stream_error.sse")},
      {"text.json", R"({"model":"text","input":"Hi"})", test::read_file(wire / "openai_chat.json")},
      {"tools.json", weather_request,
       R"({"id":"c","object":"chat.completion","model":"up","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})"},
  };
  const char* dir = std::getenv("SWITCHYARD_RESPONSES_TRANSCRIPTS");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto ctx = context_for(c.request);
    ctx.response_id = "resp_" + c.name.substr(0, c.name.find('.'));
    std::string out;
    if (c.name.ends_with(".json")) {
      auto r = translate_chat_response(c.chat, ctx);
      ASSERT_TRUE(r.has_value());
      test::expect_response_shape(json::parse(*r).as_object(), c.name);
      out = *r;
    } else {
      out = replay(c.chat, ctx).out;
      check_stream(out);
    }
    if (dir != nullptr) {
      std::ofstream(std::filesystem::path(dir) / c.name, std::ios::binary) << out;
    }
  }
}

}  // namespace
}  // namespace switchyard
