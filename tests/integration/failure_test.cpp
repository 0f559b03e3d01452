// The gateway when clients or upstreams misbehave: clear errors, no hangs, nothing mangled.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard::test {
namespace {

boost::json::value error_of(const response& res) {
  auto v = boost::json::parse(res.body);
  return v.at("error");
}

TEST(errors, bad_requests_get_openai_shaped_400s_naming_the_field) {
  rig r(default_yaml());
  client c(r.port());
  struct bad {
    std::string body;
    std::string param;  // "" = null
  };
  for (const auto& b : std::vector<bad>{
           {"{not json", ""},
           {R"({"messages":[{"role":"user","content":"x"}]})", "model"},
           {R"({"model":["x"],"messages":[]})", "model"},
           {R"({"model":"gpt-4o-mini","messages":"hi"})", "messages"},
           {R"({"model":"gpt-4o-mini"})", "messages"},
       }) {
    auto res = c.post("/v1/chat/completions", b.body);
    ASSERT_EQ(res.status, 400u) << b.body;
    auto e = error_of(res);
    EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
    EXPECT_FALSE(e.at("message").as_string().empty());
    if (b.param.empty()) {
      EXPECT_TRUE(e.at("param").is_null());
    } else {
      EXPECT_EQ(e.at("param").as_string(), b.param);
    }
    EXPECT_TRUE(res.keep_alive);  // a bad body does not break the connection
  }
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
}

TEST(errors, unknown_model_is_404_model_not_found) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})");
  ASSERT_EQ(res.status, 404u);
  auto e = error_of(res);
  EXPECT_EQ(e.at("code").as_string(), "model_not_found");
  EXPECT_EQ(e.at("param").as_string(), "model");
  EXPECT_NE(e.at("message").as_string().find("gpt-9"), std::string::npos);
}

TEST(errors, unknown_path_and_wrong_method) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.request(http::verb::get, "/v1/nothing");
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(error_of(res).at("code").as_string(), "unknown_url");
  EXPECT_EQ(c.request(http::verb::get, "/v1/chat/completions").status, 405u);
  EXPECT_EQ(c.request(http::verb::post, "/healthz", "{}").status, 405u);
}

TEST(errors, body_over_the_limit_is_413) {
  rig r(default_yaml("limits: { max_body_bytes: 4096 }\n"));
  client c(r.port());
  std::string big = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" +
                    std::string(8000, 'x') + "\"}]}";
  auto res = c.post("/v1/chat/completions", big);
  EXPECT_EQ(res.status, 413u);
  EXPECT_EQ(error_of(res).at("type").as_string(), "invalid_request_error");
  EXPECT_FALSE(res.keep_alive);
}

TEST(errors, headers_over_the_limit_are_431) {
  rig r(default_yaml("limits: { max_header_bytes: 2048 }\n"));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, {{"x-big", std::string(4000, 'a')}});
  EXPECT_EQ(res.status, 431u);
  EXPECT_FALSE(res.keep_alive);
}

TEST(errors, transfer_encoding_other_than_chunked_is_refused_and_closed) {
  rig r(default_yaml());
  client c(r.port());
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto out = c.read_until_close();
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << "the smuggled request was served";
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
}

TEST(errors, content_length_with_transfer_encoding_is_refused_and_closed) {
  rig r(default_yaml());
  client c(r.port());
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto out = c.read_until_close();
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos);
}

TEST(errors, chunked_request_body_is_accepted) {
  rig r(default_yaml());
  client c(r.port());
  std::string body = chat_body;
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n" +
      std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n");
  auto out = c.read_until_close();
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
}

TEST(errors, idle_client_connection_is_closed) {
  rig r(default_yaml("timeouts: { idle: 200ms }\n"));
  client c(r.port(), 3s);
  auto start = steady_clock::now();
  EXPECT_TRUE(c.peer_closed());
  EXPECT_LT(steady_clock::now() - start, 2s);
}

TEST(errors, slow_request_header_is_cut_off) {
  rig r(default_yaml("timeouts: { request: 200ms }\n"));
  client c(r.port(), 3s);
  c.send_raw("POST /v1/chat/completions HTTP/1.1\r\n");  // and never the rest
  EXPECT_TRUE(c.peer_closed());
}

TEST(errors, upstream_connect_failure_is_502) {
  auto port = closed_port();
  rig r(R"(
listen: 127.0.0.1:0
workers: 1
upstreams: [ { name: down, base_url: "http://127.0.0.1:)" +
        std::to_string(port) + R"(/v1" } ]
models: [ { name: gpt-4o-mini, upstream: down } ]
log: { level: off, access: off }
)");
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body);
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(error_of(res).at("code").as_string(), "upstream_connect_failed");
  EXPECT_NE(error_of(res).at("message").as_string().find("down"), std::string::npos);
}

TEST(errors, no_first_byte_in_time_is_504) {
  rig r(default_yaml("timeouts: { first_byte: 300ms }\n"));
  client c(r.port());
  auto start = steady_clock::now();
  auto res = c.post("/v1/chat/completions", chat_body, {{"x-mock-fault", "stall"}});
  EXPECT_EQ(res.status, 504u);
  EXPECT_EQ(error_of(res).at("type").as_string(), "timeout");
  EXPECT_LT(steady_clock::now() - start, 3s);
}

TEST(errors, upstream_status_and_body_pass_through) {
  rig r(default_yaml("retry: { max_attempts: 1 }\n"));
  client c(r.port());
  auto res =
      c.post("/v1/chat/completions", chat_body, {{"x-mock-fault", "status=429;retry_after=3"}});
  EXPECT_EQ(res.status, 429u);
  EXPECT_EQ(res.header("retry-after"), "3");
  EXPECT_TRUE(error_of(res).is_object());
  auto res404 = c.post("/v1/chat/completions",
                       R"({"model":"upstream-404","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(res404.status, 404u);  // gateway 404: not in the models table
}

TEST(errors, upstream_reset_before_headers_is_502) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body, {{"x-mock-fault", "reset"}});
  EXPECT_EQ(res.status, 502u);
  EXPECT_EQ(error_of(res).at("type").as_string(), "upstream_error");
  // The next request works (on a fresh upstream connection).
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
}

TEST(streams, upstream_cut_mid_stream_ends_with_an_error_event) {
  rig r(default_yaml());
  client c(r.port());
  auto head =
      c.start_stream("/v1/chat/completions", stream_body, {{"x-mock-fault", "cut_after=3"}});
  ASSERT_EQ(head.status, 200u);
  std::vector<std::string> events;
  while (auto e = c.next_event()) {
    events.push_back(*e);
  }
  ASSERT_GE(events.size(), 4u);  // role + 3 tokens + the error
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_NO_THROW(boost::json::parse(events[i])) << "every relayed event is whole";
    EXPECT_NE(events[i], "[DONE]");
  }
  auto last = boost::json::parse(events.back());
  EXPECT_EQ(last.at("error").at("type").as_string(), "upstream_error");
  EXPECT_TRUE(c.stream_finished()) << "the stream ends properly after the error event";
}

TEST(streams, upstream_stall_mid_stream_ends_with_an_error_event) {
  rig r(default_yaml("timeouts: { stream_idle: 300ms }\n"));
  client c(r.port());
  auto head =
      c.start_stream("/v1/chat/completions", stream_body, {{"x-mock-fault", "stall_after=2"}});
  ASSERT_EQ(head.status, 200u);
  std::string last;
  while (auto e = c.next_event()) {
    last = *e;
  }
  EXPECT_NE(last.find("\"error\""), std::string::npos) << last;
}

TEST(streams, client_disconnect_cancels_the_upstream_at_once) {
  mock::options slow;
  slow.inter_token = 50ms;
  rig r(default_yaml(), slow);
  {
    client c(r.port());
    auto head = c.start_stream("/v1/chat/completions", stream_body, {{"x-mock-tokens", "200"}});
    ASSERT_EQ(head.status, 200u);
    ASSERT_TRUE(c.next_event());
    ASSERT_TRUE(c.next_event());
    c.close();
  }
  // 200 tokens at 50 ms would take 10 s; the mock must see its client (the gateway) leave now.
  EXPECT_TRUE(eventually([&] { return r.upstream().counters().streams_aborted.load() == 1; }, 2s));
  EXPECT_EQ(r.upstream().counters().streams_completed.load(), 0u);
  // That upstream connection is not reused: the next request opens a new one.
  client c2(r.port());
  EXPECT_EQ(c2.post("/v1/chat/completions", chat_body).status, 200u);
  EXPECT_EQ(r.upstream().counters().connections_accepted.load(), 2u);
}

TEST(streams, client_disconnect_while_waiting_for_the_first_byte) {
  rig r(default_yaml());
  {
    client c(r.port());
    c.send_raw(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           "x-mock-fault: stall\r\nContent-Length: ") +
               std::to_string(std::string_view(chat_body).size()) + "\r\n\r\n" + chat_body);
    ASSERT_TRUE(eventually([&] { return r.upstream().counters().requests.load() == 1; }));
    c.close();
  }
  // The stalled upstream connection gets closed by the gateway, not kept for 60 s.
  EXPECT_TRUE(eventually([&] { return r.upstream().counters().stalls_ended.load() == 1; }, 2s));
}

TEST(drain, open_stream_finishes_new_connections_are_refused_after_the_grace_period) {
  mock::options slow;
  slow.inter_token = 30ms;
  rig r(default_yaml(), slow);
  client streaming(r.port());
  client waiting(r.port());
  auto head =
      streaming.start_stream("/v1/chat/completions", stream_body, {{"x-mock-tokens", "20"}});
  ASSERT_EQ(head.status, 200u);
  ASSERT_TRUE(streaming.next_event());
  // A request that has started arriving is served; readiness says "draining".
  waiting.send_raw("GET /readyz HTTP/1.1\r\nHost: x\r\n");
  r.gateway().drain();
  waiting.send_raw("\r\n");
  auto ready = waiting.read_until_close();
  EXPECT_EQ(ready.rfind("HTTP/1.1 503", 0), 0u) << ready;

  std::vector<std::string> events;
  while (auto e = streaming.next_event()) {
    events.push_back(*e);
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]") << "the in-flight stream ran to its end";
  EXPECT_TRUE(r.gateway().wait(steady_clock::now() + 5s));
  EXPECT_THROW(client late(r.port()), boost::system::system_error);
}

}  // namespace
}  // namespace switchyard::test
