// Hostile input as an attacker would send it: malformed JSON where the gateway reads nothing,
// duplicate keys, Host tricks, floods of buffered bodies and of feedback, the read API without
// a token; and HEAD on the probes.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

namespace switchyard::test {
namespace {

namespace json = boost::json;

TEST(hostile, malformed_json_anywhere_in_the_body_is_400_and_never_forwarded) {
  rig r(default_yaml());
  client c(r.port());
  const std::string head = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],)";
  for (const std::string& tail : {std::string(R"("temperature": tru})"), std::string(R"("a" 1})"),
                                  std::string(R"("top_p": 01.})"), std::string(R"("n": 1,})"),
                                  std::string(R"("x": [1 2]})")}) {
    auto res = c.post("/v1/chat/completions", head + tail);
    ASSERT_EQ(res.status, 400u) << tail;
    auto e = json::parse(res.body).at("error");
    EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
    EXPECT_NE(e.at("message").as_string().find("could not parse the JSON body"), std::string::npos);
  }
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
}

TEST(hostile, duplicate_keys_cannot_route_one_model_and_send_another) {
  rig r(default_yaml());
  client c(r.port());
  auto res = c.post("/v1/chat/completions",
                    R"({"model":"unlisted","model":"gpt-4o-mini","messages":[{"role":"user",)"
                    R"("content":"x"}]})");
  ASSERT_EQ(res.status, 400u);
  auto e = json::parse(res.body).at("error");
  EXPECT_EQ(e.at("param").as_string(), "model");
  EXPECT_NE(e.at("message").as_string().find("Duplicate key `model`"), std::string::npos);
  res = c.post("/v1/chat/completions",
               R"({"model":"gpt-4o-mini","stream":false,"stream":true,"messages":[{}]})");
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
}

TEST(hostile, http11_needs_exactly_one_host) {
  rig r(default_yaml());
  {
    client c(r.port());
    c.send_raw("GET /healthz HTTP/1.1\r\n\r\n");
    auto answer = c.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("Host"), std::string::npos);
  }
  {
    client c(r.port());
    c.send_raw("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    auto answer = c.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  }
  {
    client c(r.port());  // HTTP/1.0 may leave Host out
    c.send_raw("GET /healthz HTTP/1.0\r\n\r\n");
    auto answer = c.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.0 200", 0), 0u) << answer;
  }
}

TEST(hostile, head_on_the_probes_and_metrics) {
  rig r(default_yaml());
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    client c(r.port());
    c.send_raw(std::string("HEAD ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto answer = c.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << answer;
    auto end = answer.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(end + 4, answer.size()) << path << ": HEAD has no body";
    EXPECT_NE(answer.find("Content-Length: "), std::string::npos) << path;
    EXPECT_EQ(answer.find("Content-Length: 0\r\n"), std::string::npos) << path;
  }
}

TEST(hostile, buffered_bodies_are_capped_process_wide) {
  rig r(default_yaml("limits: { max_body_bytes: 60000, max_buffered_bytes: 100000 }\n"));
  const std::string body(50000, ' ');
  // Two clients each start a 50 kB body and stop half way: 100 kB held.
  client a(r.port());
  client b(r.port());
  a.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" +
             body.substr(0, 1000));
  b.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" +
             body.substr(0, 1000));
  ASSERT_TRUE(eventually([&] {
    client m(r.port());
    auto res = m.request(http::verb::get, "/metrics");
    return res.body.find("switchyard_buffered_request_bytes 100000") != std::string::npos;
  }));
  // A third is refused at once with 503 and the connection closed.
  client c(r.port());
  c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n");
  auto answer = c.read_until_close();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("max_buffered_bytes"), std::string::npos);
  // The others leave: their share is given back and a normal request passes again.
  a.close();
  b.close();
  EXPECT_TRUE(eventually([&] {
    client d(r.port());
    return d.post("/v1/chat/completions", chat_body).status == 200u;
  }));
  client m(r.port());
  auto metrics = m.request(http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find("switchyard_buffered_request_refusals_total 1"), std::string::npos);
}

TEST(hostile, chunked_bodies_count_as_they_grow) {
  rig r(default_yaml("limits: { max_body_bytes: 60000, max_buffered_bytes: 40000 }\n"));
  client c(r.port());
  std::string chunk(30000, ' ');
  c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  c.send_raw(std::string(size) + chunk + "\r\n" + size + chunk + "\r\n0\r\n\r\n");
  auto answer = c.read_until_close();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer.substr(0, 200);
}

std::string experiment_yaml(const std::string& dir, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nworkers: 2\ndata_dir: " + dir + R"(
admin_token: test-admin
feedback: { signing_key: "0123456789abcdef0123456789abcdef", max_events_per_id: 3,
            max_event_names: 4 }
stats_flush: 100ms
log: { level: off, access: off }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock }
experiments:
  - name: tone
    match: { model: gpt-4o-mini }
    unit: header:x-user-id
    variants:
      - { name: control }
      - { name: treatment, params: { temperature: 0.4 } }
)" + extra;
}

std::string feedback_id(std::uint16_t port) {
  client c(port);
  auto res = c.post("/v1/chat/completions", chat_body, {{"x-user-id", "u1"}});
  return res.header("x-switchyard-feedback-id");
}

unsigned send_feedback(client& c, const std::string& id, const std::string& event) {
  return c.post("/v1/feedback", R"({"request_id":")" + id + R"(","event":")" + event + R"("})")
      .status;
}

TEST(hostile, feedback_is_capped_per_id_and_per_experiment) {
  temp_dir dir;
  rig r(experiment_yaml(dir.path));
  auto id = feedback_id(r.port());
  ASSERT_FALSE(id.empty());
  client c(r.port());
  EXPECT_EQ(send_feedback(c, id, "success"), 200u);
  EXPECT_EQ(send_feedback(c, id, "failure"), 409u) << "success and failure are exclusive";
  EXPECT_EQ(send_feedback(c, id, "copied"), 200u);
  EXPECT_EQ(send_feedback(c, id, "shared"), 200u);
  EXPECT_EQ(send_feedback(c, id, "liked"), 429u) << "max_events_per_id: 3";
  // Distinct names per experiment: success, copied, shared and one more fit; a fifth does not.
  auto other = feedback_id(r.port());
  EXPECT_EQ(send_feedback(c, other, "thumbs"), 200u);
  auto res = c.post("/v1/feedback", R"({"request_id":")" + other + R"(","event":"event-5"})");
  EXPECT_EQ(res.status, 400u);
  EXPECT_NE(res.body.find("max_event_names"), std::string::npos);
}

TEST(hostile, api_token_guards_the_read_api) {
  temp_dir dir;
  rig r(experiment_yaml(dir.path, "api_token: reader-token\n"));
  client c(r.port());
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments").status, 401u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/prompts").status, 401u);
  EXPECT_EQ(
      c.request(http::verb::get, "/api/v1/experiments", "", {{"authorization", "Bearer wrong"}})
          .status,
      401u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments", "",
                      {{"authorization", "Bearer reader-token"}})
                .status,
            200u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments/tone", "",
                      {{"authorization", "Bearer test-admin"}})
                .status,
            200u);
  // The probes and /metrics stay public.
  EXPECT_EQ(c.request(http::verb::get, "/healthz").status, 200u);
  EXPECT_EQ(c.request(http::verb::get, "/metrics").status, 200u);
}

// The issue's stall: analysis reads and feedback writes used to run on the worker's event loop.
TEST(hostile, an_api_flood_does_not_move_healthz_latency) {
  temp_dir dir;
  // Caps raised so that the analysis answer is as heavy as in the issue's report (thousands of
  // event names): each GET then costs the admin thread milliseconds of SQLite and JSON work.
  auto yaml = experiment_yaml(dir.path);
  yaml.replace(yaml.find("max_events_per_id: 3"), std::string("max_events_per_id: 3").size(),
               "max_events_per_id: 100000");
  yaml.replace(yaml.find("max_event_names: 4"), std::string("max_event_names: 4").size(),
               "max_event_names: 100000");
  rig r(yaml);  // two workers: the flood reaches both
  auto id = feedback_id(r.port());
  {
    client seed(r.port(), 20s);
    for (int i = 0; i < 3000; ++i) {
      ASSERT_EQ(send_feedback(seed, id, "seeded-event-" + std::to_string(i)), 200u);
    }
  }
  {
    client probe(r.port(), 20s);
    const auto t0 = steady_clock::now();
    auto report = probe.request(http::verb::get, "/api/v1/experiments/tone");
    std::printf("one analysis read: %zu bytes in %.1f ms\n", report.body.size(),
                std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> flooders;
  std::atomic<std::uint64_t> calls{0};
  for (int t = 0; t < 4; ++t) {
    flooders.emplace_back([&, t] {
      client c(r.port(), 20s);
      for (int i = 0; i < 100000 && !stop.load(); ++i) {
        if (i % 2 == 0) {
          (void)c.request(http::verb::get, "/api/v1/experiments/tone");
        } else {
          (void)send_feedback(c, id, "e" + std::to_string(t));
        }
        calls.fetch_add(1);
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return calls.load() > 50; }, 10s));
  // For at least a second: probes and proxied requests, each on a new connection (SO_REUSEPORT
  // spreads them over both workers), while the flood goes on.
  std::vector<double> health_ms;
  std::vector<double> chat_ms;
  const auto calls_before = calls.load();
  const auto until = steady_clock::now() + 1s;
  // Also until the flood made a dozen calls (an analysis read takes ~100 ms under ASan on a
  // loaded machine), at most 20 s: the probes must have run during a real flood.
  const auto at_most = steady_clock::now() + 20s;
  const auto flooding = [&] { return calls.load() - calls_before > 10; };
  for (int i = 0; i < 2000 && steady_clock::now() < at_most &&
                  (steady_clock::now() < until || health_ms.size() < 100 || !flooding());
       ++i) {
    client h(r.port());
    auto t0 = steady_clock::now();
    EXPECT_EQ(h.request(http::verb::get, "/healthz").status, 200u);
    health_ms.push_back(
        std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count());
    if (i % 4 == 0) {
      t0 = steady_clock::now();
      EXPECT_EQ(h.post("/v1/chat/completions", chat_body).status, 200u);
      chat_ms.push_back(
          std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count());
    }
  }
  const auto flood_calls = calls.load() - calls_before;
  stop = true;
  for (auto& f : flooders) {
    f.join();
  }
  auto p99 = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() * 99 / 100];
  };
  EXPECT_GT(flood_calls, 10u) << "the flood was real";
  // Generous bounds for loaded CI machines; before the admin executor, a smaller flood took the
  // healthz p99 on the flooded worker from 0.6 ms to 220 ms.
  EXPECT_LT(p99(health_ms), 50.0) << "healthz p99 over " << health_ms.size() << " probes during "
                                  << flood_calls << " API calls";
  EXPECT_LT(p99(chat_ms), 100.0) << "proxied p99 over " << chat_ms.size() << " requests";
  std::printf("flood: %llu API calls; healthz p99 %.2f ms (%zu), proxied p99 %.2f ms (%zu)\n",
              static_cast<unsigned long long>(flood_calls), p99(health_ms), health_ms.size(),
              p99(chat_ms), chat_ms.size());
}

TEST(hostile, rate_limit_overflows_are_exported) {
  // The key-flood behaviour itself is unit-tested with a small table (limiter_overflow_test);
  // here: the counter is on /metrics for every limit, with the action its config chose.
  rig r(default_yaml(R"(rate_limits:
  - { scope: api_key, requests_per_minute: 600 }
  - { scope: user, requests_per_minute: 600, on_overflow: allow }
)"));
  client c(r.port());
  auto body = c.request(http::verb::get, "/metrics").body;
  EXPECT_NE(
      body.find(R"(switchyard_rate_limit_overflows_total{scope="api_key",action="denied"} 0)"),
      std::string::npos)
      << body.substr(0, 2000);
  EXPECT_NE(body.find(R"(switchyard_rate_limit_overflows_total{scope="user",action="allowed"} 0)"),
            std::string::npos);
}

TEST(hostile, admin_listener_serves_local_routes_only) {
  rig r(default_yaml("admin_listen: 127.0.0.1:0\n"));
  ASSERT_NE(r.gateway().admin_port(), 0);
  ASSERT_NE(r.gateway().admin_port(), r.port());
  client admin(r.gateway().admin_port());
  EXPECT_EQ(admin.request(http::verb::get, "/healthz").status, 200u);
  EXPECT_EQ(admin.request(http::verb::get, "/readyz").status, 200u);
  auto metrics = admin.request(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("switchyard_admin_queue"), std::string::npos);
  // Never a proxy: a completion on the admin port is an unknown URL there.
  EXPECT_EQ(admin.post("/v1/chat/completions", chat_body).status, 404u);
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
  client c(r.port());
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
}

TEST(hostile, access_log_file_is_rotated_by_size) {
  temp_dir dir;
  rig r(default_yaml().replace(default_yaml().find("log: { level: off, access: off }"),
                               std::string("log: { level: off, access: off }").size(),
                               "log: { level: off, access: " + dir.path +
                                   "/access.log, access_max_bytes: 4096, max_files: 2 }"));
  client c(r.port());
  namespace fs = std::filesystem;
  // One request per check: the per-worker batches (one spdlog message each) reach the file
  // every few milliseconds, so the file grows past 4 KiB in steps.
  EXPECT_TRUE(eventually(
      [&] {
        c.request(http::verb::get, "/healthz");
        return fs::exists(dir.path + "/access.2.log");
      },
      10s));
  EXPECT_FALSE(fs::exists(dir.path + "/access.3.log")) << "max_files: 2";
  // Rotation happens between batches: a file passes the limit by at most one batch.
  EXPECT_LE(fs::file_size(dir.path + "/access.1.log"), 64u * 1024);
}

}  // namespace
}  // namespace switchyard::test
