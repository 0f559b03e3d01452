// SIGTERM as Kubernetes delivers it: readiness fails first while the listener keeps serving
// (endpoint removal takes a moment to propagate), then no new connections, and at the drain
// deadline every stream ends with a final, retryable error event and its closing chunk instead
// of a silent cut.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <future>
#include <thread>

namespace switchyard::test {
namespace {

std::string drain_yaml(const std::string& grace, const std::string& deadline) {
  return default_yaml("timeouts: { drain_grace: " + grace + ", drain: " + deadline + " }\n");
}

TEST(drain, grace_period_keeps_serving_new_connections_with_readyz_503) {
  rig r(drain_yaml("400ms", "3s"));
  r.gateway().drain();
  auto waited =
      std::async(std::launch::async, [&] { return r.gateway().wait(steady_clock::now() + 3s); });
  {
    client probe(r.port());  // a fresh connection during the grace period is accepted…
    EXPECT_EQ(probe.request(http::verb::get, "/readyz").status, 503u);
  }
  {
    client late(r.port());  // …and a request on it is served, with Connection: close
    auto res = late.post("/v1/chat/completions", chat_body);
    EXPECT_EQ(res.status, 200u);
    EXPECT_FALSE(res.keep_alive);
  }
  // After the grace period the listener is closed.
  EXPECT_TRUE(eventually(
      [&] {
        try {
          client c(r.port());
          c.close();
          return false;
        } catch (const boost::system::system_error&) {
          return true;
        }
      },
      3s));
  EXPECT_TRUE(waited.get()) << "nothing was in flight: a clean drain";
}

TEST(drain, streams_past_the_deadline_end_with_a_final_error_event_and_closing_chunk) {
  mock::options slow;
  slow.inter_token = 20ms;
  rig r(drain_yaml("0s", "600ms"), slow);
  // Two streams that would need 200 × 20 ms = 4 s, far past the 600 ms deadline.
  client a(r.port());
  client b(r.port());
  ASSERT_EQ(a.start_stream("/v1/chat/completions", stream_body, {{"x-mock-tokens", "200"}}).status,
            200u);
  ASSERT_EQ(b.start_stream("/v1/chat/completions", stream_body, {{"x-mock-tokens", "200"}}).status,
            200u);
  ASSERT_TRUE(a.next_event());
  ASSERT_TRUE(b.next_event());
  // A non-stream request whose upstream never answers: nothing sent yet at the deadline.
  client stalled(r.port());
  stalled.send_raw(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                               "x-mock-fault: stall\r\nContent-Length: ") +
                   std::to_string(std::string_view(chat_body).size()) + "\r\n\r\n" + chat_body);
  ASSERT_TRUE(eventually([&] { return r.upstream().counters().requests.load() == 3; }));

  const auto start = steady_clock::now();
  r.gateway().drain();
  auto waited =
      std::async(std::launch::async, [&] { return r.gateway().wait(steady_clock::now() + 600ms); });
  for (client* c : {&a, &b}) {
    std::vector<std::string> events;
    while (auto e = c->next_event()) {
      events.push_back(*e);
    }
    ASSERT_GT(events.size(), 2u);
    auto last = boost::json::parse(events.back());
    ASSERT_TRUE(last.is_object() && last.as_object().contains("error")) << events.back();
    const auto& err = last.at("error");
    EXPECT_EQ(err.at("type").as_string(), "server_shutdown");
    EXPECT_EQ(err.at("code").as_string(), "server_shutdown");
    EXPECT_TRUE(c->stream_finished()) << "the chunked body has its terminator";
  }
  auto answer = stalled.read_until_close();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("server_shutdown"), std::string::npos);
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_FALSE(waited.get()) << "the deadline passed with work in flight";
  EXPECT_LT(steady_clock::now() - start, 2500ms) << "deadline plus the final write budget";
}

TEST(drain, a_retry_pause_is_cut_short_by_the_deadline) {
  rig r(drain_yaml("0s", "300ms") + "retry: { max_attempts: 5, base: 5s, cap: 5s }\n");
  client c(r.port());
  c.send_raw(std::string("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                         "x-mock-fault: status=503;retry_after=5\r\nContent-Length: ") +
             std::to_string(std::string_view(chat_body).size()) + "\r\n\r\n" + chat_body);
  ASSERT_TRUE(eventually([&] { return r.upstream().counters().requests.load() >= 1; }));
  const auto start = steady_clock::now();
  r.gateway().drain();
  auto waited =
      std::async(std::launch::async, [&] { return r.gateway().wait(steady_clock::now() + 300ms); });
  auto answer = c.read_until_close();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("server_shutdown"), std::string::npos);
  waited.get();
  EXPECT_LT(steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace switchyard::test
