// Upstream wire fidelity: the conformance corpus (tests/fixtures/wire, sources cited in its
// SOURCES.md) replayed by a raw-socket fake upstream at random split points and in several
// framings must reach the client intact, incrementally, with usage and cost right.

#include "fake_upstream.hpp"
#include "harness.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace switchyard::test {
namespace {

namespace fs = std::filesystem;

// The fake answers every request with the reply the test set last.
struct scripted {
  std::mutex m;
  std::function<scripted_reply(int)> next = [](int) { return scripted_reply{}; };
  fake_upstream fake{[this](const http::request<http::string_body>&, int i) {
    std::lock_guard lock(m);
    return next(i);
  }};
  void set(std::function<scripted_reply(int)> f) {
    std::lock_guard lock(m);
    next = std::move(f);
  }
};

std::string yaml(std::uint16_t fake_port, const std::string& log_path,
                 const std::string& extra_upstream = "", const std::string& retry = "") {
  return R"(
listen: 127.0.0.1:0
workers: 1
upstreams:
  - { name: fake, base_url: "http://127.0.0.1:)" +
         std::to_string(fake_port) + R"(/v1", api_key: sk-up, breaker: { enabled: false }, )" +
         extra_upstream + R"( }
models:
  - { name: m, upstream: fake, price: { input_per_mtok: 1000000, output_per_mtok: 2000000 } }
retry: { base: 1ms, cap: 2ms, stream_hold_time: 300ms, )" +
         retry + R"( }
log: { level: off, access: )" +
         (log_path.empty() ? std::string("off") : log_path) + R"( }
)";
}

std::vector<boost::json::object> log_lines(const std::string& path, std::size_t want) {
  std::vector<boost::json::object> lines;
  eventually([&] {
    std::istringstream in(read_file(path));
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      lines.push_back(boost::json::parse(line).as_object());
    }
    return lines.size() >= want;
  });
  return lines;
}

struct temp_log {
  std::string path = (fs::temp_directory_path() /
                      ("switchyard-wire-" + std::to_string(::getpid()) + "-" +
                       std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".log"))
                         .string();
  temp_log() { fs::remove(path); }
  ~temp_log() { fs::remove(path); }
};

struct framing_case {
  const char* name;
  wire_options opt;
};

std::vector<framing_case> framings() {
  std::vector<framing_case> v;
  auto add = [&](const char* n, framing f, bool gz = false, std::string interim = {},
                 std::string trailing = {}) {
    wire_options o;
    o.frame = f;
    o.gzip = gz;
    o.interim = std::move(interim);
    o.trailing = std::move(trailing);
    v.push_back({n, o});
  };
  add("chunked", framing::chunked);
  add("length", framing::content_length);
  add("close", framing::close_delimited);
  add("http10", framing::http10);
  add("connclose", framing::connection_close);
  add("gzip", framing::chunked, true);
  add("gziplen", framing::content_length, true);
  add("interim", framing::chunked, false,
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; "
      "rel=preload\r\n\r\n");
  add("after", framing::content_length, false, {},
      "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nSTOLEN!");
  return v;
}

// Splits a stream before its last event: the fake sends the head, waits, then the tail.
std::size_t last_event_begin(std::string_view body) {
  sse_parser p(1 << 20);
  std::vector<sse_event> events;
  (void)p.feed(body, events);
  return events.empty() ? body.size() : static_cast<std::size_t>(events.back().begin);
}

TEST(wire, every_stream_fixture_in_every_framing_reaches_the_client_intact_and_incrementally) {
  temp_log log;
  scripted s;
  std::map<std::string, std::string> ids;  // request id → fixture
  {
    rig r(yaml(s.fake.port(), log.path));
    std::mt19937 rng(99);
    for (const auto& path : fixtures(".sse")) {
      const std::string name = path.filename().string();
      const std::string body = read_file(path);
      const std::size_t split = last_event_begin(body);
      for (const auto& fc : framings()) {
        SCOPED_TRACE(name + " " + fc.name);
        const std::string id = name + "." + fc.name;
        ids[id] = name;
        auto reply = wire_reply(std::string_view(body).substr(0, split),
                                std::string_view(body).substr(split), fc.opt, rng);
        s.fake.rearm();
        s.set([reply](int) { return reply; });
        client c(r.port());
        auto head =
            c.start_stream("/v1/chat/completions",
                           R"({"model":"m","stream":true,"stream_options":{"include_usage":true},)"
                           R"("messages":[{"role":"user","content":"hi"}]})",
                           {{"x-request-id", id}});
        ASSERT_EQ(head.status, 200u);
        EXPECT_EQ(head.header("content-encoding"), "");
        // The first event arrives while the upstream still holds back its last one.
        auto first = c.next_event();
        ASSERT_TRUE(first) << "no event before the upstream's last";
        s.fake.release();
        while (c.next_event()) {
        }
        EXPECT_EQ(c.raw_body(), body);
      }
    }
  }
  auto lines = log_lines(log.path, ids.size());
  ASSERT_EQ(lines.size(), ids.size());
  for (const auto& line : lines) {
    const std::string id(line.at("request_id").as_string());
    SCOPED_TRACE(id);
    const auto& exp = expected().at(ids.at(id)).as_object();
    EXPECT_EQ(line.at("status").as_int64(), 200);
    if (exp.at("prompt_tokens").is_null()) {
      EXPECT_TRUE(line.contains("usage_estimated"));
      continue;
    }
    const auto prompt = exp.at("prompt_tokens").to_number<std::int64_t>();
    const auto completion = exp.at("completion_tokens").to_number<std::int64_t>();
    EXPECT_EQ(line.at("prompt_tokens").as_int64(), prompt);
    EXPECT_EQ(line.at("completion_tokens").as_int64(), completion);
    EXPECT_FALSE(line.contains("usage_estimated"));
    EXPECT_NEAR(line.at("cost_usd").to_number<double>(),
                static_cast<double>(prompt + 2 * completion), 1e-6);
  }
}

TEST(wire, injected_usage_is_removed_from_every_stream_fixture) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(7);
  for (const auto& path : fixtures(".sse")) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const std::string body = read_file(path);
    const auto& exp = expected().at(name).as_object();
    auto reply = wire_reply(body, "", {}, rng);
    s.fake.release();
    s.set([reply](int) { return reply; });
    client c(r.port());
    auto head = c.start_stream(
        "/v1/chat/completions",
        R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(head.status, 200u);
    std::size_t events = 0;
    while (auto e = c.next_event()) {
      ++events;
      if (*e == "[DONE]") {
        continue;
      }
      boost::system::error_code ec;
      auto v = boost::json::parse(*e, ec);
      if (ec || !v.is_object()) {
        continue;  // the upstream's own non-JSON event, passed through
      }
      EXPECT_FALSE(v.as_object().contains("usage") && v.as_object().at("usage").is_null()) << *e;
      const auto* choices = v.as_object().if_contains("choices");
      EXPECT_FALSE(choices && choices->is_array() && choices->as_array().empty() &&
                   v.as_object().contains("usage"))
          << *e;
    }
    EXPECT_EQ(events, exp.at("events").to_number<std::size_t>() -
                          (exp.at("usage_only_chunk").as_bool() ? 1 : 0));
    // The gateway asked for usage the client did not: the upstream saw include_usage.
    auto got = s.fake.received().back().body();
    EXPECT_TRUE(boost::json::parse(got).at("stream_options").at("include_usage").as_bool());
  }
}

TEST(wire, every_non_stream_fixture_reaches_the_client_intact_with_its_usage) {
  temp_log log;
  scripted s;
  std::map<std::string, std::string> ids;
  {
    rig r(yaml(s.fake.port(), log.path));
    std::mt19937 rng(5);
    for (const auto& path : fixtures(".json")) {
      const std::string name = path.filename().string();
      if (!expected().contains(name)) {
        continue;
      }
      const std::string body = read_file(path);
      const bool error = name.find("error") != std::string::npos;
      for (const auto& fc : framings()) {
        SCOPED_TRACE(name + " " + fc.name);
        wire_options o = fc.opt;
        o.content_type = "application/json";
        if (error) {
          o.status = 429;
          o.reason = "Too Many Requests";
        }
        auto reply = wire_reply(body, "", o, rng);
        s.fake.release();
        s.set([reply](int) { return reply; });
        client c(r.port());
        const std::string id = name + "." + fc.name;
        ids[id] = name;
        auto res = c.post("/v1/chat/completions",
                          R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                          {{"x-request-id", id}});
        EXPECT_EQ(res.status, error ? 429u : 200u);
        EXPECT_EQ(res.body, body);
      }
    }
  }
  auto lines = log_lines(log.path, ids.size());
  for (const auto& line : lines) {
    const std::string id(line.at("request_id").as_string());
    SCOPED_TRACE(id);
    const auto& exp = expected().at(ids.at(id)).as_object();
    if (exp.at("prompt_tokens").is_null()) {
      continue;
    }
    EXPECT_EQ(line.at("prompt_tokens").as_int64(),
              exp.at("prompt_tokens").to_number<std::int64_t>());
    const auto& completion = exp.at("completion_tokens");  // null for embeddings
    EXPECT_EQ(line.at("completion_tokens").as_int64(),
              completion.is_null() ? 0 : completion.to_number<std::int64_t>());
  }
}

TEST(wire, unknown_status_codes_are_relayed_as_sent_and_529_is_retried) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(3);
  for (unsigned status : {418u, 520u, 529u, 999u}) {
    SCOPED_TRACE(status);
    wire_options o;
    o.status = status;
    o.reason = "Odd Status";
    o.content_type = "application/json";
    o.frame = framing::content_length;
    const std::string body = R"({"error":{"message":"odd","type":"x"}})";
    auto reply = wire_reply(body, "", o, rng);
    s.fake.release();
    s.set([reply](int) { return reply; });
    const int before = s.fake.requests();
    client c(r.port());
    const std::string req_body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
    c.send_raw(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(req_body.size()) + "\r\nConnection: close\r\n\r\n" + req_body);
    const std::string raw = c.read_until_close();
    const std::string status_line = "HTTP/1.1 " + std::to_string(status) + " Odd Status\r\n";
    EXPECT_EQ(raw.substr(0, status_line.size()), status_line) << raw;
    EXPECT_NE(raw.find(body), std::string::npos);
    const int made = s.fake.requests() - before;
    if (status == 529) {
      EXPECT_EQ(made, 3);  // retried up to max_attempts
      EXPECT_NE(raw.find("x-should-retry: false"), std::string::npos) << raw;
    } else {
      EXPECT_EQ(made, 1);
      EXPECT_EQ(raw.find("x-should-retry"), std::string::npos);
    }
  }
}

TEST(wire, client_may_retry_keeps_the_sdk_retries) {
  scripted s;
  rig r(yaml(s.fake.port(), "", "", "client_may_retry: true"));
  std::mt19937 rng(3);
  wire_options o;
  o.status = 503;
  o.reason = "Service Unavailable";
  o.content_type = "application/json";
  o.frame = framing::content_length;
  auto reply = wire_reply(R"({"error":{"message":"busy"}})", "", o, rng);
  s.fake.release();
  s.set([reply](int) { return reply; });
  client c(r.port());
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(s.fake.requests(), 3);
  EXPECT_EQ(res.header("x-should-retry"), "");
}

std::string sse_chunk(std::string_view delta) {
  return "data: {\"id\": \"c\", \"choices\": [{\"index\": 0, \"delta\": " + std::string(delta) +
         ", \"finish_reason\": null}]}\n\n";
}

TEST(wire, a_silent_upstream_after_the_role_chunk_is_released_at_the_hold_time) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(1);
  auto reply = wire_reply(sse_chunk(R"({"role": "assistant", "content": ""})"),
                          sse_chunk(R"({"content": "late"})") + "data: [DONE]\n\n", {}, rng);
  s.fake.rearm();
  s.set([reply](int) { return reply; });
  client c(r.port());
  const auto start = steady_clock::now();
  auto head =
      c.start_stream("/v1/chat/completions",
                     R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(head.status, 200u);
  auto first = c.next_event();
  const auto waited = steady_clock::now() - start;
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("assistant"), std::string::npos);
  EXPECT_GE(waited, 250ms);  // held for stream_hold_time (300 ms)…
  EXPECT_LT(waited, 5s);     // …not until stream_idle or the gate's 10 s
  s.fake.release();
  auto second = c.next_event();
  ASSERT_TRUE(second);
  EXPECT_NE(second->find("late"), std::string::npos);
  EXPECT_EQ(s.fake.requests(), 1);
}

TEST(wire, a_stream_cut_after_output_is_never_replayed) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  // Spaced JSON, as Python servers write it; then the connection drops mid-stream.
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string events =
      sse_chunk(R"({"role": "assistant", "content": ""})") + sse_chunk(R"({"content": "Hi"})");
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", events.size());
  scripted_reply reply;
  reply.pieces = {head + size + events + "\r\n"};
  reply.close_after = true;
  s.fake.release();
  s.set([reply](int) { return reply; });
  client c(r.port());
  auto res =
      c.start_stream("/v1/chat/completions",
                     R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(res.status, 200u);
  std::vector<std::string> got;
  while (auto e = c.next_event()) {
    got.push_back(*e);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_NE(got[1].find("Hi"), std::string::npos);
  EXPECT_NE(got[2].find("\"error\""), std::string::npos);  // the final error event
  EXPECT_EQ(s.fake.requests(), 1);                         // never replayed upstream
}

TEST(wire, expect_is_not_forwarded_and_identity_is_asked_for) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(2);
  wire_options o;
  o.content_type = "application/json";
  o.frame = framing::content_length;
  auto reply = wire_reply(R"({"choices":[]})", "", o, rng);
  s.fake.release();
  s.set([reply](int) { return reply; });
  client c(r.port());
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nAccept-Encoding: gzip, br\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string raw = c.read_until_close();
  EXPECT_NE(raw.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << raw;
  ASSERT_EQ(s.fake.received().size(), 1u);
  auto req = s.fake.received().back();
  EXPECT_EQ(req.count(http::field::expect), 0u);
  EXPECT_EQ(req[http::field::accept_encoding], "identity");
}

TEST(wire, an_encoding_the_gateway_cannot_decode_is_a_clear_502) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(2);
  wire_options o;
  o.content_type = "application/json";
  o.frame = framing::content_length;
  o.headers = {{"Content-Encoding", "br"}};
  auto reply = wire_reply("\x1b\x03", "", o, rng);
  s.fake.release();
  s.set([reply](int) { return reply; });
  client c(r.port());
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(res.status, 502u);
  EXPECT_NE(res.body.find("Content-Encoding: br"), std::string::npos) << res.body;
  EXPECT_EQ(s.fake.requests(), 1);
}

TEST(wire, a_pooled_connection_that_spoke_while_idle_is_not_reused) {
  scripted s;
  rig r(yaml(s.fake.port(), ""));
  std::mt19937 rng(4);
  wire_options o;
  o.content_type = "application/json";
  o.frame = framing::content_length;
  // The first answer, then (while the connection idles in the pool) a stray second response.
  auto first = wire_reply(R"({"n":1})", "", o, rng);
  const std::size_t answer_pieces = first.pieces.size();
  first.pieces.push_back("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"stolen\":1} ");
  first.gate = answer_pieces;
  auto second = wire_reply(R"({"n":2})", "", o, rng);
  second.gate = static_cast<std::size_t>(-1);
  s.fake.rearm();
  s.set([first, second](int i) { return i == 0 ? first : second; });
  client c(r.port());
  auto a = c.post("/v1/chat/completions",
                  R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(a.body, R"({"n":1})");
  s.fake.release();  // the stray bytes go out now, to an idle pooled connection
  // Once the fake wrote them, the idle gateway's reactor sees them within microseconds.
  ASSERT_TRUE(eventually([&] { return s.fake.replies_done() == 1; }));
  auto b = c.post("/v1/chat/completions",
                  R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(b.body, R"({"n":2})");
  EXPECT_EQ(s.fake.connections(), 2);
}

TEST(wire, inject_stream_usage_false_sends_the_request_as_the_client_wrote_it) {
  temp_log log;
  scripted s;
  {
    rig r(yaml(s.fake.port(), log.path, "inject_stream_usage: false"));
    std::mt19937 rng(8);
    auto reply = wire_reply(sse_chunk(R"({"content": "Hi"})") + "data: [DONE]\n\n", "", {}, rng);
    s.fake.release();
    s.set([reply](int) { return reply; });
    client c(r.port());
    ASSERT_EQ(
        c.start_stream("/v1/chat/completions",
                       R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})")
            .status,
        200u);
    while (c.next_event()) {
    }
    auto body = boost::json::parse(s.fake.received().back().body()).as_object();
    EXPECT_FALSE(body.contains("stream_options"));
  }
  auto lines = log_lines(log.path, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].at("usage_estimated").as_bool());
}

}  // namespace
}  // namespace switchyard::test
