// Three gateway replicas sharing one real redis-server (store.type: redis): statistics add up
// over replicas and every replica answers the same, feedback is deduplicated across replicas,
// a pause reaches every replica within a second, nothing is lost or doubled across a Redis
// outage, and a replica stopped the way SIGTERM stops it (drain, wait) loses nothing.
#include "harness.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace switchyard::test {
namespace {

namespace json = boost::json;

const std::vector<std::pair<std::string, std::string>> admin{
    {"authorization", "Bearer test-admin"}};

std::string yaml(const std::string& dir, const std::string& url, const std::string& prefix,
                 const std::string& flush = "100ms") {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + "\nstats_flush: " + flush +
         "\nstore: { type: redis, url: \"" + url + "\", key_prefix: \"" + prefix +
         "\", flush_timeout: 500ms }\n" + R"(
admin_token: test-admin
feedback: { signing_key: "0123456789abcdef0123456789abcdef" }
log: { level: off, access: off }
retry: { max_attempts: 1 }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: gpt-4o-mini, params: { temperature: 0.2 } }
)";
}

std::string fresh_prefix() {
  std::random_device rd;
  return "t" + std::to_string(rd()) + ":";
}

response ask(client& c, const std::string& user) {
  return c.post("/v1/chat/completions",
                R"({"model":"assistant","messages":[{"role":"user","content":"hi"}]})",
                {{"x-user-id", user}});
}

std::optional<json::value> report(std::uint16_t port) {
  client c(port, 5s);
  auto res = c.request(http::verb::get, "/api/v1/experiments/tone");
  if (res.status != 200u) {
    return std::nullopt;
  }
  return json::parse(res.body);
}

// Requests per variant as the analysis API of the replica on `port` reports them.
std::map<std::string, std::int64_t> counts(std::uint16_t port) {
  std::map<std::string, std::int64_t> out;
  auto r = report(port);
  if (!r) {
    return out;
  }
  for (const auto& v : r->at("variants").as_array()) {
    out[std::string(v.at("name").as_string())] = v.at("requests").to_number<std::int64_t>();
  }
  return out;
}

std::int64_t total(const std::map<std::string, std::int64_t>& m) {
  std::int64_t n = 0;
  for (const auto& [_, v] : m) {
    n += v;
  }
  return n;
}

struct replicas {
  explicit replicas(redis_server& redis, int n = 3) : prefix(fresh_prefix()) {
    for (int i = 0; i < n; ++i) {
      dirs.push_back(std::make_unique<temp_dir>());
      rigs.push_back(std::make_unique<rig>(yaml(dirs.back()->path, redis.url(), prefix)));
    }
  }
  std::string prefix;
  std::vector<std::unique_ptr<temp_dir>> dirs;
  std::vector<std::unique_ptr<rig>> rigs;
  std::uint16_t port(std::size_t i) const { return rigs[i]->port(); }
};

TEST(Replicas, statistics_add_up_over_replicas_and_every_replica_answers_the_same) {
  redis_server redis;
  replicas r(redis);
  std::map<std::string, std::int64_t> sent;
  for (std::size_t i = 0; i < 3; ++i) {
    client c(r.port(i));
    for (int k = 0; k < 15; ++k) {
      auto res = ask(c, "u" + std::to_string(i) + "-" + std::to_string(k % 5));
      ASSERT_EQ(res.status, 200u) << res.body;
      ++sent[res.header("x-switchyard-variant")];
    }
  }
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return counts(r.port(i)) == sent; }, 10s))
        << "replica " << i << " reports " << total(counts(r.port(i))) << " of 45";
  }
  // The per-unit analysis is shared too: 15 distinct users.
  auto a = report(r.port(0));
  auto c = report(r.port(2));
  ASSERT_TRUE(a && c);
  EXPECT_EQ(json::serialize(a->at("variants")), json::serialize(c->at("variants")));
}

TEST(Replicas, feedback_for_a_response_of_one_replica_is_counted_once_on_any_other) {
  redis_server redis;
  replicas r(redis);
  client ca(r.port(0)), cb(r.port(1)), cc(r.port(2));
  auto res = ask(ca, "fb-user");
  ASSERT_EQ(res.status, 200u);
  const auto id = res.header("x-switchyard-feedback-id");
  ASSERT_FALSE(id.empty());
  auto send = [&](client& c) {
    return c.post("/v1/feedback", R"({"request_id":")" + id + R"(","event":"success"})");
  };
  auto first = send(cb);
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(json::parse(first.body).at("status").as_string(), "recorded");
  auto again = send(cc);
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(json::parse(again.body).at("status").as_string(), "duplicate");
  EXPECT_EQ(json::parse(send(ca).body).at("status").as_string(), "duplicate");
  const std::string variant = res.header("x-switchyard-variant");
  for (std::size_t i = 0; i < 3; ++i) {
    auto rep = report(r.port(i));
    ASSERT_TRUE(rep);
    for (const auto& v : rep->at("variants").as_array()) {
      if (v.at("name").as_string() == variant) {
        EXPECT_EQ(v.at("feedback").at("events").at("success").to_number<int>(), 1) << v;
      }
    }
  }
}

TEST(Replicas, a_pause_on_one_replica_holds_on_the_others_within_a_second) {
  redis_server redis;
  replicas r(redis);
  auto status = [](std::uint16_t port) {
    auto rep = report(port);
    return rep ? std::string(rep->at("status").as_string()) : std::string("?");
  };
  ASSERT_EQ(status(r.port(1)), "running");
  client ca(r.port(0));
  auto paused = ca.post("/api/v1/experiments/tone", R"({"action":"pause"})", admin);
  ASSERT_EQ(paused.status, 200u) << paused.body;
  const auto start = steady_clock::now();
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return status(r.port(i)) == "paused"; }, 1s))
        << "replica " << i << " still " << status(r.port(i));
  }
  EXPECT_LT(steady_clock::now() - start, 1500ms);
  auto resumed = ca.post("/api/v1/experiments/tone", R"({"action":"resume"})", admin);
  ASSERT_EQ(resumed.status, 200u) << resumed.body;
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return status(r.port(i)) == "running"; }, 1s)) << i;
  }
  // One resume is one new phase, not one per replica.
  auto rep = report(r.port(2));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->at("phases").as_array().size(), 2u) << rep->at("phases");
}

TEST(Replicas, a_redis_outage_serves_every_request_and_loses_or_doubles_nothing) {
  redis_server redis(/*persistent=*/true);
  replicas r(redis);
  std::int64_t sent = 0;
  auto burst = [&](int n) {
    for (std::size_t i = 0; i < 3; ++i) {
      client c(r.port(i));
      for (int k = 0; k < n; ++k) {
        auto res = ask(c, "o" + std::to_string(i) + "-" + std::to_string(k));
        ASSERT_EQ(res.status, 200u) << "request during the outage: " << res.body;
        ++sent;
      }
    }
  };
  burst(5);
  ASSERT_TRUE(eventually([&] { return total(counts(r.port(0))) == sent; }, 10s));
  redis.stop();
  burst(10);  // proxied while Redis is down: statistics buffered on each replica
  for (std::size_t i = 0; i < 3; ++i) {
    client c(r.port(i));
    EXPECT_EQ(ask(c, "after-" + std::to_string(i)).status, 200u);  // no wait on the dead store
    ++sent;
  }
  {
    // The analysis cannot be read while the store is down: a 503 in the API's error shape,
    // never a report of zeros.
    client c(r.port(1), 5s);
    auto res = c.request(http::verb::get, "/api/v1/experiments/tone");
    EXPECT_EQ(res.status, 503u) << res.body;
    auto body = json::parse(res.body);
    EXPECT_TRUE(body.as_object().contains("error")) << res.body;
  }
  redis.start();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return total(counts(r.port(i))) == sent; }, 15s))
        << "replica " << i << " reports " << total(counts(r.port(i))) << " of " << sent;
  }
  // Nothing doubled: replays are idempotent, so a later read still says the same.
  std::this_thread::sleep_for(500ms);  // several flush intervals: a double count would show
  EXPECT_EQ(total(counts(r.port(2))), sent);
}

TEST(Replicas, a_replica_stopped_like_sigterm_flushes_what_it_counted) {
  redis_server redis;
  const std::string prefix = fresh_prefix();
  temp_dir da, db;
  rig a(yaml(da.path, redis.url(), prefix));
  auto b = std::make_unique<rig>(yaml(db.path, redis.url(), prefix, "1h"));  // no timed flush
  {
    client c(b->port());
    for (int k = 0; k < 12; ++k) {
      ASSERT_EQ(ask(c, "s" + std::to_string(k)).status, 200u);
    }
  }
  EXPECT_EQ(total(counts(a.port())), 0) << "nothing flushed before the stop";
  // What main() does on SIGTERM: drain, wait, then the engine's last flush.
  b->gateway().drain();
  b->gateway().wait(steady_clock::now() + 5s);
  b.reset();
  EXPECT_EQ(total(counts(a.port())), 12);
}

}  // namespace
}  // namespace switchyard::test
