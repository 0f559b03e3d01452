// The translations in the request path, through the real gateway against a raw-socket fake
// upstream on port 0: chat clients on an Anthropic upstream, Responses clients on a chat
// upstream and (chained) on an Anthropic upstream, and Responses passed through to an upstream
// that serves it. Upstream bytes come from tests/fixtures/providers/anthropic (Anthropic's API
// docs and SDK test suites, see its SOURCES.md) and tests/fixtures/wire (recorded servers,
// SOURCES.md there).

#include "fake_upstream.hpp"
#include "harness.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <sstream>

namespace switchyard::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string provider_fixture(std::string_view dir, std::string_view name) {
  return read_file(fs::path(SWITCHYARD_WIRE_FIXTURES).parent_path() / "providers" /
                   std::string(dir) / std::string(name));
}
std::string anthropic(std::string_view name) { return provider_fixture("anthropic", name); }
std::string wire(std::string_view name) {
  return read_file(fs::path(SWITCHYARD_WIRE_FIXTURES) / std::string(name));
}

std::string chunk(std::string_view data) {
  std::ostringstream s;
  s << std::hex << data.size() << "\r\n" << data << "\r\n";
  return s.str();
}

scripted_reply json_reply(unsigned status, std::string_view body, std::string extra = "") {
  return {{"HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
           extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           std::string(body)}};
}

// A chunked SSE answer; `complete` false: the connection closes after `body`, mid-message.
scripted_reply sse_reply(std::string_view body, bool complete = true) {
  scripted_reply r;
  r.pieces.push_back(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
      chunk(body) + (complete ? "0\r\n\r\n" : ""));
  r.close_after = !complete;
  return r;
}

// Every event of an SSE body (name and data).
std::vector<sse_event> events_of(std::string_view body) {
  sse_parser p(1 << 20);
  std::vector<sse_event> events;
  EXPECT_TRUE(p.feed(body, events));
  return events;
}

// The stream up to (not including) its `n`th event.
std::string first_events(std::string_view body, std::size_t n) {
  const auto evs = events_of(body);
  return std::string(body.substr(0, n < evs.size() ? static_cast<std::size_t>(evs[n].begin)
                                                    : body.size()));
}

struct scripted {
  std::mutex m;
  std::function<scripted_reply(const http::request<http::string_body>&, int)> next;
  fake_upstream fake{[this](const http::request<http::string_body>& req, int i) {
    std::lock_guard lock(m);
    return next ? next(req, i) : scripted_reply{};
  }};
  scripted() { fake.release(); }
  void set(std::function<scripted_reply(int)> f) {
    std::lock_guard lock(m);
    next = [f = std::move(f)](const http::request<http::string_body>&, int i) { return f(i); };
  }
};

struct temp_log {
  std::string path = (fs::temp_directory_path() /
                      ("switchyard-translation-" + std::to_string(::getpid()) + "-" +
                       std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log"))
                         .string();
  temp_log() { fs::remove(path); }
  ~temp_log() { fs::remove(path); }
};

std::string yaml(std::uint16_t port, const std::string& log = "off") {
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  return R"(
listen: 127.0.0.1:0
workers: 1
upstreams:
  - { name: claude, type: anthropic, base_url: ")" + base + R"(", api_key: sk-ant, default_max_tokens: 333, breaker: { enabled: false } }
  - { name: local, base_url: ")" + base + R"(", breaker: { enabled: false } }
  - { name: oai, base_url: ")" + base + R"(", apis: [chat, completions, embeddings, responses], breaker: { enabled: false } }
models:
  - { name: sonnet, upstream: claude, model: claude-sonnet-4-5, price: { input_per_mtok: 1000000, output_per_mtok: 2000000 } }
  - { name: llama, upstream: local, model: llama3 }
  - { name: gpt, upstream: oai, model: gpt-5, price: { input_per_mtok: 1000000, output_per_mtok: 2000000 } }
retry: { base: 1ms, cap: 2ms, stream_hold_time: 2s }
log: { level: off, access: )" + log + R"( }
)";
}

std::vector<json::object> log_lines(const std::string& path, std::size_t want) {
  std::vector<json::object> lines;
  eventually([&] {
    std::istringstream in(read_file(path));
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      lines.push_back(json::parse(line).as_object());
    }
    return lines.size() >= want;
  });
  return lines;
}

json::object parse(const std::string& s) { return json::parse(s).as_object(); }

// The whole stream after `start_stream`.
std::string drain(client& c) {
  while (c.next_event()) {
  }
  return c.raw_body();
}

constexpr const char* chat_request =
    R"({"model":"sonnet","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})";
constexpr const char* chat_stream_request =
    R"({"model":"sonnet","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"weather?"}],)"
    R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]})";

// --- chat client → Anthropic upstream ---

TEST(translation, chat_client_on_anthropic_non_stream) {
  temp_log log;
  scripted s;
  s.set([](int) { return json_reply(200, anthropic("docs_message_text.json")); });
  rig r(yaml(s.fake.port(), log.path));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_request);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("content-length"), std::to_string(res.body.size()));
  EXPECT_NE(res.header("content-type").find("application/json"), std::string::npos);
  auto v = parse(res.body);
  EXPECT_EQ(v["object"], "chat.completion");
  EXPECT_EQ(v["choices"].as_array()[0].as_object()["message"].as_object()["content"],
            "Hi! My name is Claude.");
  EXPECT_EQ(v["usage"].as_object()["prompt_tokens"], 2095);

  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/messages");
  auto up = parse(got[0].body());
  EXPECT_EQ(up["model"], "claude-sonnet-4-5");
  EXPECT_EQ(up["max_tokens"], 333);
  EXPECT_EQ(up["system"], "be brief");
  EXPECT_EQ(got[0]["content-length"], std::to_string(got[0].body().size()));

  auto lines = log_lines(log.path, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["prompt_tokens"], 2095);
  EXPECT_EQ(lines[0]["completion_tokens"], 503);
  EXPECT_FALSE(lines[0].contains("usage_estimated"));
}

TEST(translation, chat_client_on_anthropic_stream_with_a_tool_call) {
  scripted s;
  s.set([](int) { return sse_reply(anthropic("sdk_stream_tool_use.sse")); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", chat_stream_request);
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("content-length"), "");
  EXPECT_EQ(head.header("transfer-encoding"), "chunked");
  std::vector<std::string> data;
  while (auto e = c.next_event()) {
    data.push_back(*e);
  }
  EXPECT_TRUE(c.stream_finished());
  ASSERT_GE(data.size(), 4u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::string args;
  std::string name;
  std::string finish;
  bool usage = false;
  for (std::size_t i = 0; i + 1 < data.size(); ++i) {
    auto o = parse(data[i]);
    EXPECT_EQ(o["object"], "chat.completion.chunk");
    if (o["usage"].is_object()) {
      usage = true;
      EXPECT_EQ(o["usage"].as_object()["prompt_tokens"], 377);
    }
    for (auto& ch : o["choices"].as_array()) {
      auto& delta = ch.as_object()["delta"].as_object();
      if (auto* tc = delta.if_contains("tool_calls")) {
        auto& f = tc->as_array()[0].as_object()["function"].as_object();
        if (auto* n = f.if_contains("name")) {
          name = n->as_string();
        }
        args += f["arguments"].as_string();
      }
      if (ch.as_object()["finish_reason"].is_string()) {
        finish = ch.as_object()["finish_reason"].as_string();
      }
    }
  }
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(parse(args)["location"], "Paris");
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_TRUE(usage);
  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  auto up = parse(got[0].body());
  EXPECT_EQ(up["stream"], true);
  EXPECT_EQ(up["tools"].as_array()[0].as_object()["name"], "get_weather");
}

TEST(translation, anthropic_529_is_retried_as_503_then_succeeds) {
  scripted s;
  s.set([](int i) {
    return i == 0 ? json_reply(529, anthropic("sdk_error_529_overloaded.json"))
                  : json_reply(200, anthropic("docs_message_text.json"));
  });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_request);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-attempts"), "2");
  EXPECT_EQ(s.fake.requests(), 2);
}

TEST(translation, anthropic_errors_reach_chat_clients_in_openai_shape) {
  scripted s;
  s.set([](int) { return json_reply(400, anthropic("sdk_error_400_invalid_request.json")); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_request);
  ASSERT_EQ(res.status, 400u) << res.body;
  auto v = parse(res.body);
  ASSERT_TRUE(v["error"].is_object()) << res.body;
  EXPECT_EQ(v["error"].as_object()["type"], "invalid_request_error");
  EXPECT_EQ(v["error"].as_object()["code"], "invalid_request_error");
  EXPECT_EQ(res.header("content-length"), std::to_string(res.body.size()));
  EXPECT_EQ(s.fake.requests(), 1);  // final: not retried

  // Always 529: the client finally gets 503 (not Anthropic's own code) in OpenAI's shape.
  s.set([](int) { return json_reply(529, anthropic("sdk_error_529_overloaded.json")); });
  auto over = c.post("/v1/chat/completions", chat_request);
  EXPECT_EQ(over.status, 503u) << over.body;
  EXPECT_EQ(parse(over.body)["error"].as_object()["code"], "overloaded_error");
}

TEST(translation, an_anthropic_stream_cut_before_output_is_retried) {
  const std::string full = anthropic("sdk_stream_basic.sse");
  scripted s;
  s.set([&](int i) {
    // message_start and a block start only, then the connection drops.
    return i == 0 ? sse_reply(first_events(full, 2), false) : sse_reply(full);
  });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", chat_stream_request);
  ASSERT_EQ(head.status, 200u);
  const std::string body = drain(c);
  EXPECT_EQ(head.header("x-switchyard-attempts"), "2");
  EXPECT_NE(body.find("\"content\":\"Hello\""), std::string::npos) << body;
  EXPECT_NE(body.find("data: [DONE]"), std::string::npos);
  // One role chunk: the failed attempt's was discarded with its translator.
  EXPECT_EQ(body.find("\"role\":\"assistant\""), body.rfind("\"role\":\"assistant\""));
}

TEST(translation, an_anthropic_stream_cut_after_output_ends_with_an_error_chunk) {
  const std::string full = anthropic("sdk_stream_basic.sse");
  scripted s;
  s.set([&](int) { return sse_reply(first_events(full, 4), false); });  // through "Hello"
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/chat/completions", chat_stream_request);
  ASSERT_EQ(head.status, 200u);
  std::vector<std::string> data;
  while (auto e = c.next_event()) {
    data.push_back(*e);
  }
  EXPECT_TRUE(c.stream_finished());
  ASSERT_GE(data.size(), 2u);
  EXPECT_NE(c.raw_body().find("\"content\":\"Hello\""), std::string::npos);
  auto last = parse(data.back());
  ASSERT_TRUE(last["error"].is_object()) << data.back();
  EXPECT_EQ(c.raw_body().find("[DONE]"), std::string::npos);
  EXPECT_EQ(s.fake.requests(), 1);
}

TEST(translation, embeddings_on_an_anthropic_model_are_refused_before_any_attempt) {
  scripted s;
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/embeddings", R"({"model":"sonnet","input":"x"})");
  ASSERT_EQ(res.status, 400u);
  auto e = parse(res.body)["error"].as_object();
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "model");
  EXPECT_NE(std::string(e["message"].as_string()).find("upstream claude"), std::string::npos);
  EXPECT_EQ(s.fake.requests(), 0);
}

// --- Responses client → chat upstream ---

constexpr const char* chat_completion =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"llama3",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})";

TEST(translation, responses_client_on_a_chat_upstream_non_stream) {
  scripted s;
  s.set([](int) { return json_reply(200, chat_completion); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/responses",
                    R"({"model":"llama","instructions":"be brief","input":"hi","max_output_tokens":50})",
                    {{"x-request-id", "abc123"}});
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("content-length"), std::to_string(res.body.size()));
  auto v = parse(res.body);
  EXPECT_EQ(v["object"], "response");
  EXPECT_EQ(v["id"], "resp_abc123");
  EXPECT_EQ(v["status"], "completed");
  EXPECT_EQ(v["model"], "llama");
  auto& item = v["output"].as_array()[0].as_object();
  EXPECT_EQ(item["type"], "message");
  EXPECT_EQ(item["content"].as_array()[0].as_object()["text"], "Hello there");
  EXPECT_EQ(v["usage"].as_object()["input_tokens"], 9);

  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/chat/completions");
  auto up = parse(got[0].body());
  EXPECT_EQ(up["model"], "llama3");
  auto& msgs = up["messages"].as_array();
  EXPECT_EQ(msgs[0].as_object()["role"], "system");
  EXPECT_EQ(msgs[1].as_object()["content"], "hi");
}

void expect_one_numbered_stream(const std::vector<sse_event>& evs, std::string_view terminal) {
  ASSERT_GE(evs.size(), 3u);
  EXPECT_EQ(evs.front().event, "response.created");
  EXPECT_EQ(evs.back().event, terminal);
  std::string id;
  std::int64_t seq = 0;
  for (const auto& e : evs) {
    auto o = parse(e.data);
    EXPECT_EQ(std::string_view(o["type"].as_string()), e.event);
    EXPECT_EQ(o["sequence_number"], seq++) << e.event;
    if (auto* r = o.if_contains("response")) {
      const std::string rid(r->as_object().at("id").as_string());
      if (id.empty()) {
        id = rid;
      }
      EXPECT_EQ(rid, id);
    }
  }
}

TEST(translation, responses_client_on_a_chat_upstream_stream) {
  scripted s;
  s.set([](int) { return sse_reply(wire("openai_chat_stream_usage.sse")); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/responses", R"({"model":"llama","input":"hi","stream":true})");
  ASSERT_EQ(head.status, 200u);
  EXPECT_NE(head.header("content-type").find("text/event-stream"), std::string::npos);
  const auto evs = events_of(drain(c));
  EXPECT_TRUE(c.stream_finished());
  expect_one_numbered_stream(evs, "response.completed");
  std::string text;
  for (const auto& e : evs) {
    if (e.event == "response.output_text.delta") {
      text += parse(e.data)["delta"].as_string();
    }
  }
  EXPECT_FALSE(text.empty());
  auto done = parse(evs.back().data)["response"].as_object();
  EXPECT_EQ(done["status"], "completed");
  EXPECT_TRUE(done["usage"].is_object());
  auto up = parse(s.fake.received().at(0).body());
  EXPECT_EQ(up["stream"], true);
  EXPECT_EQ(up["stream_options"].as_object()["include_usage"], true);
}

TEST(translation, responses_client_tools_become_function_calls) {
  scripted s;
  s.set([](int) { return sse_reply(wire("openai_chat_stream_tool_calls.sse")); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream(
      "/v1/responses",
      R"({"model":"llama","input":"weather?","stream":true,"tools":[{"type":"function","name":"get_weather",)"
      R"("parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]})");
  ASSERT_EQ(head.status, 200u);
  const auto evs = events_of(drain(c));
  expect_one_numbered_stream(evs, "response.completed");
  bool call = false;
  for (const auto& e : evs) {
    if (e.event == "response.output_item.done") {
      auto item = parse(e.data)["item"].as_object();
      if (item["type"] == "function_call") {
        call = true;
        EXPECT_FALSE(item["name"].as_string().empty());
      }
    }
  }
  EXPECT_TRUE(call);
  auto up = parse(s.fake.received().at(0).body());
  EXPECT_EQ(up["tools"].as_array()[0].as_object()["type"], "function");
}

TEST(translation, store_true_is_refused_on_a_translated_route) {
  scripted s;
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/responses", R"({"model":"llama","input":"hi","store":true})");
  ASSERT_EQ(res.status, 400u) << res.body;
  auto e = parse(res.body)["error"].as_object();
  EXPECT_EQ(e["param"], "store");
  EXPECT_EQ(s.fake.requests(), 0);
}

TEST(translation, a_responses_stream_failing_midway_ends_with_response_failed) {
  const std::string full = wire("openai_chat_stream_usage.sse");
  scripted s;
  s.set([&](int) { return sse_reply(first_events(full, 3), false); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/responses", R"({"model":"llama","input":"hi","stream":true})");
  ASSERT_EQ(head.status, 200u);
  const auto evs = events_of(drain(c));
  EXPECT_TRUE(c.stream_finished());
  expect_one_numbered_stream(evs, "response.failed");
  EXPECT_EQ(evs[evs.size() - 2].event, "error");
}

// --- Responses client → Anthropic upstream (through chat) ---

TEST(translation, responses_client_on_anthropic_is_chained) {
  scripted s;
  s.set([](int) { return sse_reply(anthropic("sdk_stream_basic.sse")); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head = c.start_stream("/v1/responses",
                             R"({"model":"sonnet","instructions":"be brief","input":"hi","stream":true})");
  ASSERT_EQ(head.status, 200u);
  const auto evs = events_of(drain(c));
  expect_one_numbered_stream(evs, "response.completed");
  auto done = parse(evs.back().data)["response"].as_object();
  EXPECT_EQ(done["usage"].as_object()["input_tokens"], 11);
  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/messages");
  auto up = parse(got[0].body());
  EXPECT_EQ(up["model"], "claude-sonnet-4-5");
  EXPECT_EQ(up["system"], "be brief");
  EXPECT_EQ(up["stream"], true);

  // Non-stream, and an Anthropic error in OpenAI's shape.
  s.set([](int) { return json_reply(200, anthropic("docs_message_text.json")); });
  auto res = c.post("/v1/responses", R"({"model":"sonnet","input":"hi"})");
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(parse(res.body)["output"].as_array()[0].as_object()["content"].as_array()[0]
                .as_object()["text"],
            "Hi! My name is Claude.");
  s.set([](int) { return json_reply(400, anthropic("sdk_error_400_invalid_request.json")); });
  auto bad = c.post("/v1/responses", R"({"model":"sonnet","input":"hi"})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_TRUE(parse(bad.body)["error"].is_object());
}

// --- Responses pass-through ---

const std::string responses_sse =
    "event: response.created\n"
    R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_up","object":"response","created_at":1700,"status":"in_progress","model":"gpt-5","output":[]}})"
    "\n\nevent: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"})"
    "\n\n";
const std::string responses_done =
    "event: response.completed\n"
    R"(data: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_up","object":"response","created_at":1700,"status":"completed","model":"gpt-5","output":[],"usage":{"input_tokens":21,"output_tokens":4,"total_tokens":25}}})"
    "\n\n";

TEST(translation, responses_pass_through_is_relayed_as_sent_and_metered) {
  temp_log log;
  scripted s;
  s.set([](int) { return sse_reply(responses_sse + responses_done); });
  rig r(yaml(s.fake.port(), log.path));
  client c(r.port());
  auto head = c.start_stream(
      "/v1/responses", R"({"model":"gpt","input":"hi","stream":true,"instructions":"x"})");
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(drain(c), responses_sse + responses_done);
  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/responses");
  auto up = parse(got[0].body());
  EXPECT_EQ(up["model"], "gpt-5");
  EXPECT_FALSE(up.contains("stream_options"));  // no chat usage injection here

  // Non-stream: usage from the body's input_tokens/output_tokens.
  s.set([](int) {
    return json_reply(200,
                      R"({"id":"resp_2","object":"response","status":"completed","output":[],)"
                      R"("usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10}})");
  });
  auto res = c.post("/v1/responses", R"({"model":"gpt","input":"hi"})");
  ASSERT_EQ(res.status, 200u);

  auto lines = log_lines(log.path, 2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["endpoint"], "responses");
  EXPECT_EQ(lines[0]["prompt_tokens"], 21);
  EXPECT_EQ(lines[0]["completion_tokens"], 4);
  EXPECT_FALSE(lines[0].contains("usage_estimated"));
  EXPECT_EQ(lines[1]["prompt_tokens"], 7);
  EXPECT_EQ(lines[1]["completion_tokens"], 3);

  // Reported (not estimated) prompt tokens for the model, both requests: 21 + 7.
  std::string text;
  auto prompt_tokens = [&] {
    double sum = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("switchyard_tokens_total{") &&
          line.find("type=\"prompt\"") != std::string::npos &&
          line.find("model=\"gpt\"") != std::string::npos &&
          line.find("source=\"reported\"") != std::string::npos) {
        sum += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
      }
    }
    return sum;
  };
  EXPECT_TRUE(eventually([&] {
    text = client(r.port()).request(http::verb::get, "/metrics").body;
    return prompt_tokens() == 28;
  })) << text;
}

TEST(translation, a_responses_pass_through_stream_cut_ends_with_response_failed) {
  scripted s;
  s.set([](int) { return sse_reply(responses_sse, false); });
  rig r(yaml(s.fake.port()));
  client c(r.port());
  auto head =
      c.start_stream("/v1/responses", R"({"model":"gpt","input":"hi","stream":true})");
  ASSERT_EQ(head.status, 200u);
  const std::string body = drain(c);
  EXPECT_TRUE(c.stream_finished());
  ASSERT_TRUE(body.starts_with(responses_sse));
  const auto evs = events_of(body);
  ASSERT_EQ(evs.size(), 4u);
  EXPECT_EQ(evs[2].event, "error");
  EXPECT_EQ(evs[3].event, "response.failed");
  auto failed = parse(evs[3].data);
  EXPECT_EQ(failed["sequence_number"], 3);
  EXPECT_EQ(failed["response"].as_object()["id"], "resp_up");
}

}  // namespace
}  // namespace switchyard::test
