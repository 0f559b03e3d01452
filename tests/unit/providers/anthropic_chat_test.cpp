#include "switchyard/providers/anthropic_chat.hpp"

#include "anthropic_fixtures.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <functional>

namespace switchyard {
namespace {

namespace json = boost::json;

anthropic_request_options opts(std::string model = "claude-sonnet-4-5") {
  return {.model = std::move(model), .default_max_tokens = 1024};
}

json::object translate(std::string_view body, const anthropic_request_options& o = opts()) {
  auto r = translate_chat_request(body, o);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message + " @" + r.error().param);
  if (!r) {
    return {};
  }
  return json::parse(r->body).as_object();
}

error refusal(std::string_view body) {
  auto r = translate_chat_request(body, opts());
  EXPECT_FALSE(r.has_value()) << body;
  if (r) {
    return {};
  }
  EXPECT_EQ(r.error().code, errc::invalid_request);
  return r.error();
}

TEST(anthropic_chat, sdk_basic_request_developer_becomes_system) {
  auto r = translate_chat_request(test::anthropic_fixture("openai_request_basic.json"), opts());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body,
            R"({"model":"claude-sonnet-4-5","max_tokens":1024,"system":"Talk like a pirate.",)"
            R"("messages":[{"role":"user","content":"Are semicolons optional in JavaScript?"}]})");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
}

TEST(anthropic_chat, keeps_the_client_model_without_an_upstream_name) {
  auto out = translate(test::anthropic_fixture("openai_request_basic.json"), opts(""));
  EXPECT_EQ(out["model"], "gpt-4o");
  auto r = translate_chat_request(R"({"messages":[{"role":"user","content":"x"}]})", opts(""));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().param, "model");
}

TEST(anthropic_chat, tools_conversation_every_member) {
  auto r =
      translate_chat_request(test::anthropic_fixture("openai_request_tools_stream.json"), opts());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  auto out = json::parse(r->body).as_object();
  EXPECT_EQ(out["max_tokens"], 512);
  EXPECT_EQ(out["system"], "You are a weather bot.");
  EXPECT_EQ(out["temperature"].as_double(), 1.0);  // 1.5 clamped
  EXPECT_EQ(out["stop_sequences"], json::parse(R"(["\n\nHuman:"])"));
  EXPECT_EQ(out["metadata"], json::parse(R"({"user_id":"user-1234"})"));
  EXPECT_EQ(out["stream"], true);
  EXPECT_EQ(out["tool_choice"], json::parse(R"({"type":"auto","disable_parallel_tool_use":true})"));
  EXPECT_EQ(out["tools"], json::parse(R"([{"name":"get_weather",
      "description":"Get the current weather","input_schema":{"type":"object","properties":
      {"location":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},
      "required":["location"]}}])"));
  for (auto dropped : {"seed", "frequency_penalty", "presence_penalty", "user", "stream_options",
                       "parallel_tool_calls", "max_completion_tokens"}) {
    EXPECT_FALSE(out.contains(dropped)) << dropped;
  }
  EXPECT_EQ(out["messages"], json::parse(R"([
    {"role":"user","content":"What is the weather in Paris and in Rome?"},
    {"role":"assistant","content":[
      {"type":"tool_use","id":"call_abc123","name":"get_weather","input":{"location":"Paris"}},
      {"type":"tool_use","id":"call_def456","name":"get_weather",
       "input":{"location":"Rome","unit":"c"}}]},
    {"role":"user","content":[
      {"type":"tool_result","tool_use_id":"call_abc123","content":"18C, cloudy"},
      {"type":"tool_result","tool_use_id":"call_def456",
       "content":[{"type":"text","text":"24C, sunny"}]},
      {"type":"text","text":"Thanks. Which is warmer?"}]}])"));
}

TEST(anthropic_chat, images_from_data_and_http_urls) {
  auto out = translate(test::anthropic_fixture("openai_request_vision.json"));
  EXPECT_EQ(out["max_tokens"], 300);
  const auto& content = out["messages"].as_array()[0].as_object()["content"].as_array();
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[1], json::parse(R"({"type":"image","source":{"type":"url","url":
    "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"}})"));
  EXPECT_EQ(content[2].at("source").at("type"), "base64");
  EXPECT_EQ(content[2].at("source").at("media_type"), "image/png");
  EXPECT_TRUE(content[2].at("source").at("data").as_string().starts_with("iVBOR"));
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",
    "image_url":{"url":"ftp://x/y.png"}}]}]})")
                .param,
            "messages[0].content[0].image_url.url");
}

TEST(anthropic_chat, pdf_file_parts_and_refused_parts) {
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":[{"type":"file",
    "file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}]}]})");
  EXPECT_EQ(out["messages"].at(0).at("content"), json::parse(R"([{"type":"document","source":
    {"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}])"));
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":[{"type":"file",
    "file":{"file_id":"file-1"}}]}]})")
                .param,
            "messages[0].content[0].file");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio",
    "input_audio":{"data":"AAA","format":"wav"}}]}]})")
                .param,
            "messages[0].content[0].type");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"system","content":[{"type":"image_url",
    "image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"x"}]})")
                .param,
            "messages[0].content[0].type");
}

TEST(anthropic_chat, consecutive_same_role_messages_merge_and_systems_join) {
  auto out = translate(R"({"model":"m","messages":[
    {"role":"system","content":"one"},
    {"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"}]},
    {"role":"developer","content":[{"type":"text","text":"two"}]},
    {"role":"assistant","content":"c"},{"role":"assistant","content":""},
    {"role":"assistant","content":"d","name":"bot"},{"role":"user","content":"e"}]})");
  EXPECT_EQ(out["system"], "one\n\ntwo");
  EXPECT_EQ(out["messages"], json::parse(R"([
    {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
    {"role":"assistant","content":[{"type":"text","text":"c"},{"type":"text","text":"d"}]},
    {"role":"user","content":"e"}])"));
}

TEST(anthropic_chat, cache_control_markers_are_kept) {
  auto out = translate(R"({"model":"m","messages":[
    {"role":"system","content":[{"type":"text","text":"long","cache_control":{"type":"ephemeral"}}]},
    {"role":"user","content":[{"type":"text","text":"q","cache_control":{"type":"ephemeral"}}]}],
    "tools":[{"type":"function","function":{"name":"f"},"cache_control":{"type":"ephemeral"}}]})");
  EXPECT_EQ(out["system"], json::parse(R"([{"type":"text","text":"long",
    "cache_control":{"type":"ephemeral"}}])"));
  EXPECT_EQ(out["messages"].at(0).at("content"), json::parse(R"([{"type":"text","text":"q",
    "cache_control":{"type":"ephemeral"}}])"));
  EXPECT_EQ(out["tools"], json::parse(R"([{"name":"f","input_schema":{"type":"object"},
    "cache_control":{"type":"ephemeral"}}])"));
}

TEST(anthropic_chat, tool_call_arguments_must_be_a_json_object) {
  constexpr std::string_view tmpl = R"({"model":"m","messages":[{"role":"user","content":"q"},
    {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f",
    "arguments":ARGS}}]}]})";
  auto with = [&](std::string_view args) {
    std::string body(tmpl);
    body.replace(body.find("ARGS"), 4, args);
    return body;
  };
  for (auto bad : {R"("{\"a\":")", R"("[1,2]")", R"("not json")", "7"}) {
    EXPECT_EQ(refusal(with(bad)).param, "messages[1].tool_calls[0].function.arguments") << bad;
  }
  auto out = translate(with(R"("")"));  // a function without parameters
  EXPECT_EQ(out["messages"].at(1).at("content").at(0).at("input"), json::object());
  out = translate(with(R"(" { \"b\" : [ 1 , 2 ] } ")"));
  EXPECT_EQ(out["messages"].at(1).at("content").at(0).at("input"), json::parse(R"({"b":[1,2]})"));
}

TEST(anthropic_chat, max_tokens_precedence_and_validation) {
  auto body = [](std::string_view members) {
    return std::string(R"({"model":"m","messages":[{"role":"user","content":"q"}])") +
           std::string(members) + "}";
  };
  EXPECT_EQ(translate(body(""))["max_tokens"], 1024);
  EXPECT_EQ(translate(body(R"(,"max_tokens":77)"))["max_tokens"], 77);
  EXPECT_EQ(translate(body(R"(,"max_tokens":77,"max_completion_tokens":66)"))["max_tokens"], 66);
  EXPECT_EQ(translate(body(R"(,"max_completion_tokens":null,"max_tokens":5)"))["max_tokens"], 5);
  EXPECT_EQ(refusal(body(R"(,"max_tokens":0)")).param, "max_tokens");
  EXPECT_EQ(refusal(body(R"(,"max_completion_tokens":"9")")).param, "max_completion_tokens");
}

TEST(anthropic_chat, stop_temperature_and_sampling) {
  auto body = [](std::string_view members) {
    return std::string(R"({"model":"m","messages":[{"role":"user","content":"q"}])") +
           std::string(members) + "}";
  };
  EXPECT_EQ(translate(body(R"(,"stop":"END")"))["stop_sequences"], json::parse(R"(["END"])"));
  EXPECT_FALSE(translate(body(R"(,"stop":[])")).contains("stop_sequences"));
  EXPECT_EQ(refusal(body(R"(,"stop":[1])")).param, "stop");
  EXPECT_EQ(translate(body(R"(,"temperature":0.2)"))["temperature"].as_double(), 0.2);
  EXPECT_EQ(translate(body(R"(,"temperature":2)"))["temperature"].as_double(), 1.0);
  EXPECT_EQ(refusal(body(R"(,"temperature":2.5)")).param, "temperature");
  EXPECT_EQ(refusal(body(R"(,"temperature":-1)")).param, "temperature");
  auto out = translate(body(R"(,"top_p":0.9,"top_k":40)"));
  EXPECT_EQ(out["top_p"].as_double(), 0.9);
  EXPECT_EQ(out["top_k"], 40);
}

TEST(anthropic_chat, tool_choice_mapping) {
  auto with = [](std::string_view choice) {
    return std::string(R"({"model":"m","messages":[{"role":"user","content":"q"}],)"
                       R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":)") +
           std::string(choice) + "}";
  };
  EXPECT_EQ(translate(with(R"("required")"))["tool_choice"], json::parse(R"({"type":"any"})"));
  EXPECT_EQ(translate(with(R"("none")"))["tool_choice"], json::parse(R"({"type":"none"})"));
  EXPECT_EQ(translate(with(R"({"type":"function","function":{"name":"f"}})"))["tool_choice"],
            json::parse(R"({"type":"tool","name":"f"})"));
  EXPECT_EQ(refusal(with(R"("sometimes")")).param, "tool_choice");
  // No tools: tool_choice has nothing to point at and is dropped.
  auto out = translate(
      R"({"model":"m","messages":[{"role":"user","content":"q"}],"tool_choice":"required"})");
  EXPECT_FALSE(out.contains("tool_choice"));
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":"q"}],
    "tools":[{"type":"custom","custom":{"name":"apply_patch"}}]})")
                .param,
            "tools[0].type");
}

TEST(anthropic_chat, user_ids_and_thinking_extensions) {
  auto out = translate(R"({"model":"m","user":"old","safety_identifier":"new",
    "thinking":{"type":"enabled","budget_tokens":2048},
    "messages":[{"role":"user","content":"q"},
     {"role":"assistant","content":"a","thinking_blocks":[{"type":"thinking","thinking":"hm",
      "signature":"c2ln+/="},{"type":"redacted_thinking","data":"ZGF0YQ=="}]}]})");
  EXPECT_EQ(out["metadata"], json::parse(R"({"user_id":"new"})"));
  EXPECT_EQ(out["thinking"], json::parse(R"({"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(out["messages"].at(1).at("content"), json::parse(R"([
    {"type":"thinking","thinking":"hm","signature":"c2ln+/="},
    {"type":"redacted_thinking","data":"ZGF0YQ=="},{"type":"text","text":"a"}])"));
}

TEST(anthropic_chat, unsupported_fields_are_refused_with_their_name) {
  auto body = [](std::string_view members) {
    return std::string(R"({"model":"m","messages":[{"role":"user","content":"q"}],)") +
           std::string(members) + "}";
  };
  EXPECT_EQ(refusal(body(R"("n":2)")).param, "n");
  EXPECT_EQ(refusal(body(R"("logprobs":true)")).param, "logprobs");
  EXPECT_EQ(refusal(body(R"("top_logprobs":3)")).param, "top_logprobs");
  EXPECT_EQ(refusal(body(R"("logit_bias":{"50256":-100})")).param, "logit_bias");
  EXPECT_EQ(refusal(body(R"("response_format":{"type":"json_schema","json_schema":{}})")).param,
            "response_format.json_schema.schema");
  EXPECT_EQ(refusal(body(R"("response_format":{"type":"json_object"})")).param,
            "response_format.type");
  EXPECT_EQ(refusal(body(R"("audio":{"voice":"alloy","format":"wav"})")).param, "audio");
  EXPECT_EQ(refusal(body(R"("modalities":["text","audio"])")).param, "modalities");
  EXPECT_EQ(refusal(body(R"("functions":[])")).param, "functions");
  EXPECT_EQ(refusal(body(R"("function_call":"auto")")).param, "function_call");
  // The harmless spellings of the same members pass, and are not forwarded.
  auto out = translate(body(R"("n":1,"logprobs":false,"logit_bias":{},"top_logprobs":null,)"
                            R"("response_format":{"type":"text"},"modalities":["text"],)"
                            R"("store":false,"service_tier":"auto","metadata":{"a":"b"})"));
  for (auto k : {"n", "logprobs", "logit_bias", "response_format", "modalities", "store",
                 "service_tier", "metadata"}) {
    EXPECT_FALSE(out.contains(k)) << k;
  }
}

TEST(anthropic_chat, json_schema_becomes_structured_output) {
  auto out = translate(R"({"model":"m","messages":[{"role":"user","content":"q"}],
    "response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,
    "schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],
    "additionalProperties":false}}}})");
  EXPECT_EQ(out["output_config"], json::parse(R"({"format":{"type":"json_schema","schema":
    {"type":"object","properties":{"a":{"type":"string"}},"required":["a"],
    "additionalProperties":false}}})"));
  EXPECT_FALSE(out.contains("response_format"));
}

TEST(anthropic_chat, malformed_bodies_and_messages) {
  EXPECT_EQ(refusal("{").code, errc::invalid_request);
  EXPECT_EQ(refusal("[]").code, errc::invalid_request);
  EXPECT_EQ(refusal(R"({"model":"m","temperature":1e400,"messages":[]})").code,
            errc::invalid_request);
  EXPECT_EQ(refusal(R"({"model":"m"})").param, "messages");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[]})").param, "messages");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"system","content":"s"}]})").param,
            "messages");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"wizard","content":"s"}]})").param,
            "messages[0].role");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"function","content":"s"}]})").param,
            "messages[0].role");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"tool","content":"s"}]})").param,
            "messages[0].tool_call_id");
  EXPECT_EQ(refusal(R"({"model":"m","messages":[{"role":"user","content":5}]})").param,
            "messages[0].content");
  EXPECT_EQ(
      refusal(R"({"model":"m","stream":"yes","messages":[{"role":"user","content":"q"}]})").param,
      "stream");
}

// `v` with a newline and spaces around every token (the escapes of strings kept).
std::string pretty(const json::value& v) {
  if (v.is_object()) {
    std::string out = "{\n";
    bool first = true;
    for (const auto& m : v.get_object()) {
      out += first ? "  " : " ,\r\n  ";
      first = false;
      out += json::serialize(json::value(m.key())) + " :\t" + pretty(m.value());
    }
    return out + "\n}";
  }
  if (v.is_array()) {
    std::string out = "[ ";
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
      out += (i ? " , " : "") + pretty(v.get_array()[i]);
    }
    return out + " ]";
  }
  return json::serialize(v);
}

TEST(anthropic_chat, whitespace_and_member_order_do_not_matter) {
  const std::string compact = test::anthropic_fixture("openai_request_tools_stream.json");
  auto a = translate_chat_request(compact, opts());
  ASSERT_TRUE(a.has_value());
  // The same body pretty-printed and with every object's members in reverse order.
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
    if (v.is_array()) {
      json::array arr;
      for (const auto& e : v.get_array()) {
        arr.push_back(reverse(e));
      }
      return json::value(std::move(arr));
    }
    return v;
  };
  const std::string reordered = json::serialize(reverse(json::parse(compact)));
  for (const std::string& variant : {reordered, pretty(json::parse(compact))}) {
    auto b = translate_chat_request(variant, opts());
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(json::parse(a->body), json::parse(b->body));
  }
  // Translating twice gives the same bytes: the output is deterministic.
  EXPECT_EQ(a->body, translate_chat_request(compact, opts())->body);
}

}  // namespace
}  // namespace switchyard
