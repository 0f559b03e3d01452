#include "switchyard/providers/responses_chat.hpp"

#include "responses_check.hpp"
#include "switchyard/providers/responses_stream.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace switchyard {
namespace {

namespace json = boost::json;

std::string request_fixture(std::string_view name) {
  return test::read_file(test::responses_fixtures() / "requests" / name);
}

/// The chat body of a translation that must succeed.
json::object chat(std::string_view body, const responses_request_options& o = {}) {
  auto t = translate_responses_request(body, o);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message + " param=" + t.error().param);
  if (!t) {
    return {};
  }
  return json::parse(t->body).as_object();
}

/// The error of a translation that must be refused.
error refused(std::string_view body) {
  auto t = translate_responses_request(body);
  EXPECT_FALSE(t.has_value()) << body;
  return t ? error{} : t.error();
}

TEST(responses_chat, string_input_and_instructions_become_system_and_user_messages) {
  auto c = chat(R"({"model":"gpt-5.4","instructions":"You are a helpful assistant.",)"
                R"("input":"Hello!","stream":true})");
  EXPECT_EQ(c.at("model"), "gpt-5.4");
  EXPECT_EQ(c.at("messages"),
            json::parse(R"([{"role":"system","content":"You are a helpful assistant."},
                                             {"role":"user","content":"Hello!"}])"));
  EXPECT_EQ(c.at("stream"), true);
  EXPECT_EQ(c.at("stream_options"), json::parse(R"({"include_usage":true})"));
  auto plain = chat(R"({"model":"m","input":"Hi"})");
  EXPECT_FALSE(plain.contains("stream"));
  EXPECT_FALSE(plain.contains("stream_options"));
}

TEST(responses_chat, gateway_instructions_replace_the_clients_but_the_echo_keeps_them) {
  responses_request_options o;
  o.instructions = "Experiment prompt v2";
  auto t = translate_responses_request(R"({"model":"m","instructions":"client","input":"Hi"})", o);
  ASSERT_TRUE(t.has_value());
  auto c = json::parse(t->body).as_object();
  EXPECT_EQ(c.at("messages").at(0),
            json::parse(R"({"role":"system","content":"Experiment prompt v2"})"));
  EXPECT_EQ(c.at("messages").as_array().size(), 2u);
  EXPECT_EQ(t->context.echo.at("instructions"), "client");
  // Without client instructions the gateway's still lead.
  auto c2 = chat(R"({"model":"m","input":"Hi"})", o);
  EXPECT_EQ(c2.at("messages").at(0).at("content"), "Experiment prompt v2");
}

TEST(responses_chat, ai_sdk_settings_request) {
  auto c = chat(request_fixture("aisdk_settings.json"));
  EXPECT_EQ(c.at("messages"),
            json::parse(R"([{"role":"system","content":"You are a helpful assistant."},
                            {"role":"user","content":"Hello"}])"));
  EXPECT_EQ(c.at("temperature"), 0.5);
  EXPECT_EQ(c.at("top_p"), 0.3);
  EXPECT_FALSE(c.contains("max_tool_calls"));  // built-in tools only: nothing to forward
}

TEST(responses_chat, ai_sdk_tool_round_trip_becomes_tool_calls_and_tool_messages) {
  auto t = translate_responses_request(request_fixture("aisdk_tool_roundtrip.json"));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_TRUE(t->stream);
  auto c = json::parse(t->body).as_object();
  const auto& m = c.at("messages").as_array();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].at("role"), "user");
  EXPECT_EQ(m[1], json::parse(R"({"role":"assistant","content":null,"tool_calls":[
      {"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"location\":\"San Francisco\"}"}},
      {"id":"call_b","type":"function","function":{"name":"cityAttractions","arguments":"{\"city\":\"San Francisco\"}"}}]})"));
  EXPECT_EQ(m[2],
            json::parse(R"({"role":"tool","tool_call_id":"call_a","content":"{\"results\":[]}"})"));
  EXPECT_EQ(m[3].at("tool_call_id"), "call_b");
  EXPECT_EQ(c.at("tools").at(0), json::parse(R"({"type":"function","function":{"name":"weather",
      "description":"Get the weather in a location","parameters":{"type":"object","properties":
      {"location":{"type":"string","description":"The location to get the weather for"}},
      "required":["location"],"additionalProperties":false},"strict":true}})"));
  EXPECT_EQ(c.at("tool_choice"), "auto");
  EXPECT_FALSE(c.contains("parallel_tool_calls"));
  // The echo has every member the FunctionTool schema requires.
  for (const auto& tool : t->context.echo.at("tools").as_array()) {
    test::expect_required(tool.as_object(), "function_tool", "echo");
  }
  EXPECT_TRUE(t->context.echo.at("tools").at(1).at("description").is_null());
}

TEST(responses_chat, assistant_text_then_calls_share_one_message) {
  auto c = chat(R"({"model":"m","input":[{"role":"user","content":"q"},
      {"role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},
      {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
      {"type":"function_call_output","call_id":"c1","output":"42"},
      {"type":"function_call","call_id":"c2","name":"f","arguments":"{}"}]})");
  const auto& m = c.at("messages").as_array();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].at("content"), "Let me check.");
  EXPECT_EQ(m[1].at("tool_calls").as_array().size(), 1u);
  EXPECT_EQ(m[3].at("role"), "assistant");  // a call after a tool result starts a new message
  EXPECT_EQ(m[3].at("tool_calls").at(0).at("id"), "c2");
}

TEST(responses_chat, codex_custom_tool_request) {
  auto t = translate_responses_request(request_fixture("codex_custom_tool.json"));
  ASSERT_TRUE(t.has_value()) << t.error().message << " " << t.error().param;
  auto c = json::parse(t->body).as_object();
  const auto& m = c.at("messages").as_array();
  ASSERT_EQ(m.size(),
            5u);  // instructions, developer, user, the call, its output (reasoning dropped)
  EXPECT_EQ(m[0].at("content"), "You are a coding agent.");
  EXPECT_EQ(m[1], json::parse(R"({"role":"system","content":"Use the write_sql tool."})"));
  EXPECT_EQ(
      m[3].at("tool_calls").at(0).at("function"),
      json::parse(
          R"({"name":"write_sql","arguments":"{\"input\":\"SELECT * FROM users WHERE age > 25\"}"})"));
  EXPECT_EQ(
      m[4],
      json::parse(R"({"role":"tool","tool_call_id":"call_custom_sql_001","content":"3 rows"})"));
  const auto& fn = c.at("tools").at(0).at("function").as_object();
  EXPECT_EQ(fn.at("name"), "write_sql");
  EXPECT_EQ(fn.at("parameters"),
            json::parse(R"({"type":"object","properties":{"input":{"type":"string"}},
      "required":["input"],"additionalProperties":false})"));
  const std::string description(fn.at("description").as_string());
  EXPECT_NE(description.find("Write a SQL SELECT query"), std::string::npos);
  EXPECT_NE(description.find("regex grammar:\nSELECT .+"), std::string::npos);
  EXPECT_EQ(c.at("tool_choice"), "required");
  EXPECT_EQ(c.at("parallel_tool_calls"), false);
  EXPECT_EQ(c.at("reasoning_effort"), "low");
  EXPECT_EQ(c.at("prompt_cache_key"), "session-1");
  EXPECT_EQ(t->context.custom_tools, std::vector<std::string>{"write_sql"});
  EXPECT_EQ(t->context.echo.at("tools").at(0).at("type"), "custom");
  EXPECT_EQ(t->context.echo.at("reasoning"), json::parse(R"({"effort":"low","summary":"auto"})"));
  EXPECT_EQ(t->context.echo.at("parallel_tool_calls"), false);
}

TEST(responses_chat, store_true_is_refused_absent_and_false_are_not) {
  auto e = refused(R"({"model":"m","input":"Hi","store":true})");
  EXPECT_EQ(e.code, errc::invalid_request);
  EXPECT_EQ(e.param, "store");
  EXPECT_NE(e.message.find("store: false"), std::string::npos);
  for (const char* ok :
       {R"({"model":"m","input":"Hi"})", R"({"model":"m","input":"Hi","store":false})",
        R"({"model":"m","input":"Hi","store":null})"}) {
    auto t = translate_responses_request(ok);
    ASSERT_TRUE(t.has_value()) << ok;
    EXPECT_EQ(t->context.echo.at("store"), false);
    EXPECT_FALSE(json::parse(t->body).as_object().contains("store"));
  }
  EXPECT_EQ(refused(R"({"model":"m","input":"Hi","store":"yes"})").param, "store");
}

TEST(responses_chat, stateful_features_are_refused_with_their_param) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"m","input":"Hi","previous_response_id":"resp_1"})", "previous_response_id"},
      {R"({"model":"m","input":"Hi","conversation":"conv_1"})", "conversation"},
      {R"({"model":"m","input":"Hi","conversation":{"id":"conv_1"}})", "conversation"},
      {R"({"model":"m","input":"Hi","background":true})", "background"},
      {R"({"model":"m","input":"Hi","prompt":{"id":"pmpt_1"}})", "prompt"},
      {R"({"model":"m","input":"Hi","context_management":[{"type":"compaction"}]})",
       "context_management"},
      {R"({"model":"m","input":"Hi","top_logprobs":3})", "top_logprobs"},
  };
  for (const auto& [body, param] : cases) {
    auto e = refused(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_EQ(e.param, param) << body;
    EXPECT_EQ(describe(e.code).status, boost::beast::http::status::bad_request);
  }
  // Their null / false / empty forms are fine.
  chat(R"({"model":"m","input":"Hi","previous_response_id":null,"conversation":null,
           "background":false,"prompt":null,"context_management":[],"top_logprobs":0})");
}

TEST(responses_chat, item_reference_from_the_ai_sdk_is_refused_with_its_param) {
  auto e = refused(request_fixture("aisdk_item_reference.json"));
  EXPECT_EQ(e.param, "input[0]");
  EXPECT_NE(e.message.find("store: false"), std::string::npos);
}

TEST(responses_chat, built_in_tools_are_refused_with_their_param) {
  for (const char* type :
       {"web_search", "web_search_preview", "file_search", "computer_use_preview",
        "code_interpreter", "image_generation", "mcp", "local_shell", "shell", "apply_patch"}) {
    const std::string body = std::string(R"({"model":"m","input":"Hi","tools":[{"type":"function",)"
                                         R"("name":"f"},{"type":")") +
                             type + R"("}]})";
    auto e = refused(body);
    EXPECT_EQ(e.param, "tools[1].type") << type;
    EXPECT_NE(e.message.find(type), std::string::npos);
  }
  EXPECT_EQ(refused(R"({"model":"m","input":"Hi","tools":[{"type":"function","name":"f"}],
                      "tool_choice":{"type":"file_search"}})")
                .param,
            "tool_choice.type");
}

TEST(responses_chat, tool_choice_forms) {
  const std::string tools =
      R"("tools":[{"type":"function","name":"f"},{"type":"function","name":"g"},)"
      R"({"type":"custom","name":"patch"}])";
  auto fn = chat(R"({"model":"m","input":"Hi",)" + tools +
                 R"(,"tool_choice":{"type":"function","name":"g"}})");
  EXPECT_EQ(fn.at("tool_choice"), json::parse(R"({"type":"function","function":{"name":"g"}})"));
  auto custom = chat(R"({"model":"m","input":"Hi",)" + tools +
                     R"(,"tool_choice":{"type":"custom","name":"patch"}})");
  EXPECT_EQ(custom.at("tool_choice"),
            json::parse(R"({"type":"function","function":{"name":"patch"}})"));
  auto allowed =
      chat(R"({"model":"m","input":"Hi",)" + tools +
           R"(,"tool_choice":{"type":"allowed_tools","mode":"required",)"
           R"("tools":[{"type":"function","name":"g"},{"type":"custom","name":"patch"}]}})");
  EXPECT_EQ(allowed.at("tool_choice"), "required");
  ASSERT_EQ(allowed.at("tools").as_array().size(), 2u);
  EXPECT_EQ(allowed.at("tools").at(0).at("function").at("name"), "g");
  EXPECT_EQ(
      chat(R"({"model":"m","input":"Hi",)" + tools + R"(,"tool_choice":"none"})").at("tool_choice"),
      "none");
  // No tools: no tool_choice and no parallel_tool_calls upstream (OpenAI refuses them).
  auto none = chat(R"({"model":"m","input":"Hi","tool_choice":"auto","parallel_tool_calls":true})");
  EXPECT_FALSE(none.contains("tool_choice"));
  EXPECT_FALSE(none.contains("parallel_tool_calls"));
  EXPECT_EQ(refused(R"({"model":"m","input":"Hi","tools":[{"type":"function","name":"f"},
                      {"type":"custom","name":"f"}]})")
                .param,
            "tools[1].name");
}

TEST(responses_chat, text_format_becomes_response_format) {
  auto schema = chat(R"({"model":"m","input":"Hi","text":{"format":{"type":"json_schema",
      "name":"event","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}}}},
      "verbosity":"low"}})");
  EXPECT_EQ(schema.at("response_format"), json::parse(R"({"type":"json_schema","json_schema":
      {"name":"event","schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true}})"));
  EXPECT_EQ(schema.at("verbosity"), "low");
  EXPECT_EQ(chat(R"({"model":"m","input":"Hi","text":{"format":{"type":"json_object"}}})")
                .at("response_format"),
            json::parse(R"({"type":"json_object"})"));
  EXPECT_FALSE(chat(R"({"model":"m","input":"Hi","text":{"format":{"type":"text"}}})")
                   .contains("response_format"));
  EXPECT_EQ(refused(R"({"model":"m","input":"Hi","text":{"format":{"type":"json_schema"}}})").param,
            "text.format.name");
}

TEST(responses_chat, sampling_and_identity_members) {
  auto c = chat(R"({"model":"m","input":"Hi","max_output_tokens":256,"temperature":0.2,
      "top_p":0.9,"user":"u1","safety_identifier":"s1","metadata":{"k":"v"},"service_tier":"flex"})");
  EXPECT_EQ(c.at("max_completion_tokens"), 256);
  EXPECT_EQ(c.at("temperature"), 0.2);
  EXPECT_EQ(c.at("top_p"), 0.9);
  EXPECT_EQ(c.at("user"), "u1");
  EXPECT_EQ(c.at("safety_identifier"), "s1");
  EXPECT_EQ(c.at("service_tier"), "flex");
  EXPECT_FALSE(c.contains("metadata"));  // echoed, not forwarded (see the header)
  responses_request_options o;
  o.max_tokens = max_tokens_field::max_tokens;
  auto legacy = chat(R"({"model":"m","input":"Hi","max_output_tokens":256})", o);
  EXPECT_EQ(legacy.at("max_tokens"), 256);
  EXPECT_FALSE(legacy.contains("max_completion_tokens"));
  auto t = translate_responses_request(R"({"model":"m","input":"Hi","metadata":{"k":"v"}})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->context.echo.at("metadata"), json::parse(R"({"k":"v"})"));
}

TEST(responses_chat, content_parts) {
  auto c = chat(R"({"model":"m","input":[{"role":"user","content":[
      {"type":"input_text","text":"what is in this image?"},
      {"type":"input_image","image_url":"https://example.com/a.jpg","detail":"low"},
      {"type":"input_file","file_data":"data:application/pdf;base64,AAAA","filename":"a.pdf"}]}]})");
  EXPECT_EQ(c.at("messages").at(0).at("content"), json::parse(R"([
      {"type":"text","text":"what is in this image?"},
      {"type":"image_url","image_url":{"url":"https://example.com/a.jpg","detail":"low"}},
      {"type":"file","file":{"file_data":"data:application/pdf;base64,AAAA","filename":"a.pdf"}}])"));
  EXPECT_EQ(refused(R"({"model":"m","input":[{"role":"user","content":[
      {"type":"input_image","file_id":"file-1","detail":"auto"}]}]})")
                .param,
            "input[0].content[0].image_url");
  EXPECT_EQ(refused(R"({"model":"m","input":[{"role":"system","content":[
      {"type":"input_image","image_url":"https://example.com/a.jpg"}]}]})")
                .param,
            "input[0].content[0].type");
  auto refusal = chat(R"({"model":"m","input":[{"role":"assistant","content":[
      {"type":"refusal","refusal":"No."}]}]})");
  EXPECT_EQ(refusal.at("messages").at(0),
            json::parse(R"({"role":"assistant","refusal":"No.","content":null})"));
}

TEST(responses_chat, invalid_requests_name_the_param) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", ""},
      {"[1]", ""},
      {R"({"input":"Hi"})", "model"},
      {R"({"model":3,"input":"Hi"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":3})", "input"},
      {R"({"model":"m","input":[{"role":"tool","content":"x"}]})", "input[0].role"},
      {R"({"model":"m","input":[{"type":"web_search_call","id":"ws_1"}]})", "input[0].type"},
      {R"({"model":"m","input":[3]})", "input[0]"},
      {R"({"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]})",
       "input[0].call_id"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c"}]})",
       "input[0].output"},
      {R"({"model":"m","input":"Hi","stream":"yes"})", "stream"},
      {R"({"model":"m","input":"Hi","temperature":"hot"})", "temperature"},
      {R"({"model":"m","input":"Hi","max_output_tokens":1.5})", "max_output_tokens"},
      {R"({"model":"m","input":"Hi","tools":{}})", "tools"},
      {R"({"model":"m","input":"Hi","tools":[{"type":"function"}]})", "tools[0].name"},
      {R"({"model":"m","input":"Hi","metadata":[]})", "metadata"},
      {R"({"model":"m","input":"Hi","instructions":["x"]})", "instructions"},
      {R"({"model":"m","input":"Hi","temperature":1e400})", ""},
  };
  for (const auto& [body, param] : cases) {
    auto e = refused(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_EQ(e.param, param) << body;
    EXPECT_FALSE(e.message.empty()) << body;
  }
}

TEST(responses_chat, whitespace_and_member_order_do_not_matter) {
  const std::string a =
      R"({"model":"m","instructions":"Be brief.","input":[{"role":"user","content":"Hi"}],"temperature":0.5,"stream":true,"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}]})";
  const std::string b = R"(
    { "tools" : [ { "parameters" : { "type" : "object" } , "name" : "f" , "type" : "function" } ] ,
      "stream" : true ,
      "temperature" : 0.5,
      "input" : [ { "content" : "Hi", "role" : "user" } ],
      "instructions" : "Be\u0020brief.",
      "model" : "m" }
  )";
  auto ta = translate_responses_request(a);
  auto tb = translate_responses_request(b);
  ASSERT_TRUE(ta.has_value());
  ASSERT_TRUE(tb.has_value());
  EXPECT_EQ(ta->body, tb->body);  // byte for byte: the chat body is built in one order
  EXPECT_EQ(json::serialize(ta->context.echo), json::serialize(tb->context.echo));
  EXPECT_EQ(translate_responses_request(a)->body, ta->body);  // deterministic
}

/// The examples of `POST /responses` in OpenAI's openapi.yaml: each translates, or is refused
/// for a documented reason with its param.
TEST(responses_chat, openapi_examples) {
  const std::map<std::string, std::string> refusals = {
      {"File input", "input[0].content[1].file_url"},
      {"Web search", "tools[0].type"},
      {"File search", "tools[0].type"},
  };
  auto examples =
      json::parse(test::read_file(test::responses_fixtures() / "openapi_examples.json")).as_array();
  ASSERT_GE(examples.size(), 8u);
  for (const auto& ex : examples) {
    const std::string title(ex.at("title").as_string());
    SCOPED_TRACE(title);
    auto t = translate_responses_request(json::serialize(ex.at("request")));
    if (auto it = refusals.find(title); it != refusals.end()) {
      ASSERT_FALSE(t.has_value());
      EXPECT_EQ(t.error().param, it->second);
      continue;
    }
    ASSERT_TRUE(t.has_value()) << t.error().message;
    auto c = json::parse(t->body).as_object();
    EXPECT_EQ(c.at("model"), ex.at("request").at("model"));
    EXPECT_FALSE(c.at("messages").as_array().empty());
    if (title == "Reasoning") {
      EXPECT_TRUE(c.contains("reasoning_effort"));
    }
    if (title == "Image input") {
      EXPECT_EQ(c.at("messages").at(0).at("content").at(1).at("type"), "image_url");
    }
    if (title == "Functions") {
      EXPECT_EQ(c.at("tools").at(0).at("function").at("name"), "get_current_weather");
    }
    // Our Response for a chat answer to it carries the members OpenAI's example answer has.
    const auto* expected = ex.at("response").if_object();
    if (expected == nullptr) {
      continue;
    }
    t->context.response_id = "resp_x";
    t->context.created_at = 1741476542;
    auto r = translate_chat_response(
        R"({"id":"c","object":"chat.completion","model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})",
        t->context);
    ASSERT_TRUE(r.has_value());
    auto ours = json::parse(*r).as_object();
    test::expect_response_shape(ours, title);
    for (const auto& m : *expected) {
      if (m.key() == "billing" || m.key() == "output_text" || m.key() == "user") {
        // OpenAI's account data; an SDK-side convenience; `user`: the examples say null, the
        // schema says a string, so it is echoed only when the client sent one.
        continue;
      }
      EXPECT_TRUE(ours.contains(m.key())) << title << ": our Response lacks " << m.key();
    }
  }
}

const char* chat_answer_with_everything = R"({
  "id":"chatcmpl-1","object":"chat.completion","created":1741570283,"model":"up-model",
  "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant",
    "content":"Checking.","reasoning_content":"Think first.",
    "tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"call_2","type":"function","function":{"name":"write_sql","arguments":"{\"input\":\"SELECT 1\"}"}}]}}],
  "usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,
    "prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":4}}})";

responses_context everything_context() {
  auto t = translate_responses_request(R"({"model":"client-model","input":"Hi","tools":[
      {"type":"function","name":"get_weather"},{"type":"custom","name":"write_sql"}]})");
  EXPECT_TRUE(t.has_value());
  responses_context c = t->context;
  c.response_id = "resp_same";
  c.created_at = 1741570283;
  c.completed_at = 1741570290;
  return c;
}

TEST(responses_chat, chat_answer_becomes_a_response) {
  auto r = translate_chat_response(chat_answer_with_everything, everything_context());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  auto resp = json::parse(*r).as_object();
  test::expect_response_shape(resp, "response");
  EXPECT_EQ(resp.at("id"), "resp_same");
  EXPECT_EQ(resp.at("status"), "completed");
  EXPECT_EQ(resp.at("completed_at"), 1741570290);
  EXPECT_EQ(resp.at("model"), "client-model");
  const auto& out = resp.at("output").as_array();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(
      out[0],
      json::parse(
          R"({"id":"rs_same_0","type":"reasoning","summary":[{"type":"summary_text","text":"Think first."}]})"));
  EXPECT_EQ(
      out[1].at("content").at(0),
      json::parse(R"({"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]})"));
  EXPECT_EQ(out[2], json::parse(R"({"id":"fc_same_2","type":"function_call","status":"completed",
      "arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"})"));
  EXPECT_EQ(out[3],
            json::parse(R"({"id":"ctc_same_3","type":"custom_tool_call","status":"completed",
      "call_id":"call_2","name":"write_sql","input":"SELECT 1"})"));
  EXPECT_EQ(resp.at("usage"), json::parse(R"({"input_tokens":20,"input_tokens_details":
      {"cached_tokens":8,"cache_write_tokens":0},"output_tokens":10,"output_tokens_details":
      {"reasoning_tokens":4},"total_tokens":30})"));
  EXPECT_TRUE(resp.at("error").is_null());
  EXPECT_TRUE(resp.at("incomplete_details").is_null());
}

/// The same answer as a stream and as one body gives the same output and usage.
TEST(responses_chat, stream_and_non_stream_agree) {
  const std::string chunks[] = {
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think "}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"reasoning_content":"first."}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"content":"Check"}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"content":"ing."}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"write_sql","arguments":"{\"input\":\"SELECT 1\"}"}}]}}]})",
      R"({"id":"c","model":"up-model","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
      R"({"id":"c","model":"up-model","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":4}}})",
      "[DONE]"};
  chat_to_responses_stream s(everything_context());
  std::string out;
  for (const auto& c : chunks) {
    ASSERT_TRUE(s.feed(c, out).has_value());
  }
  auto events = test::check_stream(out);
  auto streamed = events.back().data.at("response").as_object();
  auto whole =
      json::parse(*translate_chat_response(chat_answer_with_everything, everything_context()))
          .as_object();
  EXPECT_EQ(streamed.at("output"), whole.at("output"));
  EXPECT_EQ(streamed.at("usage"), whole.at("usage"));
  EXPECT_EQ(streamed.at("id"), whole.at("id"));
  EXPECT_EQ(streamed, whole);
}

TEST(responses_chat, finish_reasons_map_to_status) {
  auto body = [](const char* finish) {
    return std::string(
               R"({"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":")") +
           finish + R"("}]})";
  };
  responses_context c = everything_context();
  auto length = json::parse(*translate_chat_response(body("length"), c)).as_object();
  EXPECT_EQ(length.at("status"), "incomplete");
  EXPECT_EQ(length.at("incomplete_details").at("reason"), "max_output_tokens");
  EXPECT_EQ(length.at("output").at(0).at("status"), "incomplete");
  EXPECT_TRUE(length.at("completed_at").is_null());
  auto filter = json::parse(*translate_chat_response(body("content_filter"), c)).as_object();
  EXPECT_EQ(filter.at("incomplete_details").at("reason"), "content_filter");
  auto stop = json::parse(*translate_chat_response(body("stop"), c)).as_object();
  EXPECT_EQ(stop.at("status"), "completed");
  // No usage upstream: zeros, never a missing object (the AI SDK requires one).
  EXPECT_EQ(stop.at("usage").at("total_tokens"), 0);
}

TEST(responses_chat, wire_corpus_chat_answers_translate) {
  int n = 0;
  for (const auto& path : test::fixtures(".json")) {
    const std::string name = path.filename().string();
    if (name.find("_chat") == std::string::npos) {
      continue;
    }
    SCOPED_TRACE(name);
    auto r = translate_chat_response(test::read_file(path), everything_context());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    auto resp = json::parse(*r).as_object();
    test::expect_response_shape(resp, name);
    EXPECT_FALSE(resp.at("output").as_array().empty());
    ++n;
  }
  EXPECT_GE(n, 5);
  auto vllm = json::parse(*translate_chat_response(
                              test::read_file(std::filesystem::path(SWITCHYARD_WIRE_FIXTURES) /
                                              "vllm_chat.json"),
                              everything_context()))
                  .as_object();
  EXPECT_EQ(vllm.at("output").at(0).at("type"), "reasoning");
}

TEST(responses_chat, bad_chat_answers_are_upstream_errors) {
  for (const char* bad : {"", "nope", "[]", R"({"object":"chat.completion"})",
                          R"({"error":{"message":"boom","type":"server_error"}})"}) {
    auto r = translate_chat_response(bad, everything_context());
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, errc::upstream_broken) << bad;
    EXPECT_EQ(r.error().source, error_source::upstream);
  }
  EXPECT_NE(translate_chat_response(R"({"error":{"message":"boom"}})", everything_context())
                .error()
                .message.find("boom"),
            std::string::npos);
  // Empty choices: a response without output, not an error.
  auto empty = translate_chat_response(R"({"choices":[]})", everything_context());
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(json::parse(*empty).at("output").as_array().empty());
}

TEST(responses_chat, a_context_without_echo_still_has_the_required_members) {
  responses_context bare;
  bare.response_id = "resp_1";
  auto r = translate_chat_response(
      R"({"model":"up","choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]})",
      bare);
  ASSERT_TRUE(r.has_value());
  auto resp = json::parse(*r).as_object();
  test::expect_response_shape(resp, "bare");
  EXPECT_EQ(resp.at("model"), "up");
}

TEST(responses_chat, response_id_for_keeps_safe_characters) {
  EXPECT_EQ(response_id_for("01HX-abc_9"), "resp_01HX-abc_9");
  EXPECT_EQ(response_id_for("a\"b/c d\n"), "resp_abcd");
  EXPECT_EQ(response_id_for(std::string(100, 'x')).size(), 5u + 64u);
}

}  // namespace
}  // namespace switchyard
