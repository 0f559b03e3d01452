// The Batch API over replicas that share one real redis-server (store.type: redis): a batch
// and its files stored through one replica are served by another; a cancel sent to a replica
// that does not run the batch stops the one that does (through the stored status its lease
// keeper reads); and when the replica running a batch is SIGKILLed — the real binary as a child
// process — another takes the batch over once the lease lapses and finishes it with every
// custom_id once in the output, resending at most the lines that were in flight at the kill.
#include "batch_client.hpp"
#include "gateway_process.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <signal.h>

#include <fstream>
#include <random>
#include <set>

namespace switchyard::test {
namespace {

namespace json = boost::json;

std::string fresh_prefix() {
  std::random_device rd;
  return "bt" + std::to_string(rd()) + ":";
}

// The batch config of batch_client plus the shared store and a short lease (renewed every
// third of it), so a takeover comes within a second of the kill.
std::string shared_yaml(std::uint16_t upstream, const std::string& dir, const redis_server& redis,
                        const std::string& prefix) {
  std::string y = batch_gateway_yaml(upstream, dir) + "store: { type: redis, url: \"" +
                  redis.url() + "\", key_prefix: \"" + prefix + "\" }\n";
  // batch_gateway_yaml's `batches:` line, with the lease added.
  const std::string from = "batches: { concurrency: 4,";
  y.replace(y.find(from), from.size(), "batches: { lease: 600ms, concurrency: 4,");
  return y;
}

std::string lines(const std::string& prefix, int n) {
  std::string file;
  for (int i = 0; i < n; ++i) {
    file += line(prefix + std::to_string(i)) + "\n";
  }
  return file;
}

class batches_shared : public ::testing::Test {
 protected:
  redis_server redis;
  std::string prefix = fresh_prefix();
  temp_dir da, db;
  counting_upstream up;
};

TEST_F(batches_shared, a_batch_stored_through_one_replica_is_served_and_cancelled_by_another) {
  up.delay = 60ms;
  constexpr int n = 200;
  const std::string file = lines("x-", n);
  gateway a(shared_yaml(up.fake.port(), da.path, redis, prefix));
  const auto file_id = upload(a.port(), file);
  const auto id = create_batch(a.port(), file_id);
  // A runs it (A holds the lease) before B exists, so the cancel below reaches A only through
  // the store.
  ASSERT_TRUE(eventually([&] { return up.total.load() >= 8; }, 30s));
  gateway b(shared_yaml(up.fake.port(), db.path, redis, prefix));
  client cb(b.port(), 30s);
  EXPECT_EQ(cb.request(http::verb::get, "/v1/files/" + file_id + "/content").body, file);
  auto seen = parse_object(cb.request(http::verb::get, "/v1/batches/" + id));
  EXPECT_EQ(seen.at("status").as_string(), "in_progress") << json::serialize(seen);
  EXPECT_EQ(seen.at("input_file_id").as_string(), file_id);
  auto listed = parse_object(cb.request(http::verb::get, "/v1/batches?limit=5"));
  EXPECT_EQ(listed.at("data").as_array().front().at("id").as_string(), id);

  auto r = parse_object(cb.post("/v1/batches/" + id + "/cancel", ""));
  const std::string status(r.at("status").as_string());
  EXPECT_TRUE(status == "cancelling" || status == "cancelled") << status;
  auto done = wait_for(a.port(), id, "cancelled", 30s);
  const auto completed = done.at("request_counts").at("completed").as_int64();
  EXPECT_LT(completed, n) << "the cancel came too late to stop anything";
  // The lines A had in flight finished and were recorded; none started after A saw the cancel.
  EXPECT_EQ(up.total.load(), completed);
  const int settled = up.total.load();
  EXPECT_EQ(file_lines(b.port(), done.at("output_file_id")).size(),
            static_cast<std::size_t>(completed));
  EXPECT_EQ(parse_object(cb.request(http::verb::get, "/v1/batches/" + id)).at("status"),
            "cancelled");
  // Neither replica runs a line of the cancelled batch later (B's takeover scan included).
  a.stop(5s);
  EXPECT_FALSE(eventually([&] { return up.total.load() != settled; }, 1500ms));
}

TEST_F(batches_shared, a_replica_killed_mid_batch_is_taken_over_with_every_line_once) {
  up.delay = 40ms;
  constexpr int n = 150;
  const std::string cfg_a = shared_yaml(up.fake.port(), da.path, redis, prefix);
  const std::string path = da.path + "/switchyard.yaml";
  std::ofstream(path) << cfg_a;
  gateway_process child(SWITCHYARD_BINARY, path);
  const std::uint16_t port_a = child.wait_for_port(20s);
  ASSERT_NE(port_a, 0) << "no listening line; stderr:\n" << child.output();
  const auto id = create_batch(port_a, upload(port_a, lines("k-", n)));
  ASSERT_TRUE(eventually([&] { return up.total.load() >= 20; }, 30s));

  // B starts while A holds the lease: it must not run the batch alongside A.
  gateway b(shared_yaml(up.fake.port(), db.path, redis, prefix));
  ASSERT_TRUE(eventually([&] { return up.total.load() >= 40; }, 30s));
  {
    std::lock_guard lock(up.m);
    for (const auto& [cid, k] : up.calls) {
      EXPECT_EQ(k, 1) << cid << " ran twice while A held the lease";
    }
  }
  EXPECT_EQ(child.signal_and_wait(SIGKILL, 10s) != -1, true);
  std::map<std::string, int> at_kill;
  {
    std::lock_guard lock(up.m);
    at_kill = up.calls;
  }
  ASSERT_LT(at_kill.size(), static_cast<std::size_t>(n)) << "finished before the kill";

  auto done = wait_for(b.port(), id, "completed", 60s);
  EXPECT_EQ(done.at("request_counts").at("completed").as_int64(), n);
  EXPECT_EQ(done.at("request_counts").at("failed").as_int64(), 0);
  const auto out = file_lines(b.port(), done.at("output_file_id"));
  std::map<std::string, int> in_output;
  for (const auto& o : out) {
    ++in_output[std::string(o.at("custom_id").as_string())];
  }
  EXPECT_EQ(out.size(), static_cast<std::size_t>(n));
  int twice = 0;
  for (int i = 0; i < n; ++i) {
    const std::string cid = "k-" + std::to_string(i);
    EXPECT_EQ(in_output[cid], 1) << cid << " in the output file";
    const int k = up.calls_of(cid);
    EXPECT_GE(k, 1) << cid;
    EXPECT_LE(k, 2) << cid;
    if (k == 2) {
      ++twice;
      // Only a line A had sent and not recorded at the kill runs again.
      EXPECT_TRUE(at_kill.contains(cid)) << cid << " ran twice without having been in flight";
    }
  }
  EXPECT_LE(twice, 4) << "more lines ran twice than batches.concurrency had in flight";
}

// Redis goes away mid-batch (stopped; its append-only file keeps the data) and comes back: the
// lines whose results could not be recorded are not lost and the batch does not end short — it
// resumes from what the store holds and completes with every custom_id once in the output.
TEST(batches_shared_outage, a_redis_outage_mid_batch_loses_no_line_and_does_not_end_it_short) {
  redis_server redis(/*persistent=*/true);
  temp_dir dir;
  counting_upstream up;
  up.delay = 30ms;
  constexpr int n = 120;
  gateway g(shared_yaml(up.fake.port(), dir.path, redis, fresh_prefix()));
  const auto id = create_batch(g.port(), upload(g.port(), lines("o-", n)));
  ASSERT_TRUE(eventually([&] { return up.total.load() >= 20; }, 30s));
  redis.stop();
  // Redis stays down until the fault has happened: the API sees the store gone (503), and the
  // lines in flight at the stop — proxied requests through the gateway's own listener — have
  // all been answered, so their results have met a store that does not answer.
  client c(g.port());
  EXPECT_TRUE(eventually(
      [&] { return c.request(http::verb::get, "/v1/batches/" + id).status == 503u; }, 10s));
  // switchyard_inflight_requests: proxied requests in flight, which a batch's lines are.
  EXPECT_TRUE(eventually(
      [&] { return metric_sample(g.port(), "switchyard_inflight_requests") == 0.0; }, 10s));
  const int during = up.total.load();
  redis.start();
  auto done = wait_for(g.port(), id, "completed", 60s);
  EXPECT_LT(during, n) << "the batch finished before the outage";
  EXPECT_EQ(done.at("request_counts").at("completed").as_int64(), n);
  EXPECT_EQ(done.at("request_counts").at("total").as_int64(), n);
  const auto out = file_lines(g.port(), done.at("output_file_id"));
  std::map<std::string, int> in_output;
  for (const auto& o : out) {
    ++in_output[std::string(o.at("custom_id").as_string())];
  }
  EXPECT_EQ(out.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const std::string cid = "o-" + std::to_string(i);
    EXPECT_EQ(in_output[cid], 1) << cid << " in the output file";
    EXPECT_GE(up.calls_of(cid), 1) << cid;
  }
}

}  // namespace
}  // namespace switchyard::test
