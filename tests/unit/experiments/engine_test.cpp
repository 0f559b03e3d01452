#include "switchyard/experiments/engine.hpp"

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/plan.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace switchyard {
namespace {

// A data_dir of its own, removed afterwards.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/switchyard-engine-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string yaml(const std::string& dir) {
  return R"(
data_dir: )" + dir + R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models:
  - { name: small, upstream: up }
experiments:
  - name: tone
    match: { model: virtual }
    unit: header:x-user-id
    variants: [ { name: control, model: small }, { name: treatment, model: small } ]
)";
}

struct fixture {
  temp_dir dir;
  config_snapshot snapshot;
  std::unique_ptr<experiment_engine> engine;
  std::map<std::string, std::string> headers;

  fixture() {
    auto cfg = parse_config(yaml(dir.path));
    EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
    auto e = experiment_engine::open(*cfg, snapshot, 2);
    EXPECT_TRUE(e) << (e ? "" : e.error().message);
    engine = std::move(*e);
  }

  // One counted request of `user` on `shard`, at a fixed hour.
  void request(const std::string& user, std::size_t shard, double latency_ms, bool error) {
    const auto p = snapshot.current();
    headers["x-user-id"] = user;
    request_view r;
    r.model = "virtual";
    r.endpoint = "chat_completions";
    r.header = [this](std::string_view name) -> std::string_view {
      auto it = headers.find(std::string(name));
      return it == headers.end() ? std::string_view{} : std::string_view(it->second);
    };
    const assignment a = assign(*p, r);
    ASSERT_TRUE(a.counted);
    experiment_outcome o;
    o.error = error;
    o.latency_ms = latency_ms;
    o.unix_seconds = 1'800'000'000;
    engine->record(shard, *p, a, o);
  }

  // Requests and errors per variant, over every stored hour.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> totals() {
    auto rows = engine->store().read_stats("tone", 0, 4'000'000'000);
    EXPECT_TRUE(rows);
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& row : *rows) {
      out[row.variant].first += row.requests;
      out[row.variant].second += row.errors;
    }
    return out;
  }
};

// The flush keeps the shards' cells (zeroed) from one flush to the next, so that the same
// variants and units count again without allocating: what it writes must still be exactly what
// was recorded since the flush before — nothing twice, nothing lost — over flushes with and
// without requests, on both shards, and per unit.
TEST(experiment_engine, kept_cells_count_each_request_once_across_flushes) {
  fixture f;
  std::uint64_t want = 0;
  std::uint64_t want_errors = 0;
  for (int round = 0; round < 5; ++round) {
    // Round 3 records nothing: the kept cells are then dropped, and come back in round 4.
    const int users = round == 3 ? 0 : 10 + round;
    for (int u = 0; u < users; ++u) {
      const bool error = u % 4 == 0;
      f.request("user-" + std::to_string(u), static_cast<std::size_t>(u % 2), 10.0 + u, error);
      ++want;
      want_errors += error ? 1 : 0;
    }
    ASSERT_TRUE(f.engine->flush());
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    for (const auto& [variant, t] : f.totals()) {
      requests += t.first;
      errors += t.second;
    }
    EXPECT_EQ(requests, want) << "after round " << round;
    EXPECT_EQ(errors, want_errors) << "after round " << round;
  }
  // Every unit's requests add up too: users 0..9 came in rounds 0, 1, 2 and 4, user 10 in
  // rounds 1, 2 and 4, user 11 in 2 and 4, users 12 and 13 in 4 only.
  auto units = f.engine->store().read_units("tone", 1);
  ASSERT_TRUE(units);
  double unit_requests = 0;
  std::uint64_t unit_count = 0;
  for (const auto& [variant, agg] : units->variants) {
    unit_requests += agg.errors.d_sum;  // D_u of the error rate: the unit's requests
    unit_count += units->units.at(variant);
  }
  EXPECT_EQ(unit_count, 14u);
  EXPECT_EQ(unit_requests, static_cast<double>(want));
}

// A flush with nothing recorded writes nothing and fails nothing.
TEST(experiment_engine, an_empty_flush_is_a_no_op) {
  fixture f;
  ASSERT_TRUE(f.engine->flush());
  ASSERT_TRUE(f.engine->flush());
  EXPECT_TRUE(f.totals().empty());
}

}  // namespace
}  // namespace switchyard
