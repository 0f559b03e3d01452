// The Anthropic Messages ingress end to end: the real gateway in front of a raw-socket fake
// Anthropic upstream (port 0) replaying the official TypeScript SDK's recorded streams and the
// API docs' examples (tests/fixtures/providers/anthropic, sources in its SOURCES.md).

#include "fake_upstream.hpp"
#include "harness.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>

namespace switchyard::test {
namespace {

namespace fs = std::filesystem;

std::string fixture(std::string_view name) {
  return read_file(fs::path(SWITCHYARD_WIRE_FIXTURES).parent_path() / "providers" / "anthropic" /
                   std::string(name));
}

// The fake answers each request with the reply the test set last, and keeps what it received.
struct scripted {
  std::mutex m;
  std::function<scripted_reply(int)> next = [](int) { return scripted_reply{}; };
  fake_upstream fake{[this](const http::request<http::string_body>&, int i) {
    std::lock_guard lock(m);
    return next(i);
  }};
  scripted() { fake.release(); }
  void set(std::function<scripted_reply(int)> f) {
    std::lock_guard lock(m);
    next = std::move(f);
  }
};

struct temp_log {
  std::string path = (fs::temp_directory_path() /
                      ("switchyard-messages-" + std::to_string(::getpid()) + "-" +
                       std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log"))
                         .string();
  temp_log() { fs::remove(path); }
  ~temp_log() { fs::remove(path); }
};

std::vector<boost::json::object> log_lines(const std::string& path, std::size_t want) {
  std::vector<boost::json::object> lines;
  eventually([&] {
    std::istringstream in(fs::exists(path) ? read_file(path) : std::string());
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      lines.push_back(boost::json::parse(line).as_object());
    }
    return lines.size() >= want;
  });
  return lines;
}

std::string yaml(std::uint16_t port, const std::string& log_path, const std::string& extra = "") {
  return R"(
listen: 127.0.0.1:0
workers: 1
upstreams:
  - { name: claude, type: anthropic, base_url: "http://127.0.0.1:)" +
         std::to_string(port) + R"(/v1", api_key: sk-ant-up, breaker: { enabled: false } }
  - { name: oai, base_url: "http://127.0.0.1:{MOCK}/v1" }
models:
  - { name: claude-sonnet-4-5, upstream: claude, price: { input_per_mtok: 3, output_per_mtok: 15 } }
  - { name: claude-opus-4-1, upstream: claude }
  - { name: gpt-4o-mini, upstream: oai }
prompts:
  - name: careful
    versions:
      - { version: v1, template: "You are a careful assistant." }
experiments:
  - name: claude-ab
    match: { model: claude }
    unit: header:x-claude-code-session-id
    variants:
      - { name: control, model: claude-sonnet-4-5 }
      - { name: treatment, model: claude-opus-4-1, prompt: careful@v1, params: { temperature: 0.2 } }
retry: { base: 1ms, cap: 2ms, stream_hold_time: 300ms }
log: { level: off, access: )" +
         (log_path.empty() ? std::string("off") : log_path) + R"( }
)" + extra;
}

scripted_reply json_reply(unsigned status, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  std::mt19937 rng(status);
  wire_options o;
  o.status = status;
  o.reason = status == 200 ? "OK" : "Error";
  o.content_type = "application/json";
  o.frame = framing::content_length;
  o.headers = std::move(headers);
  return wire_reply(body, "", o, rng);
}

scripted_reply stream_reply(const std::string& body, std::mt19937& rng) {
  return wire_reply(body, "", wire_options{}, rng);
}

constexpr const char* thinking_turn =
    R"({"model":"claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],)"
    R"("messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"Hm.","signature":"EqQBCgIYAhIM1gbc"},{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3p"},{"type":"text","text":"Hello"}]},{"role":"user","content":"more"}]})";

const std::vector<std::pair<std::string, std::string>> anthropic_headers = {
    {"anthropic-version", "2023-06-01"}, {"x-api-key", "sk-gateway-client"}};

TEST(messages, a_message_is_passed_through_byte_for_byte_with_cache_usage_metered) {
  temp_log log;
  scripted s;
  const std::string answer = fixture("docs_message_thinking.json");
  s.set([&](int) { return json_reply(200, answer); });
  rig r(yaml(s.fake.port(), log.path));
  client c(r.port());
  auto res = c.post("/v1/messages", thinking_turn, anthropic_headers);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.body, answer);
  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/messages");
  EXPECT_EQ(got[0].body(), thinking_turn) << "thinking, signatures, cache_control as sent";
  EXPECT_EQ(got[0]["anthropic-version"], "2023-06-01");

  auto lines = log_lines(log.path, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("endpoint"), "messages");
  EXPECT_EQ(lines[0].at("prompt_tokens").as_int64(), 1150);
  EXPECT_EQ(lines[0].at("completion_tokens").as_int64(), 250);
  EXPECT_EQ(lines[0].at("cache_read_tokens").as_int64(), 1000);
  EXPECT_EQ(lines[0].at("cache_write_tokens").as_int64(), 30);
  EXPECT_FALSE(lines[0].contains("usage_estimated"));

  auto metrics = c.request(http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find(R"(switchyard_tokens_total{type="cache_read",model="claude-sonnet-4-5")"),
            std::string::npos)
      << metrics.substr(0, 4000);
  EXPECT_NE(metrics.find(R"(type="cache_write",model="claude-sonnet-4-5")"), std::string::npos);
}

TEST(messages, a_stream_is_relayed_byte_for_byte_and_metered_from_start_and_delta) {
  temp_log log;
  scripted s;
  std::mt19937 rng(5);
  const std::string stream = fixture("sdk_stream_tool_use.sse");
  s.set([&](int) { return stream_reply(stream, rng); });
  rig r(yaml(s.fake.port(), log.path));
  for (int i = 0; i < 5; ++i) {
    client c(r.port());
    auto head = c.start_stream(
        "/v1/messages",
        R"({"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"weather?"}]})",
        anthropic_headers);
    ASSERT_EQ(head.status, 200u);
    while (c.next_event()) {
    }
    EXPECT_EQ(c.raw_body(), stream);
    EXPECT_TRUE(c.stream_finished());
  }
  auto lines = log_lines(log.path, 5);
  ASSERT_EQ(lines.size(), 5u);
  for (const auto& line : lines) {
    EXPECT_EQ(line.at("prompt_tokens").as_int64(), 377);
    EXPECT_EQ(line.at("completion_tokens").as_int64(), 65);
    EXPECT_TRUE(line.at("stream").as_bool());
  }
}

TEST(messages, an_experiment_assigns_two_claude_models_with_the_prompt_as_system) {
  scripted s;
  const std::string answer = fixture("docs_message_text.json");
  s.set([&](int) { return json_reply(200, answer); });
  rig r(yaml(s.fake.port(), ""));
  std::map<std::string, int> seen;
  for (int i = 0; i < 24; ++i) {
    const std::string session = "session-" + std::to_string(i);
    std::string variant;
    for (int turn = 0; turn < 2; ++turn) {  // a conversation keeps its variant
      client c(r.port());
      auto headers = anthropic_headers;
      headers.emplace_back("x-claude-code-session-id", session);
      auto res = c.post(
          "/v1/messages",
          R"({"model":"claude","max_tokens":64,"system":"Client system.","messages":[{"role":"user","content":"hi"}]})",
          headers);
      ASSERT_EQ(res.status, 200u) << res.body;
      EXPECT_EQ(res.header("x-switchyard-experiment"), "claude-ab");
      EXPECT_FALSE(res.header("x-switchyard-feedback-id").empty());
      if (turn == 0) {
        variant = res.header("x-switchyard-variant");
      } else {
        EXPECT_EQ(res.header("x-switchyard-variant"), variant) << session;
      }
      auto sent = boost::json::parse(s.fake.received().back().body());
      if (variant == "treatment") {
        EXPECT_EQ(sent.at("model"), "claude-opus-4-1");
        const auto& system = sent.at("system").as_array();
        ASSERT_EQ(system.size(), 2u);
        EXPECT_EQ(system[0].at("text"), "You are a careful assistant.");
        EXPECT_EQ(system[1].at("text"), "Client system.");
        EXPECT_EQ(sent.at("temperature").as_double(), 0.2);
      } else {
        EXPECT_EQ(variant, "control");
        EXPECT_EQ(sent.at("model"), "claude-sonnet-4-5");
        EXPECT_EQ(sent.at("system"), "Client system.");
      }
    }
    ++seen[variant];
  }
  EXPECT_GT(seen["control"], 0);
  EXPECT_GT(seen["treatment"], 0);
}

TEST(messages, count_tokens_is_passed_through_with_the_variants_model) {
  scripted s;
  s.set([&](int) { return json_reply(200, R"({"input_tokens":14})"); });
  rig r(yaml(s.fake.port(), ""));
  client c(r.port());
  auto headers = anthropic_headers;
  headers.emplace_back("x-claude-code-session-id", "count-me");
  auto res = c.post("/v1/messages/count_tokens",
                    R"({"model":"claude","messages":[{"role":"user","content":"Hello, world"}]})",
                    headers);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.body, R"({"input_tokens":14})");
  auto got = s.fake.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target(), "/v1/messages/count_tokens");
  auto sent = boost::json::parse(got[0].body());
  const std::string variant = res.header("x-switchyard-variant");
  EXPECT_EQ(sent.at("model"), variant == "treatment" ? "claude-opus-4-1" : "claude-sonnet-4-5");
  EXPECT_FALSE(sent.as_object().contains("temperature"));
  EXPECT_TRUE(res.header("x-switchyard-feedback-id").empty()) << "not an exposure";
}

void expect_anthropic_error(const response& res, unsigned status, std::string_view type) {
  EXPECT_EQ(res.status, status) << res.body;
  EXPECT_EQ(res.header("content-type"), "application/json");
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body, ec);
  ASSERT_FALSE(ec) << res.body;
  EXPECT_EQ(v.at("type"), "error") << res.body;
  EXPECT_EQ(std::string_view(v.at("error").at("type").as_string()), type) << res.body;
  EXPECT_TRUE(v.at("error").at("message").is_string());
}

TEST(messages, the_gateways_own_refusals_are_anthropic_shaped) {
  scripted s;
  rig r(yaml(s.fake.port(), "",
             "rate_limits:\n  - { scope: api_key, requests: 1, period: 60s }\n"));
  client c(r.port());
  // Unknown model.
  expect_anthropic_error(
      c.post("/v1/messages",
             R"({"model":"claude-nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
             anthropic_headers),
      404, "not_found_error");
  // Bad JSON, and a missing max_tokens.
  expect_anthropic_error(c.post("/v1/messages", R"({"model": "claude-sonnet-4-5", )",
                                anthropic_headers),
                         400, "invalid_request_error");
  auto missing = c.post("/v1/messages",
                        R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]})",
                        anthropic_headers);
  expect_anthropic_error(missing, 400, "invalid_request_error");
  EXPECT_NE(missing.body.find("max_tokens: Field required"), std::string::npos);
  // A model whose upstream does not speak Messages.
  expect_anthropic_error(
      c.post("/v1/messages",
             R"({"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
             anthropic_headers),
      400, "invalid_request_error");
  // Rate limit: per x-api-key (the first request above that passed admission is the only one).
  s.set([&](int) { return json_reply(200, fixture("docs_message_text.json")); });
  const std::string ok =
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})";
  std::vector<std::pair<std::string, std::string>> key_b = {{"anthropic-version", "2023-06-01"},
                                                            {"x-api-key", "sk-client-b"}};
  ASSERT_EQ(c.post("/v1/messages", ok, key_b).status, 200u);
  auto limited = c.post("/v1/messages", ok, key_b);
  expect_anthropic_error(limited, 429, "rate_limit_error");
  EXPECT_FALSE(limited.header("retry-after").empty());
  // Unknown path below /v1/messages, and a body too large... the 404 of the route table.
  expect_anthropic_error(c.post("/v1/messages/batches", ok, anthropic_headers), 404,
                         "not_found_error");
  // An OpenAI path keeps OpenAI's shape.
  auto openai = c.post("/v1/chat/completions",
                       R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(openai.status, 404u);
  EXPECT_TRUE(boost::json::parse(openai.body).as_object().contains("error"));
  EXPECT_FALSE(boost::json::parse(openai.body).as_object().contains("type"));
}

TEST(messages, an_overloaded_529_is_retried_and_the_client_gets_the_answer) {
  scripted s;
  const std::string answer = fixture("docs_message_text.json");
  const std::string overloaded = fixture("sdk_error_529_overloaded.json");
  s.set([&](int i) {
    return i == 0 ? json_reply(529, overloaded, {{"x-should-retry", "true"}})
                  : json_reply(200, answer);
  });
  rig r(yaml(s.fake.port(), ""));
  client c(r.port());
  auto res = c.post(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
      anthropic_headers);
  EXPECT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.body, answer);
  EXPECT_EQ(res.header("x-switchyard-attempts"), "2");
  EXPECT_EQ(s.fake.requests(), 2);
}

TEST(messages, a_stream_cut_after_output_ends_with_an_anthropic_error_event) {
  scripted s;
  const std::string stream = fixture("sdk_stream_basic.sse");
  const std::string head = stream.substr(0, stream.find("event: content_block_stop"));
  s.set([&](int) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", head.size());
    scripted_reply r;
    r.pieces = {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
                "chunked\r\n\r\n" +
                std::string(size) + head + "\r\n"};
    r.close_after = true;  // no last chunk: the upstream died mid-stream
    return r;
  });
  rig r(yaml(s.fake.port(), ""));
  client c(r.port());
  auto res = c.start_stream(
      "/v1/messages",
      R"({"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]})",
      anthropic_headers);
  ASSERT_EQ(res.status, 200u);
  while (c.next_event()) {
  }
  const std::string& body = c.raw_body();
  ASSERT_EQ(body.rfind(head, 0), 0u) << "what the upstream sent, unchanged";
  const std::string tail = body.substr(head.size());
  EXPECT_EQ(tail.rfind("event: error\ndata: ", 0), 0u) << tail;
  auto v = boost::json::parse(tail.substr(tail.find("data: ") + 6));
  EXPECT_EQ(v.at("type"), "error");
  EXPECT_EQ(v.at("error").at("type"), "api_error");
  EXPECT_TRUE(c.stream_finished()) << "a clean end after the error event";
}

TEST(messages, models_are_listed_in_anthropics_shape_for_anthropic_clients) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  client c(r.port());
  auto list = c.request(http::verb::get, "/v1/models", {}, anthropic_headers);
  ASSERT_EQ(list.status, 200u);
  auto v = boost::json::parse(list.body);
  EXPECT_EQ(v.at("has_more"), false);
  EXPECT_EQ(v.at("data").as_array()[0].at("type"), "model");
  EXPECT_EQ(v.at("first_id"), "claude-sonnet-4-5");
  auto one = c.request(http::verb::get, "/v1/models/claude-opus-4-1", {}, anthropic_headers);
  ASSERT_EQ(one.status, 200u);
  EXPECT_EQ(boost::json::parse(one.body).at("display_name"), "claude-opus-4-1");
  expect_anthropic_error(c.request(http::verb::get, "/v1/models/nope", {}, anthropic_headers),
                         404, "not_found_error");
  auto openai = c.request(http::verb::get, "/v1/models");
  EXPECT_EQ(boost::json::parse(openai.body).at("object"), "list");
}

}  // namespace
}  // namespace switchyard::test
