#include "switchyard/providers/anthropic_stream.hpp"

#include "anthropic_fixtures.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <functional>

namespace switchyard {
namespace {

namespace json = boost::json;
using stream = anthropic_to_chat_stream;

chat_response_context ctx(bool include_usage = true) {
  return {.model = "", .created = 1700000000, .include_usage = include_usage};
}

struct run_result {
  std::string out;
  stream::end end;
  stream::phase phase;
  bool output_started;
  anthropic_usage usage;
  std::optional<std::string> finish_reason;
  std::optional<error> failure;
};

run_result run(const std::vector<sse_event>& events, chat_response_context c = ctx()) {
  stream s(std::move(c));
  std::string out;
  for (const auto& e : events) {
    const std::size_t before = out.size();
    s.feed(e.event, e.data, out);
    // Incremental: each event appends; nothing written earlier changes.
    EXPECT_GE(out.size(), before);
  }
  return {out,       s.finish(),        s.state(),  s.output_started(),
          s.usage(), s.finish_reason(), s.failure()};
}

run_result run_fixture(std::string_view name, chat_response_context c = ctx()) {
  return run(test::sse_events(test::anthropic_fixture(name)), std::move(c));
}

// What an OpenAI client reads back from the translated stream.
struct client_view {
  std::vector<json::object> chunks;  // every data: JSON chunk
  std::size_t pings = 0;
  bool done = false;  // data: [DONE] came last
  std::string text, reasoning;
  std::vector<std::string> tool_ids, tool_names, tool_args;
  std::string finish;
  std::optional<json::object> usage;
  std::optional<json::object> error;
};

client_view read_client(const std::string& out) {
  client_view v;
  std::size_t comments = 0;
  for (std::size_t at = out.find(": ping\n\n"); at != std::string::npos;
       at = out.find(": ping\n\n", at + 1)) {
    ++comments;
  }
  v.pings = comments;
  for (const auto& e : test::sse_events(out)) {
    EXPECT_EQ(e.event, "");
    EXPECT_FALSE(v.done) << "nothing may follow [DONE]";
    if (e.data == "[DONE]") {
      v.done = true;
      continue;
    }
    boost::system::error_code ec;
    auto parsed = json::parse(e.data, ec);
    EXPECT_FALSE(ec) << e.data;
    if (ec) {
      continue;
    }
    auto& o = parsed.as_object();
    if (o.contains("error")) {
      v.error = o["error"].as_object();
      continue;
    }
    v.chunks.push_back(o);
    if (const auto* u = o.if_contains("usage"); u != nullptr && u->is_object()) {
      v.usage = u->as_object();
      EXPECT_TRUE(o["choices"].as_array().empty());
    }
    for (const auto& c : o["choices"].as_array()) {
      const auto& d = c.at("delta").as_object();
      if (const auto* t = d.if_contains("content")) {
        v.text += t->as_string();
      }
      if (const auto* t = d.if_contains("reasoning_content")) {
        v.reasoning += t->as_string();
      }
      if (const auto* calls = d.if_contains("tool_calls")) {
        for (const auto& call : calls->as_array()) {
          const auto k = static_cast<std::size_t>(call.at("index").as_int64());
          if (k >= v.tool_args.size()) {
            v.tool_ids.resize(k + 1);
            v.tool_names.resize(k + 1);
            v.tool_args.resize(k + 1);
          }
          if (const auto* id = call.as_object().if_contains("id")) {
            v.tool_ids[k] = id->as_string();
            v.tool_names[k] = call.at("function").at("name").as_string();
          }
          v.tool_args[k] += call.at("function").at("arguments").as_string();
        }
      }
      if (!c.at("finish_reason").is_null()) {
        EXPECT_TRUE(v.finish.empty()) << "one finish_reason per choice";
        v.finish = c.at("finish_reason").as_string();
      }
    }
  }
  return v;
}

TEST(anthropic_stream, sdk_basic_text_stream) {
  auto r = run_fixture("sdk_stream_basic.sse");
  EXPECT_EQ(r.end, stream::end::clean);
  EXPECT_EQ(r.phase, stream::phase::completed);
  auto v = read_client(r.out);
  EXPECT_TRUE(v.done);
  EXPECT_EQ(v.text, "Hello there!");
  EXPECT_EQ(v.finish, "stop");
  EXPECT_EQ(v.pings, 1u);
  ASSERT_TRUE(v.usage);
  EXPECT_EQ(v.usage->at("prompt_tokens"), 11);
  EXPECT_EQ(v.usage->at("completion_tokens"), 6);
  EXPECT_EQ(v.usage->at("total_tokens"), 17);
  EXPECT_EQ(r.usage.output_tokens, 6);
  EXPECT_EQ(r.finish_reason, "stop");
  // One id, created and model on every chunk; the first is the role chunk.
  ASSERT_FALSE(v.chunks.empty());
  for (const auto& c : v.chunks) {
    EXPECT_EQ(c.at("id"), "chatcmpl-4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
    EXPECT_EQ(c.at("object"), "chat.completion.chunk");
    EXPECT_EQ(c.at("created"), 1700000000);
    EXPECT_EQ(c.at("model"), "claude-opus-4-8");
    EXPECT_TRUE(c.contains("usage"));  // null on all but the usage chunk
  }
  EXPECT_EQ(v.chunks[0].at("choices").at(0).at("delta"),
            json::parse(R"({"role":"assistant","content":""})"));
  // The exact first bytes, so the chunk format itself is pinned.
  EXPECT_TRUE(r.out.starts_with(
      R"(data: {"id":"chatcmpl-4QpJur2dWWDjF6C758FbBw5vm12BaVipnK","object":"chat.completion.chunk",)"
      R"("created":1700000000,"model":"claude-opus-4-8","choices":[{"index":0,"delta":)"
      R"({"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null})"
      "\n\n"));
  EXPECT_TRUE(r.out.ends_with("data: [DONE]\n\n"));
}

TEST(anthropic_stream, without_include_usage_there_is_no_usage) {
  auto r = run_fixture("sdk_stream_basic.sse", ctx(false));
  auto v = read_client(r.out);
  EXPECT_FALSE(v.usage);
  for (const auto& c : v.chunks) {
    EXPECT_FALSE(c.contains("usage"));
  }
  EXPECT_EQ(r.usage.output_tokens, 6);  // still metered
}

TEST(anthropic_stream, sdk_tool_use_stream) {
  auto r = run_fixture("sdk_stream_tool_use.sse");
  EXPECT_EQ(r.end, stream::end::clean);
  auto v = read_client(r.out);
  EXPECT_EQ(v.text, "I'll check the current weather in Paris for you.");
  ASSERT_EQ(v.tool_args.size(), 1u);  // Anthropic's block index 1 is tool 0
  EXPECT_EQ(v.tool_ids[0], "toolu_01NRLabsLyVHZPKxbKvkfSMn");
  EXPECT_EQ(v.tool_names[0], "get_weather");
  EXPECT_EQ(json::parse(v.tool_args[0]), json::parse(R"({"location":"Paris"})"));
  EXPECT_EQ(v.finish, "tool_calls");
  EXPECT_EQ(v.usage->at("prompt_tokens"), 377);
  EXPECT_EQ(v.usage->at("completion_tokens"), 65);
}

TEST(anthropic_stream, two_tool_blocks_count_from_zero) {
  std::string sse = test::anthropic_fixture("sdk_stream_tool_use.sse");
  // A second tool block (index 2) before message_delta.
  const std::string second =
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\","
      "\"input\":{}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n";
  sse.insert(sse.find("event: message_delta"), second);
  auto v = read_client(run(test::sse_events(sse)).out);
  ASSERT_EQ(v.tool_args.size(), 2u);
  EXPECT_EQ(v.tool_ids[1], "toolu_2");
  EXPECT_EQ(v.tool_args[1], "{}");
}

TEST(anthropic_stream, sdk_thinking_and_refusal) {
  auto r = run_fixture("sdk_stream_thinking_refusal.sse");
  EXPECT_EQ(r.end, stream::end::clean);
  auto v = read_client(r.out);
  EXPECT_TRUE(v.reasoning.starts_with("Simple educational question"));
  EXPECT_EQ(v.text, "Hi");
  EXPECT_EQ(v.finish, "content_filter");
  EXPECT_EQ(r.usage.output_tokens, 106);
  EXPECT_EQ(r.usage.thinking_tokens, 67);
  EXPECT_EQ(v.usage->at("completion_tokens_details").at("reasoning_tokens"), 67);
  EXPECT_EQ(r.out.find("c3ludGhldGlj"), std::string::npos);  // the signature stays out

  chat_response_context off = ctx();
  off.reasoning = false;
  auto dropped = read_client(run_fixture("sdk_stream_thinking_refusal.sse", off).out);
  EXPECT_EQ(dropped.reasoning, "");
  EXPECT_EQ(dropped.text, "Hi");
}

TEST(anthropic_stream, sdk_max_tokens_inside_tool_input) {
  auto r = run_fixture("sdk_stream_max_tokens_partial_json.sse");
  EXPECT_EQ(r.end, stream::end::clean);
  auto v = read_client(r.out);
  EXPECT_EQ(v.finish, "length");
  EXPECT_EQ(v.tool_names.at(0), "make_file");
  EXPECT_TRUE(v.tool_args.at(0).starts_with("{\"filename\": \"taxes.txt\""));
  EXPECT_EQ(v.usage->at("prompt_tokens"), 450);
}

TEST(anthropic_stream, same_output_whatever_the_byte_boundaries) {
  for (const auto& name : test::anthropic_stream_fixtures()) {
    const std::string sse = test::anthropic_fixture(name);
    const std::string whole = run(test::sse_events(sse)).out;
    for (std::size_t stride : {1u, 2u, 3u, 7u, 64u}) {
      EXPECT_EQ(run(test::sse_events(sse, stride)).out, whole) << name << " stride " << stride;
    }
  }
}

TEST(anthropic_stream, same_output_with_reordered_members_and_spacing) {
  std::function<json::value(const json::value&)> reverse = [&](const json::value& v) {
    if (v.is_object()) {
      json::object o;
      const auto& src = v.get_object();
      for (auto it = src.end(); it != src.begin();) {
        --it;
        o[it->key()] = reverse(it->value());
      }
      return json::value(std::move(o));
    }
    return v;
  };
  for (const auto& name : test::anthropic_stream_fixtures()) {
    auto events = test::sse_events(test::anthropic_fixture(name));
    const std::string expected = run(events).out;
    for (auto& e : events) {
      e.data = " " + json::serialize(reverse(json::parse(e.data))) + "\t ";
    }
    EXPECT_EQ(run(events).out, expected) << name;
    for (auto& e : events) {
      e.event.clear();  // no event lines: the data's `type` decides
    }
    EXPECT_EQ(run(events).out, expected) << name;
  }
}

TEST(anthropic_stream, a_cut_at_every_event_is_distinguishable) {
  for (const auto& name : test::anthropic_stream_fixtures()) {
    auto events = test::sse_events(test::anthropic_fixture(name));
    const auto whole = run(events);
    for (std::size_t n = 0; n < events.size(); ++n) {
      std::vector<sse_event> prefix(events.begin(), events.begin() + static_cast<long>(n));
      auto r = run(prefix);
      const bool reached_end = r.end != stream::end::cut;
      if (whole.end == stream::end::clean) {
        EXPECT_FALSE(reached_end) << name << " cut after " << n << " events";
        EXPECT_EQ(r.out.find("[DONE]"), std::string::npos) << name << " " << n;
      }
      EXPECT_TRUE(whole.out.starts_with(r.out)) << name << " " << n;
    }
  }
  // The phases named in the brief: after message_start, inside a tool's JSON, before stop.
  auto events = test::sse_events(test::anthropic_fixture("sdk_stream_tool_use.sse"));
  auto after_start = run({events.begin(), events.begin() + 1});
  EXPECT_EQ(after_start.end, stream::end::cut);
  EXPECT_EQ(after_start.phase, stream::phase::streaming);
  EXPECT_FALSE(after_start.output_started);  // the role chunk alone: still retryable
  auto mid_json = run({events.begin(), events.begin() + 9});
  EXPECT_EQ(mid_json.end, stream::end::cut);
  EXPECT_TRUE(mid_json.output_started);
  auto before_stop = run({events.begin(), events.end() - 1});
  EXPECT_EQ(before_stop.end, stream::end::cut);
  EXPECT_EQ(before_stop.finish_reason, "tool_calls");
  EXPECT_EQ(run({}).end, stream::end::cut);
  EXPECT_EQ(run({}).phase, stream::phase::awaiting_start);
}

TEST(anthropic_stream, unknown_events_and_deltas_are_ignored) {
  auto events = test::sse_events(test::anthropic_fixture("sdk_stream_basic.sse"));
  const std::string expected = run(events).out;
  std::vector<sse_event> noisy;
  for (const auto& e : events) {
    noisy.push_back(e);
    sse_event future;
    future.event = "content_block_future";
    future.data = "not even json";
    noisy.push_back(future);
    sse_event unnamed;
    unnamed.data = R"({"type":"brand_new_event","x":1})";
    noisy.push_back(unnamed);
    sse_event delta;
    delta.event = "content_block_delta";
    delta.data = R"({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}})";
    noisy.push_back(delta);
    if (e.event == "message_stop") {
      break;
    }
  }
  noisy.insert(noisy.begin() + 1, events[0]);  // a repeated message_start changes nothing
  EXPECT_EQ(run(noisy).out, expected);
}

TEST(anthropic_stream, error_event_after_output) {
  auto r = run_fixture("stream_error_overloaded.sse");
  EXPECT_EQ(r.end, stream::end::failed);
  EXPECT_EQ(r.phase, stream::phase::failed);
  auto v = read_client(r.out);
  EXPECT_FALSE(v.done);
  EXPECT_EQ(v.text, "Hello");
  ASSERT_TRUE(v.error);
  EXPECT_EQ(*v.error, json::parse(R"({"message":"Overloaded","type":"server_error","param":null,
    "code":"overloaded_error"})"));
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->status, 503u);
  EXPECT_EQ(r.failure->retry, retry_mode::no);  // output reached the client
}

TEST(anthropic_stream, error_event_before_output_is_retryable) {
  auto events = test::sse_events(test::anthropic_fixture("stream_error_overloaded.sse"));
  std::vector<sse_event> early{events.front(), events.back()};
  auto r = run(early);
  EXPECT_EQ(r.end, stream::end::failed);
  EXPECT_FALSE(r.output_started);
  EXPECT_EQ(r.failure->retry, retry_mode::yes);
  // Before message_start too (an error as the first event).
  auto first = run({events.back()});
  EXPECT_EQ(first.end, stream::end::failed);
  EXPECT_TRUE(read_client(first.out).error);
}

TEST(anthropic_stream, malformed_data_fails_without_crashing) {
  auto events = test::sse_events(test::anthropic_fixture("sdk_stream_basic.sse"));
  for (std::string_view bad :
       {"{", "", "[1]", "\"text\"", R"({"type":"content_block_delta","index":"zero"})",
        R"({"type":"content_block_start","index":0})", R"({"type":"message_start"})"}) {
    for (std::size_t at = 0; at < events.size(); ++at) {
      auto broken = events;
      broken[at].data = bad;
      if (broken[at].event == "content_block_stop" || broken[at].event == "message_stop" ||
          broken[at].event == "ping" || broken[at].event == "message_delta") {
        // These accept any object; only non-objects break them.
        if (bad.starts_with("{\"")) {
          continue;
        }
      }
      auto r = run(broken);
      if (r.phase == stream::phase::failed) {
        auto v = read_client(r.out);
        ASSERT_TRUE(v.error) << bad;
        EXPECT_EQ(v.error->at("code"), "upstream_broken");
        EXPECT_FALSE(v.done);
        EXPECT_EQ(r.failure->code, errc::upstream_broken);
      }
      if (!bad.starts_with("{\"")) {
        EXPECT_EQ(r.phase, stream::phase::failed) << bad << " at " << at;
      }
    }
  }
  // Content before message_start.
  auto r = run({events.begin() + 1, events.end()});
  EXPECT_EQ(r.end, stream::end::failed);
}

TEST(anthropic_stream, nothing_after_the_end) {
  auto events = test::sse_events(test::anthropic_fixture("sdk_stream_basic.sse"));
  const std::string expected = run(events).out;
  auto more = events;
  more.insert(more.end(), events.begin() + 1, events.end());
  EXPECT_EQ(run(more).out, expected);
}

TEST(anthropic_stream, a_message_stop_without_message_delta_still_finishes) {
  auto events = test::sse_events(test::anthropic_fixture("sdk_stream_basic.sse"));
  std::vector<sse_event> without;
  for (const auto& e : events) {
    if (e.event != "message_delta") {
      without.push_back(e);
    }
  }
  auto v = read_client(run(without).out);
  EXPECT_EQ(v.finish, "stop");
  EXPECT_TRUE(v.done);
}

TEST(anthropic_stream, model_override_and_escaping) {
  std::vector<sse_event> events = test::sse_events(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
      "\"msg_\\\"q\\\"\",\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"a\\u0000\\n\\\"\"}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  chat_response_context c = ctx();
  c.model = "alias \"x\"";
  auto r = run(events, c);
  auto v = read_client(r.out);
  EXPECT_EQ(v.text, std::string("a\0\n\"", 4));
  EXPECT_EQ(v.chunks.at(0).at("model"), "alias \"x\"");
  EXPECT_EQ(v.chunks.at(0).at("id"), "chatcmpl-\"q\"");
}

}  // namespace
}  // namespace switchyard
