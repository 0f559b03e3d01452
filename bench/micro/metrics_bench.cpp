// Cost of the metrics hot path and of a scrape.
//
// Thread counts: `Threads(2)` runs two threads hammering the same series; each is a worker with
// its own shard (as in the gateway) unless the benchmark name says `shared_shard`, where both
// use the last shard (non-worker threads) and so contend on one cache line.

#include "switchyard/metrics/registry.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

namespace switchyard::metrics {
namespace {

constexpr std::size_t workers = 2;
constexpr std::size_t not_a_worker = std::numeric_limits<std::size_t>::max();

registry& shared_registry() {
  static registry r(workers + 1);
  return r;
}

counter& hot_counter() {
  static counter& c = shared_registry()
                          .add_counter("bench_requests_total", "", {"model", "status"})
                          .with({"gpt-4o-mini", "2xx"});
  return c;
}

histogram& hot_histogram() {
  static histogram& h =
      shared_registry()
          .add_histogram("bench_latency_seconds", "", {"model"}, default_latency_buckets())
          .with({"gpt-4o-mini"});
  return h;
}

// A family with 100 series, the looked-up one among them.
family<counter>& populated_family() {
  static family<counter>& f = []() -> family<counter>& {
    auto& fam = shared_registry().add_counter("bench_lookup_total", "", {"model", "status"});
    for (int m = 0; m < 20; ++m) {
      for (const char* status : {"2xx", "4xx", "5xx", "429", "timeout"}) {
        fam.with({"model-" + std::to_string(m), status});
      }
    }
    fam.with({"gpt-4o-mini", "2xx"});
    return fam;
  }();
  return f;
}

void own_shard(const benchmark::State& state) {
  set_thread_shard(static_cast<std::size_t>(state.thread_index()));
}

void BM_counter_inc(benchmark::State& state) {
  own_shard(state);
  counter& c = hot_counter();
  for (auto _ : state) {
    c.inc();
  }
}
BENCHMARK(BM_counter_inc)->Threads(1)->Threads(2);

void BM_counter_inc_shared_shard(benchmark::State& state) {
  set_thread_shard(not_a_worker);
  counter& c = hot_counter();
  for (auto _ : state) {
    c.inc();
  }
}
BENCHMARK(BM_counter_inc_shared_shard)->Threads(2);

void BM_histogram_observe(benchmark::State& state) {
  own_shard(state);
  histogram& h = hot_histogram();
  // Latencies spread over the buckets, so the bucket search is not always the same branch.
  const std::array<double, 8> values = {0.003, 0.04, 0.2, 0.9, 1.7, 4.2, 13.0, 200.0};
  std::size_t i = 0;
  for (auto _ : state) {
    h.observe(values[i++ & 7]);
  }
}
BENCHMARK(BM_histogram_observe)->Threads(1)->Threads(2);

void BM_histogram_observe_shared_shard(benchmark::State& state) {
  set_thread_shard(not_a_worker);
  histogram& h = hot_histogram();
  for (auto _ : state) {
    h.observe(0.2);
  }
}
BENCHMARK(BM_histogram_observe_shared_shard)->Threads(2);

void BM_family_with_existing(benchmark::State& state) {
  own_shard(state);
  family<counter>& f = populated_family();
  for (auto _ : state) {
    benchmark::DoNotOptimize(&f.with({"gpt-4o-mini", "2xx"}));
  }
}
BENCHMARK(BM_family_with_existing)->Threads(1)->Threads(2);

void BM_family_with_then_inc(benchmark::State& state) {
  own_shard(state);
  family<counter>& f = populated_family();
  for (auto _ : state) {
    f.with({"gpt-4o-mini", "2xx"}).inc();
  }
}
BENCHMARK(BM_family_with_then_inc)->Threads(1)->Threads(2);

// 300 counter series, 100 gauge series and 100 histogram series of 15 buckets: 500 series,
// about 2,200 sample lines.
const registry& scrape_registry() {
  static const registry& r = []() -> registry& {
    static registry reg(workers + 1);
    auto& requests = reg.add_counter("switchyard_requests_total", "Requests.", {"model", "status"});
    auto& streams = reg.add_gauge("switchyard_active_streams", "Streams.", {"model", "upstream"});
    auto& latency = reg.add_histogram("switchyard_upstream_latency_seconds", "Latency.", {"model"},
                                      default_latency_buckets());
    for (int m = 0; m < 100; ++m) {
      const std::string model = "model-" + std::to_string(m);
      for (const char* status : {"2xx", "4xx", "5xx"}) {
        requests.with({model, status}).inc(12345);
      }
      streams.with({model, "openai"}).add(7);
      latency.with({model}).observe(0.8);
    }
    return reg;
  }();
  return r;
}

void BM_render_500_series(benchmark::State& state) {
  const registry& r = scrape_registry();
  const bool openmetrics = state.range(0) != 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = r.render(openmetrics);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_render_500_series)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace switchyard::metrics
