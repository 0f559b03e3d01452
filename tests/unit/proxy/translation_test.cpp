// The translation plan per target and the composed request/response translations
// (proxy/translation.hpp), over the Anthropic fixtures (tests/fixtures/providers/anthropic,
// sources in its SOURCES.md).

#include "switchyard/proxy/translation.hpp"

#include "../providers/anthropic_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchyard {
namespace {

namespace json = boost::json;

upstream_config upstream(std::string name, upstream_type kind, api_set apis) {
  upstream_config u;
  u.name = std::move(name);
  u.kind = kind;
  u.apis = apis;
  return u;
}

const api_set chat_only = api_bit(api_kind::chat);
const api_set openai_default =
    api_bit(api_kind::chat) | api_bit(api_kind::completions) | api_bit(api_kind::embeddings);
const api_set with_responses = openai_default | api_bit(api_kind::responses);
const api_set messages_only = api_bit(api_kind::messages);

TEST(translation_plan, the_clients_api_passes_through_where_the_upstream_serves_it) {
  const auto oa = upstream("openai", upstream_type::openai, with_responses);
  for (endpoint ep : {endpoint::chat_completions, endpoint::completions, endpoint::embeddings,
                      endpoint::responses}) {
    auto p = plan_translation(ep, oa, "m");
    ASSERT_TRUE(p) << endpoint_label(ep);
    EXPECT_EQ(p->kind, translation::none);
    EXPECT_EQ(p->upstream, ep);
  }
  auto m = plan_translation(endpoint::messages,
                            upstream("claude", upstream_type::anthropic, messages_only), "m");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, translation::none);
  EXPECT_EQ(m->upstream, endpoint::messages);
}

TEST(translation_plan, responses_go_through_chat_and_chat_goes_to_messages) {
  auto p = plan_translation(endpoint::responses,
                            upstream("local", upstream_type::openai, chat_only), "m");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, translation::responses_to_chat);
  EXPECT_EQ(p->upstream, endpoint::chat_completions);
  EXPECT_EQ(p->upstream_api(), api_kind::chat);

  const auto claude = upstream("claude", upstream_type::anthropic, messages_only);
  p = plan_translation(endpoint::chat_completions, claude, "m");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, translation::chat_to_messages);
  EXPECT_EQ(p->upstream, endpoint::messages);
  EXPECT_EQ(p->upstream_api(), api_kind::messages);

  p = plan_translation(endpoint::responses, claude, "m");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, translation::responses_to_messages);
  EXPECT_EQ(p->upstream, endpoint::messages);
  EXPECT_TRUE(maps_anthropic_errors(p->kind));
  EXPECT_FALSE(maps_anthropic_errors(translation::responses_to_chat));
}

TEST(translation_plan, what_cannot_be_translated_is_refused_naming_model_and_upstream) {
  const auto claude = upstream("claude", upstream_type::anthropic, messages_only);
  for (endpoint ep : {endpoint::embeddings, endpoint::completions}) {
    auto p = plan_translation(ep, claude, "sonnet");
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, errc::invalid_request);
    EXPECT_EQ(p.error().param, "model");
    EXPECT_NE(p.error().message.find("`sonnet`"), std::string::npos) << p.error().message;
    EXPECT_NE(p.error().message.find("upstream claude (type anthropic)"), std::string::npos)
        << p.error().message;
  }
  auto m = plan_translation(endpoint::messages,
                            upstream("openai", upstream_type::openai, openai_default), "gpt");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("Anthropic Messages"), std::string::npos);
  EXPECT_NE(m.error().message.find("does not translate"), std::string::npos);
  // Chat on an upstream that only serves Responses: nothing translates chat to Responses.
  auto c = plan_translation(endpoint::chat_completions,
                            upstream("r", upstream_type::openai, api_bit(api_kind::responses)),
                            "x");
  EXPECT_FALSE(c);
}

request_translation_inputs inputs(std::string_view model) {
  return {.upstream_model = model,
          .default_max_tokens = 1234,
          .request_id = "req-1",
          .unix_seconds = 1700000000,
          .strip_usage = false};
}

TEST(translate_request, chat_to_messages_names_the_upstream_model_and_a_default_max_tokens) {
  response_translation rt;
  auto body = translate_request(
      {translation::chat_to_messages, endpoint::messages},
      R"({"model":"gw","stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})",
      inputs("claude-x"), rt);
  ASSERT_TRUE(body) << body.error().message;
  auto v = json::parse(*body).as_object();
  EXPECT_EQ(v["model"], "claude-x");
  EXPECT_EQ(v["max_tokens"], 1234);
  EXPECT_EQ(v["system"], "be brief");
  EXPECT_EQ(rt.kind, translation::chat_to_messages);
  EXPECT_TRUE(rt.chat.include_usage);
  EXPECT_EQ(rt.chat.created, 1700000000);

  // Usage the gateway injected is not the client's: no usage chunk for it.
  auto in = inputs("claude-x");
  in.strip_usage = true;
  ASSERT_TRUE(translate_request({translation::chat_to_messages, endpoint::messages},
                                R"({"model":"gw","stream":true,"stream_options":)"
                                R"({"include_usage":true},"messages":[{"role":"user","content":"hi"}]})",
                                in, rt));
  EXPECT_FALSE(rt.chat.include_usage);
}

TEST(translate_request, responses_to_chat_sets_the_upstream_model_and_one_response_id) {
  response_translation rt;
  auto body = translate_request({translation::responses_to_chat, endpoint::chat_completions},
                                R"({"model":"gw","instructions":"x","input":"hi","stream":true})",
                                inputs("llama3"), rt);
  ASSERT_TRUE(body) << body.error().message;
  auto v = json::parse(*body).as_object();
  EXPECT_EQ(v["model"], "llama3");
  EXPECT_EQ(v["messages"].as_array()[0].as_object()["role"], "system");
  EXPECT_EQ(rt.responses.response_id, "resp_req-1");
  EXPECT_EQ(rt.responses.created_at, 1700000000);
  EXPECT_EQ(rt.responses.model, "gw");  // the Response echoes the requested model
}

TEST(translate_request, responses_refusals_are_400_naming_the_param) {
  response_translation rt;
  auto r = translate_request({translation::responses_to_chat, endpoint::chat_completions},
                             R"({"model":"gw","input":"hi","store":true})", inputs("m"), rt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_EQ(r.error().param, "store");
  r = translate_request({translation::responses_to_messages, endpoint::messages},
                        R"({"model":"gw","input":"hi","previous_response_id":"resp_1"})",
                        inputs("m"), rt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "previous_response_id");
}

TEST(translate_request, responses_to_messages_chains_both_translations) {
  response_translation rt;
  auto body = translate_request({translation::responses_to_messages, endpoint::messages},
                                R"({"model":"gw","instructions":"be brief","input":"hi",)"
                                R"("max_output_tokens":77})",
                                inputs("claude-x"), rt);
  ASSERT_TRUE(body) << body.error().message;
  auto v = json::parse(*body).as_object();
  EXPECT_EQ(v["model"], "claude-x");
  EXPECT_EQ(v["system"], "be brief");
  EXPECT_EQ(v["max_tokens"], 77);
  EXPECT_TRUE(rt.chat.include_usage);  // the Response needs the usage chunk
}

// Feeds `sse` event by event through a translator; returns the output.
std::string run(response_translator& t, std::string_view sse) {
  sse_parser p(1 << 20);
  std::vector<sse_event> events;
  EXPECT_TRUE(p.feed(sse, events));
  std::string out;
  for (const auto& e : events) {
    t.feed(e.event, e.data, out);
  }
  return out;
}

std::vector<sse_event> events_of(std::string_view sse) {
  sse_parser p(1 << 20);
  std::vector<sse_event> events;
  EXPECT_TRUE(p.feed(sse, events));
  return events;
}

TEST(response_translator, chat_client_on_an_anthropic_stream_gets_chunks_usage_and_done) {
  response_translation rt{.kind = translation::chat_to_messages};
  rt.chat.include_usage = true;
  response_translator t(rt, 1 << 20);
  EXPECT_FALSE(t.output_started());
  std::string out = run(t, test::anthropic_fixture("sdk_stream_tool_use.sse"));
  EXPECT_TRUE(t.output_started());
  EXPECT_EQ(t.finish(out), std::nullopt);
  EXPECT_NE(out.find("\"tool_calls\""), std::string::npos);
  EXPECT_NE(out.find("\"finish_reason\":\"tool_calls\""), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 14), "data: [DONE]\n\n");
  ASSERT_TRUE(t.usage());
  EXPECT_EQ(t.usage()->prompt_tokens, 377);
  EXPECT_GT(t.usage()->completion_tokens, 0);
}

TEST(response_translator, an_overloaded_error_event_before_output_is_a_retryable_failure) {
  response_translation rt{.kind = translation::chat_to_messages};
  response_translator t(rt, 1 << 20);
  const std::string sse =
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("content":[],"model":"c","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}})"
      "\n\nevent: error\ndata: "
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
      "\n\n";
  std::string out = run(t, sse);
  EXPECT_FALSE(t.output_started());
  ASSERT_TRUE(t.failure());
  EXPECT_NE(t.failure()->retry, retry_mode::no);
}

TEST(response_translator, a_cut_anthropic_stream_ends_with_the_clients_error) {
  const std::string full = test::anthropic_fixture("sdk_stream_basic.sse");
  const auto evs = events_of(full);
  ASSERT_GT(evs.size(), 4u);
  const std::string cut = full.substr(0, static_cast<std::size_t>(evs[3].end));
  {
    response_translator t({.kind = translation::chat_to_messages}, 1 << 20);
    std::string out = run(t, cut);
    auto e = t.finish(out);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, errc::upstream_broken);
    EXPECT_NE(out.rfind("data: {\"error\""), std::string::npos);
    EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  }
  {
    response_translation rt{.kind = translation::responses_to_messages};
    rt.chat.include_usage = true;
    rt.responses.response_id = "resp_x";
    response_translator t(rt, 1 << 20);
    std::string out = run(t, cut);
    ASSERT_TRUE(t.finish(out));
    const auto client = events_of(out);
    ASSERT_GE(client.size(), 2u);
    EXPECT_EQ(client[client.size() - 2].event, "error");
    EXPECT_EQ(client.back().event, "response.failed");
  }
}

TEST(response_translator, responses_client_on_an_anthropic_stream_gets_one_numbered_stream) {
  response_translation rt{.kind = translation::responses_to_messages};
  rt.chat.include_usage = true;
  rt.responses.response_id = "resp_abc";
  rt.responses.created_at = 1700000000;
  response_translator t(rt, 1 << 20);
  std::string out = run(t, test::anthropic_fixture("sdk_stream_basic.sse"));
  EXPECT_EQ(t.finish(out), std::nullopt);
  const auto client = events_of(out);
  ASSERT_GE(client.size(), 4u);
  EXPECT_EQ(client.front().event, "response.created");
  EXPECT_EQ(client.back().event, "response.completed");
  std::int64_t seq = 0;
  for (const auto& e : client) {
    auto o = json::parse(e.data).as_object();
    EXPECT_EQ(std::string_view(o["type"].as_string()), e.event);
    EXPECT_EQ(o["sequence_number"], seq++);
    if (auto* r = o.if_contains("response")) {
      EXPECT_EQ(r->as_object().at("id"), "resp_abc");
    }
  }
  auto done = json::parse(client.back().data).as_object();
  EXPECT_EQ(done["response"].as_object()["usage"].as_object()["input_tokens"], 11);
  ASSERT_TRUE(t.usage());
  EXPECT_EQ(t.usage()->prompt_tokens, 11);
}

TEST(translate_response_body, messages_become_chat_and_responses_with_usage) {
  const std::string msg = test::anthropic_fixture("docs_message_text.json");
  auto chat = translate_response_body({.kind = translation::chat_to_messages}, msg);
  ASSERT_TRUE(chat) << chat.error().message;
  auto v = json::parse(chat->body).as_object();
  EXPECT_EQ(v["object"], "chat.completion");
  EXPECT_EQ(v["choices"].as_array()[0].as_object()["message"].as_object()["content"],
            "Hi! My name is Claude.");
  ASSERT_TRUE(chat->usage);
  EXPECT_EQ(chat->usage->prompt_tokens, 2095);
  EXPECT_EQ(chat->usage->completion_tokens, 503);

  response_translation rt{.kind = translation::responses_to_messages};
  rt.responses.response_id = "resp_1";
  auto resp = translate_response_body(rt, msg);
  ASSERT_TRUE(resp) << resp.error().message;
  auto r = json::parse(resp->body).as_object();
  EXPECT_EQ(r["object"], "response");
  EXPECT_EQ(r["id"], "resp_1");
  EXPECT_EQ(r["status"], "completed");
  EXPECT_EQ(resp->usage->prompt_tokens, 2095);

  rt.kind = translation::responses_to_chat;
  auto from_chat = translate_response_body(
      rt, R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
          R"("message":{"role":"assistant","content":"yo"},"finish_reason":"stop"}],)"
          R"("usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6,)"
          R"("prompt_tokens_details":{"cached_tokens":3}}})");
  ASSERT_TRUE(from_chat) << from_chat.error().message;
  EXPECT_EQ(from_chat->usage->prompt_tokens, 4);
  EXPECT_EQ(from_chat->usage->cache_read_tokens, 3);
  EXPECT_FALSE(translate_response_body({.kind = translation::chat_to_messages}, "<html>"));
}

}  // namespace
}  // namespace switchyard
