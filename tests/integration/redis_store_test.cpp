// The Redis experiment store alone against a real redis-server: a retried flush counts once,
// sketches merge by addition, and the outage buffer's bound drops the oldest flushes (counted).
#include "switchyard/store/redis_store.hpp"
#include "../../src/store/redis_scripts.hpp"  // the private flush script, run twice below
#include "harness.hpp"
#include "redis_server.hpp"
#include "switchyard/experiments/latency_sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace switchyard::test {
namespace {

variant_hour_stats row(std::uint64_t requests, double latency) {
  variant_hour_stats s;
  s.experiment = "e";
  s.variant = "control";
  s.hour = 3600;
  s.requests = requests;
  latency_sketch sk;
  for (std::uint64_t i = 0; i < requests; ++i) {
    s.latency_ms.add(latency);
    sk.add(latency);
  }
  s.latency_sketch = sk.serialize();
  return s;
}

std::unique_ptr<redis_experiment_store> open(redis_server& s, std::uint64_t buffer = 1 << 20) {
  auto c = redis_client::start(*parse_redis_url(s.url()), duration(1000));
  EXPECT_TRUE(c->wait_connected(duration(5000)));
  return std::make_unique<redis_experiment_store>(c,
                                                  redis_store_options{"t:", duration(500), buffer});
}

std::uint64_t requests(redis_experiment_store& st) {
  auto rows = st.read_stats("e", 0, 1 << 30);
  std::uint64_t n = 0;
  for (const auto& r : rows.value()) {
    n += r.requests;
  }
  return n;
}

TEST(RedisStore, flushes_add_up_and_sketches_merge_by_addition) {
  redis_server s;
  auto a = open(s);
  auto b = open(s);
  const auto r1 = row(10, 5);
  const auto r2 = row(30, 500);
  ASSERT_TRUE(a->write_batch(std::span(&r1, 1), {}));
  ASSERT_TRUE(b->write_batch(std::span(&r2, 1), {}));
  auto rows = a->read_stats("e", 0, 1 << 30).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].requests, 40u);
  EXPECT_DOUBLE_EQ(rows[0].latency_ms.sum, 10 * 5.0 + 30 * 500.0);
  auto sk = latency_sketch::deserialize(rows[0].latency_sketch);
  ASSERT_TRUE(sk);
  EXPECT_EQ(sk->count(), 40u);
  EXPECT_NEAR(sk->quantile(0.5), 500, 10);
  EXPECT_NEAR(sk->quantile(0.1), 5, 0.1);
}

TEST(RedisStore, a_retried_flush_with_the_same_id_is_applied_once) {
  redis_server s;
  auto c = redis_client::start(*parse_redis_url(s.url()), duration(1000));
  ASSERT_TRUE(c->wait_connected(duration(5000)));
  const redis_script flush(redis_lua::flush);
  const std::string batch =
      R"({"rows":[{"e":"e","v":"control","pv":"","h":3600,"ph":1,"n":3,"x":1,)"
      R"("m":[3,6,12,0,0,0,0,0,0,0,0,0,0,0,0],"l":[10,3],"t":[]}],)"
      R"("units":[{"e":"e","v":"control","f":"42","h":3600,"ph":1,"s":[3,1,6,0,0,0,0]}]})";
  auto once = [&](const std::string& id) {
    return c->eval_sync(flush, {}, {"t:", id, "60", "1000000", batch}, duration(1000));
  };
  EXPECT_EQ(once("replica-a:1")->integer, 1);
  EXPECT_EQ(once("replica-a:1")->integer, 0) << "the retry is recognised";
  EXPECT_EQ(once("replica-b:1")->integer, 1) << "another flush id adds up";
  redis_experiment_store st(c, redis_store_options{"t:", duration(500), 1 << 20});
  auto rows = st.read_stats("e", 0, 1 << 30).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].requests, 6u);
  EXPECT_EQ(rows[0].errors, 2u);
  EXPECT_EQ(latency_sketch::deserialize(rows[0].latency_sketch)->count(), 6u);
  auto units = st.read_units("e", 1).value();
  EXPECT_EQ(units.units.at("control"), 1u) << "one distinct unit, whatever the flushes";
  EXPECT_DOUBLE_EQ(units.variants.at("control").errors.m_sum, 2);
  EXPECT_EQ(st.unit_counts("e").value().at("control"), 1u);
}

TEST(RedisStore, the_outage_buffer_keeps_at_most_its_bound_and_counts_what_it_drops) {
  redis_server s(/*persistent=*/true);
  // Room for about two batches of one row.
  auto st = open(s, 700);
  const auto r = row(1, 1);
  ASSERT_TRUE(st->write_batch(std::span(&r, 1), {}));
  EXPECT_EQ(requests(*st), 1u);
  s.stop();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(st->write_batch(std::span(&r, 1), {})) << "buffered, not an error";
  }
  EXPECT_GT(st->dropped_requests(), 0u);
  EXPECT_LE(st->buffered_bytes(), 700u);
  const auto dropped = st->dropped_requests();
  s.start();
  ASSERT_TRUE(eventually(
      [&] {
        (void)st->replay();
        return st->buffered_bytes() == 0;
      },
      10s));
  EXPECT_EQ(requests(*st), 1u + 5u - dropped) << "what was kept arrived once";
}

}  // namespace
}  // namespace switchyard::test

namespace switchyard::test {
namespace {

// Not a test: the flush-cost figure of bench/RESULTS.md. Run with
// --gtest_also_run_disabled_tests --gtest_filter='*flush_cost*'.
TEST(RedisStore, DISABLED_flush_cost) {
  redis_server s;
  auto st = open(s);
  for (std::size_t rows_n : {1u, 10u, 100u}) {
    std::vector<variant_hour_stats> rows;
    std::vector<unit_record> units;
    for (std::size_t i = 0; i < rows_n; ++i) {
      rows.push_back(row(100, 50 + static_cast<double>(i)));
      rows.back().variant = "v" + std::to_string(i);
      for (std::uint64_t u = 0; u < 10; ++u) {
        units.push_back({"e", rows.back().variant, i * 1000 + u + 1, 3600, 1, {1, 0, 50}});
      }
    }
    std::vector<double> ms;
    for (int k = 0; k < 31; ++k) {
      const auto t0 = steady_clock::now();
      ASSERT_TRUE(st->write_batch(rows, units));
      ms.push_back(std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("flush of %zu rows + %zu units: median %.3f ms, p90 %.3f ms\n", rows_n,
                units.size(), ms[15], ms[27]);
  }
}

// Two stores (two replicas' connections) editing one control at once, a bounded number of
// times: every edit holds. Each edit appends its own entry, so a lost update is a missing entry
// (the read-modify-write this replaces lost some of them whenever two edits interleaved).
TEST(RedisStore, concurrent_control_edits_from_two_replicas_all_hold) {
  redis_server s;
  auto a = open(s);
  auto b = open(s);
  constexpr int n = 150;
  auto edits = [](redis_experiment_store& st, const std::string& who) {
    for (int i = 0; i < n; ++i) {
      auto r = st.update_control("e", [&](experiment_control& c) {
        c.paused_variants.push_back(who + std::to_string(i));
        if (who == "a") {
          c.weights = {static_cast<double>(i), 1};  // one field per writer, as in the API
        } else {
          c.status = i % 2 ? "running" : "paused";
        }
      });
      EXPECT_TRUE(r) << r.error().message;
    }
  };
  std::thread ta([&] { edits(*a, "a"); });
  std::thread tb([&] { edits(*b, "b"); });
  ta.join();
  tb.join();
  auto all = a->load_controls();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 1u);
  const auto& c = all->front();
  EXPECT_EQ(c.paused_variants.size(), 2u * n);
  for (const char* who : {"a", "b"}) {
    for (int i = 0; i < n; ++i) {
      const std::string entry = who + std::to_string(i);
      EXPECT_NE(std::find(c.paused_variants.begin(), c.paused_variants.end(), entry),
                c.paused_variants.end())
          << entry << " was lost";
    }
  }
  // The last edit of each writer holds too.
  EXPECT_EQ(c.weights, (std::vector<double>{n - 1, 1}));
  EXPECT_EQ(c.status, "running");
}

TEST(RedisStore, a_control_edit_of_a_missing_control_creates_it_and_announces_it) {
  redis_server s;
  auto a = open(s);
  auto r = a->update_control("fresh", [](experiment_control& c) { c.status = "paused"; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->experiment, "fresh");
  auto all = a->load_controls().value();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status, "paused");
  EXPECT_TRUE(all[0].weights.empty());
}

}  // namespace
}  // namespace switchyard::test
