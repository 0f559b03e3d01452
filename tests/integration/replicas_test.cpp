// Three gateway replicas sharing one real redis-server (store.type: redis): statistics add up
// over replicas and every replica answers the same, feedback is deduplicated across replicas,
// a pause reaches every replica within a second, nothing is lost or doubled across a Redis
// outage, a replica stopped the way SIGTERM stops it (drain, wait) loses nothing — in process
// and as the real binary sent a real SIGTERM —, and concurrent control edits on two replicas
// are both kept.
#include "gateway_process.hpp"
#include "harness.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <latch>
#include <memory>
#include <random>
#include <string>
#include <thread>
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

// switchyard_store_buffered_bytes: what the replica still holds to replay into Redis; -1 when
// the sample is missing.
double buffered_bytes(std::uint16_t port) {
  return metric_sample(port, "switchyard_store_buffered_bytes").value_or(-1);
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
  // Nothing doubled, and nothing left that could double later: every replica's replay buffer is
  // empty (a replayed flush leaves it only once Redis applied it), and the counts still match.
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return buffered_bytes(r.port(i)) == 0.0; }, 15s))
        << "replica " << i << " still buffers " << buffered_bytes(r.port(i)) << " bytes";
  }
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(total(counts(r.port(i))), sent) << "replica " << i;
  }
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

// ---- the real binary, stopped by a real SIGTERM ----

TEST(Replicas, the_real_binary_sent_sigterm_flushes_everything_it_counted) {
  redis_server redis;
  const std::string prefix = fresh_prefix();
  temp_dir da, db;
  rig a(yaml(da.path, redis.url(), prefix));  // the replica whose analysis API reads Redis
  // The child counts in memory only (no timed flush): what reaches Redis is what SIGTERM's
  // drain and last flush write.
  // No drain grace (the seconds a load balancer gets to notice /readyz): nothing to wait for.
  std::string cfg = yaml(db.path, redis.url(), prefix, "1h") + "timeouts: { drain_grace: 0s }\n";
  const std::string mock_port = std::to_string(a.upstream().port());
  for (auto at = cfg.find("{MOCK}"); at != std::string::npos; at = cfg.find("{MOCK}")) {
    cfg.replace(at, 6, mock_port);
  }
  const std::string path = db.path + "/switchyard.yaml";
  std::ofstream(path) << cfg;
  gateway_process child(SWITCHYARD_BINARY, path);
  const std::uint16_t port = child.wait_for_port(20s);
  ASSERT_NE(port, 0) << "no listening line; stderr:\n" << child.output();
  std::map<std::string, std::int64_t> sent;
  {
    client c(port);
    for (int k = 0; k < 25; ++k) {
      auto res = ask(c, "sig" + std::to_string(k % 9));
      ASSERT_EQ(res.status, 200u) << res.body;
      ++sent[res.header("x-switchyard-variant")];
    }
  }
  EXPECT_EQ(total(counts(a.port())), 0) << "nothing flushed before the signal";
  const int status = child.signal_and_wait(SIGTERM, 15s);
  ASSERT_NE(status, -1) << "did not exit within 15 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_EQ(counts(a.port()), sent) << "every request counted, per variant";
  auto rep = report(a.port());
  ASSERT_TRUE(rep);
  std::int64_t units = 0;
  for (const auto& v : rep->at("variants").as_array()) {
    units += v.at("units").to_number<std::int64_t>();
  }
  EXPECT_EQ(units, 9) << "the units were flushed too";
}

// ---- concurrent control edits ----

TEST(Replicas, weights_set_on_one_replica_while_another_pauses_are_both_kept) {
  redis_server redis;
  replicas r(redis, 2);
  // Each round both edits start together (a latch) on different replicas; afterwards the
  // stored control must have both: the round's weights and the round's status. A
  // read-modify-write of the whole control loses one of them whenever the two interleave.
  constexpr int rounds = 25;
  for (int round = 0; round < rounds; ++round) {
    const double w = 0.2 + 0.02 * round;
    const bool pause = round % 2 == 0;
    std::latch go(2);
    unsigned weights_status = 0, pause_status = 0;
    std::thread ta([&] {
      client c(r.port(0));
      go.arrive_and_wait();
      weights_status = c.post("/api/v1/experiments/tone",
                              R"({"action":"set_weights","weights":[)" + std::to_string(w) + "," +
                                  std::to_string(1 - w) + "]}",
                              admin)
                           .status;
    });
    std::thread tb([&] {
      client c(r.port(1));
      go.arrive_and_wait();
      pause_status = c.post("/api/v1/experiments/tone",
                            pause ? R"({"action":"pause"})" : R"({"action":"resume"})", admin)
                         .status;
    });
    ta.join();
    tb.join();
    ASSERT_EQ(weights_status, 200u) << "round " << round;
    ASSERT_EQ(pause_status, 200u) << "round " << round;
    const std::string want = pause ? "paused" : "running";
    auto both_hold = [&](std::uint16_t port) {
      auto rep = report(port);
      if (!rep || rep->at("status").as_string() != want) {
        return false;
      }
      const auto& vs = rep->at("variants").as_array();
      return std::abs(vs[0].at("weight").to_number<double>() - w) < 1e-9 &&
             std::abs(vs[1].at("weight").to_number<double>() - (1 - w)) < 1e-9;
    };
    for (std::size_t i = 0; i < 2; ++i) {
      ASSERT_TRUE(eventually([&] { return both_hold(r.port(i)); }, 3s))
          << "round " << round << ": replica " << i << " lost an edit: "
          << (report(r.port(i)) ? json::serialize(*report(r.port(i))) : "no report");
    }
  }
}

}  // namespace
}  // namespace switchyard::test
