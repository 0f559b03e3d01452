#include "switchyard/proxy/rewrite.hpp"
#include "switchyard/proxy/response_meter.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>

namespace switchyard {
namespace {

struct parsed {
  std::string body;
  request_fields fields;
};

// Held by pointer: the fields point into the body, which must not move.
std::unique_ptr<parsed> parse(endpoint ep, std::string body, bool validate = true) {
  static simdjson::ondemand::parser parser;
  auto p = std::make_unique<parsed>();
  p->body = std::move(body);
  pad_for_simdjson(p->body);
  auto f = parse_request_body(ep, parser, p->body, validate);
  EXPECT_TRUE(f) << (f ? "" : f.error().message);
  if (f) {
    p->fields = std::move(*f);
  }
  return p;
}

boost::json::value json(std::string_view text) {
  return boost::json::parse(text);
}

TEST(rewrite, sets_replaces_and_appends_members_keeping_the_rest_byte_for_byte) {
  auto p = parse(endpoint::chat_completions,
                 R"({"model": "a",  "messages":[{"role":"user","content":"hi \"there\""}],
                     "temperature": 1.5, "tools":[{"type":"function"}]})");
  body_edit e;
  e.set.emplace_back("model", R"("gpt-4o")");
  e.set.emplace_back("temperature", "0.4");
  e.set.emplace_back("top_p", "0.9");
  auto out = apply_edit(p->body, p->fields, e);
  EXPECT_EQ(out, R"({"model": "gpt-4o","messages":[{"role":"user","content":"hi \"there\""}],)"
                 R"("temperature": 0.4,"tools":[{"type":"function"}],"top_p":0.9})");
  EXPECT_NO_THROW(json(out));
}

TEST(rewrite, removes_members_and_drops_duplicate_keys_it_replaced) {
  // Client bodies with duplicate keys are refused before this (json_validate); the rewrite still
  // copes with them, so the check is not load-bearing twice.
  auto p = parse(endpoint::chat_completions,
                 R"({"temperature":1,"model":"a","messages":[{"role":"user","content":"x"}],)"
                 R"("temperature":2,"metadata":{"k":"v"}})",
                 false);
  body_edit e;
  e.set.emplace_back("temperature", "0");
  e.remove.emplace_back("metadata");
  auto v = json(apply_edit(p->body, p->fields, e));
  EXPECT_EQ(v.at("temperature").as_int64(), 0);
  EXPECT_FALSE(v.as_object().contains("metadata"));
  EXPECT_EQ(v.as_object().size(), 3u);  // one temperature, not two
}

TEST(rewrite, inserts_a_system_message_first) {
  auto p = parse(endpoint::chat_completions,
                 R"({"model":"a","messages":[ {"role":"system","content":"old"},)"
                 R"({"role":"user","content":"q"} ]})");
  body_edit e;
  e.system_message = "Be \\\"brief\\\".";  // already JSON-escaped
  auto v = json(apply_edit(p->body, p->fields, e));
  const auto& m = v.at("messages").as_array();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].at("role"), "system");
  EXPECT_EQ(m[0].at("content"), "Be \"brief\".");
  EXPECT_EQ(m[1].at("content"), "old");
  EXPECT_EQ(m[2].at("content"), "q");
}

TEST(rewrite, replace_mode_swaps_the_clients_system_or_developer_message) {
  for (std::string role : {"system", "developer"}) {
    auto p = parse(endpoint::chat_completions,
                   R"({"model":"a","messages":[{"role":")" + role +
                       R"(","content":"old"},{"role":"user","content":"q"}]})");
    body_edit e;
    e.system_message = "new";
    e.replace_system = true;
    auto v = json(apply_edit(p->body, p->fields, e));
    const auto& m = v.at("messages").as_array();
    ASSERT_EQ(m.size(), 2u) << role;
    EXPECT_EQ(m[0].at("content"), "new");
    EXPECT_EQ(m[1].at("content"), "q");
  }
}

TEST(rewrite, replace_mode_without_a_client_system_message_inserts_and_keeps_a_lone_message) {
  auto p = parse(endpoint::chat_completions,
                 R"({"model":"a","messages":[{"role":"user","content":"q"}]})");
  body_edit e;
  e.system_message = "new";
  e.replace_system = true;
  auto m = json(apply_edit(p->body, p->fields, e)).at("messages").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].at("content"), "q");

  auto only = parse(endpoint::chat_completions,
                    R"({"model":"a","messages":[{"role":"system","content":"old"}]})");
  auto m2 = json(apply_edit(only->body, only->fields, e)).at("messages").as_array();
  ASSERT_EQ(m2.size(), 1u);
  EXPECT_EQ(m2[0].at("content"), "new");
}

TEST(rewrite, completions_prompt_is_replaced) {
  auto p = parse(endpoint::completions, R"({"model":"a","prompt":"say \"hi\"","n":2})");
  EXPECT_TRUE(p->fields.prompt_is_string);
  EXPECT_EQ(p->fields.prompt, "say \"hi\"");
  body_edit e;
  e.prompt = "Wrapped: say \\\"hi\\\"";
  auto v = json(apply_edit(p->body, p->fields, e));
  EXPECT_EQ(v.at("prompt"), "Wrapped: say \"hi\"");
  EXPECT_EQ(v.at("n").as_int64(), 2);
}

// The request path reuses one edit (cleared) and one output buffer per thread: every edit gives
// the bytes a fresh apply_edit gives, with the padding in the capacity, and once the buffer is
// as large as the bodies it sees it is not reallocated.
TEST(rewrite, a_reused_edit_and_output_buffer_give_the_same_bytes) {
  auto chat = parse(endpoint::chat_completions,
                    R"({"model":"a","messages":[{"role":"system","content":"old"},)"
                    R"({"role":"user","content":"q"}],"temperature":1,"metadata":{"k":"v"}})");
  auto comp = parse(endpoint::completions, R"({"model":"a","prompt":"say \"hi\"","n":2})");
  body_edit reused;
  std::string out(4096, '#');  // leftovers of a larger body: replaced, not appended to
  const auto fill = [](body_edit& e, int which) {
    switch (which) {
      case 0:
        e.set.emplace_back("model", R"("gpt-4o-mini")");
        e.set.emplace_back("temperature", "0.4");
        e.set.emplace_back("top_p", "0.9");  // appended
        e.system_message = "You are a helpful assistant for developers.";
        break;
      case 1:
        e.system_message = "Be concise.";
        e.replace_system = true;
        e.remove.emplace_back("metadata");
        break;
      default:
        e.set.emplace_back("stream_options", R"({"include_usage":true})");
        break;
    }
  };
  for (int round = 0; round < 2; ++round) {
    for (int which = 0; which < 3; ++which) {
      body_edit fresh;
      fill(fresh, which);
      reused.clear();
      EXPECT_TRUE(reused.empty());
      fill(reused, which);
      apply_edit_to(out, chat->body, chat->fields, reused, simdjson::SIMDJSON_PADDING);
      EXPECT_EQ(out, apply_edit(chat->body, chat->fields, fresh)) << which;
      EXPECT_GE(out.capacity(), out.size() + simdjson::SIMDJSON_PADDING);
      EXPECT_NO_THROW(json(out));
    }
    body_edit fresh;
    fresh.prompt = "Wrapped";
    reused.clear();
    reused.prompt = "Wrapped";
    apply_edit_to(out, comp->body, comp->fields, reused, simdjson::SIMDJSON_PADDING);
    EXPECT_EQ(out, apply_edit(comp->body, comp->fields, fresh));
  }
  const char* buffer = out.data();
  reused.clear();
  fill(reused, 0);
  apply_edit_to(out, chat->body, chat->fields, reused, simdjson::SIMDJSON_PADDING);
  EXPECT_EQ(out.data(), buffer);  // large enough already: no new allocation
}

TEST(rewrite, stream_usage_is_requested_only_when_the_client_did_not) {
  auto plain = parse(endpoint::chat_completions,
                     R"({"model":"a","messages":[{"role":"user","content":"q"}]})");
  EXPECT_FALSE(usage_stream_options(plain->body, plain->fields));  // not a stream

  auto asked = parse(endpoint::chat_completions,
                     R"({"model":"a","stream":true,"stream_options":{"include_usage":true},)"
                     R"("messages":[{"role":"user","content":"q"}]})");
  EXPECT_FALSE(usage_stream_options(asked->body, asked->fields));

  auto bare = parse(endpoint::chat_completions,
                    R"({"model":"a","stream":true,"messages":[{"role":"user","content":"q"}]})");
  EXPECT_EQ(usage_stream_options(bare->body, bare->fields), R"({"include_usage":true})");

  auto other = parse(endpoint::chat_completions,
                     R"({"model":"a","stream":true,"stream_options":{"include_obfuscation":false,)"
                     R"("include_usage":false},"messages":[{"role":"user","content":"q"}]})");
  auto so = usage_stream_options(other->body, other->fields);
  ASSERT_TRUE(so);
  auto v = json(*so);
  EXPECT_EQ(v.at("include_usage"), true);
  EXPECT_EQ(v.at("include_obfuscation"), false);  // the client's other options are kept
}

TEST(rewrite, strip_usage_drops_the_usage_chunk_and_null_usage_members) {
  std::string in =
      "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n"
      "data: "
      "{\"id\":\"c\",\"usage\":null,\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":null\"}}]}"
      "\n\n"
      "data: "
      "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  simdjson::ondemand::parser parser;
  response_meter m(true, 1 << 20);
  m.strip_usage(true);
  ASSERT_TRUE(m.feed(in, parser));
  EXPECT_EQ(
      m.ready(),
      "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":null\"}}]}\n\n"
      "data: [DONE]\n\n");
}

TEST(rewrite, strip_usage_meter_strips_across_chunk_boundaries_but_still_reads_usage) {
  simdjson::ondemand::parser parser;
  response_meter m(true, 1 << 20);
  m.strip_usage(true);
  std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":1,"
      "\"total_tokens\":8}}\n\ndata: [DONE]\n\n";
  std::string forwarded;
  for (std::size_t i = 0; i < stream.size(); i += 5) {  // awkward chunking
    ASSERT_TRUE(m.feed(std::string_view(stream).substr(i, 5), parser));
    forwarded += m.ready();
    m.ready().clear();
  }
  EXPECT_EQ(forwarded,
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n");
  ASSERT_TRUE(m.usage());
  EXPECT_EQ(m.usage()->prompt_tokens, 7);
  EXPECT_EQ(m.usage()->completion_tokens, 1);
}

}  // namespace
}  // namespace switchyard
