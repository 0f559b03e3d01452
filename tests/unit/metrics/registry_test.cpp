#include "switchyard/metrics/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <latch>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchyard::metrics {
namespace {

// A registry with one of each kind of family, as the gateway would expose them.
struct sample_registry {
  registry r{2};
  family<counter>& requests =
      r.add_counter("switchyard_requests_total", "Requests handled.", {"model", "status"});
  family<gauge>& in_flight = r.add_gauge("switchyard_in_flight", "Requests in flight.", {});
  family<histogram>& latency =
      r.add_histogram("switchyard_latency_seconds", "Upstream latency.", {"model"}, {0.25, 0.5, 1});

  sample_registry() {
    r.add_callback("switchyard_build_info", "Build of \"this\" gateway.", "gauge",
                   [](std::string& out, bool) {
                     append_sample(out, "switchyard_build_info", {{"version", "1.0"}}, 1);
                   });
    requests.with({"gpt-4o", "2xx"}).inc();
    requests.with({"gpt-4o", "2xx"}).inc(2);
    requests.with({"mini", "5xx"}).inc(0.25);
    in_flight.with().add(3);
    in_flight.with().sub(1);
    for (double v : {0.25, 0.75, 3.0}) {
      latency.with({"gpt-4o"}).observe(v);
    }
  }
};

TEST(registry, metrics_registry_renders_prometheus_text_format) {
  sample_registry s;
  EXPECT_EQ(s.r.render(),
            "# HELP switchyard_requests_total Requests handled.\n"
            "# TYPE switchyard_requests_total counter\n"
            "switchyard_requests_total{model=\"gpt-4o\",status=\"2xx\"} 3\n"
            "switchyard_requests_total{model=\"mini\",status=\"5xx\"} 0.25\n"
            "# HELP switchyard_in_flight Requests in flight.\n"
            "# TYPE switchyard_in_flight gauge\n"
            "switchyard_in_flight 2\n"
            "# HELP switchyard_latency_seconds Upstream latency.\n"
            "# TYPE switchyard_latency_seconds histogram\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"0.25\"} 1\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"0.5\"} 1\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"1\"} 2\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"+Inf\"} 3\n"
            "switchyard_latency_seconds_sum{model=\"gpt-4o\"} 4\n"
            "switchyard_latency_seconds_count{model=\"gpt-4o\"} 3\n"
            "# HELP switchyard_build_info Build of \"this\" gateway.\n"
            "# TYPE switchyard_build_info gauge\n"
            "switchyard_build_info{version=\"1.0\"} 1\n");
}

TEST(registry, metrics_registry_renders_openmetrics) {
  sample_registry s;
  EXPECT_EQ(s.r.render(true),
            "# TYPE switchyard_requests counter\n"
            "# HELP switchyard_requests Requests handled.\n"
            "switchyard_requests_total{model=\"gpt-4o\",status=\"2xx\"} 3\n"
            "switchyard_requests_total{model=\"mini\",status=\"5xx\"} 0.25\n"
            "# TYPE switchyard_in_flight gauge\n"
            "# HELP switchyard_in_flight Requests in flight.\n"
            "switchyard_in_flight 2\n"
            "# TYPE switchyard_latency_seconds histogram\n"
            "# HELP switchyard_latency_seconds Upstream latency.\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"0.25\"} 1\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"0.5\"} 1\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"1.0\"} 2\n"
            "switchyard_latency_seconds_bucket{model=\"gpt-4o\",le=\"+Inf\"} 3\n"
            "switchyard_latency_seconds_sum{model=\"gpt-4o\"} 4\n"
            "switchyard_latency_seconds_count{model=\"gpt-4o\"} 3\n"
            "# TYPE switchyard_build_info gauge\n"
            "# HELP switchyard_build_info Build of \\\"this\\\" gateway.\n"
            "switchyard_build_info{version=\"1.0\"} 1\n"
            "# EOF\n");
}

TEST(registry, metrics_registry_histogram_le_is_inclusive_and_cumulative) {
  histogram h(1, {0.1, 0.5, 1});
  for (double v : {-1.0, 0.1, 0.10000000000000002, 0.5, 1.0, 7.0}) {
    h.observe(v);
  }
  const histogram::snapshot s = h.collect();
  EXPECT_EQ(s.bounds, (std::vector<double>{0.1, 0.5, 1}));
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 7.7);
}

TEST(registry, metrics_registry_histogram_edge_values) {
  histogram h(1, {1, 2, std::numeric_limits<double>::infinity()});  // +Inf given: dropped
  EXPECT_EQ(h.bounds(), (std::vector<double>{1, 2}));
  h.observe(std::numeric_limits<double>::infinity());
  h.observe(std::nan(""));
  const histogram::snapshot s = h.collect();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{0, 0, 2}));
  EXPECT_TRUE(std::isnan(s.sum));  // as the Go client: a NaN observation poisons the sum
  histogram only_inf(1, {});
  only_inf.observe(5);
  EXPECT_EQ(only_inf.collect().cumulative, (std::vector<std::uint64_t>{1}));
  EXPECT_THROW(histogram(1, {1, 1}), std::invalid_argument);
  EXPECT_THROW(histogram(1, {2, 1}), std::invalid_argument);
  EXPECT_THROW(histogram(1, {std::nan("")}), std::invalid_argument);
  EXPECT_THROW(histogram(0, {1}), std::invalid_argument);
}

TEST(registry, metrics_registry_shards_merge_and_strangers_use_the_last_shard) {
  counter c(3);
  gauge g(3);
  histogram h(3, {1});
  std::vector<std::thread> threads;
  // Shards 0 and 1 are workers; 2 (the last) and 7 (out of range) both land on the last shard.
  for (std::size_t shard : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}}) {
    threads.emplace_back([&, shard] {
      set_thread_shard(shard);
      for (int i = 0; i < 1000; ++i) {
        c.inc(0.5);
        g.add(2);
        g.sub(1);
        h.observe(static_cast<double>(i % 2));
      }
    });
  }
  threads.emplace_back([&] {  // never calls set_thread_shard
    c.inc(10);
    h.observe(5);
  });
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(c.value(), 2010);
  EXPECT_EQ(g.value(), 4000);
  const histogram::snapshot s = h.collect();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{4000, 4001}));
  EXPECT_EQ(s.sum, 2005);
}

TEST(registry, metrics_registry_counters_never_go_down_and_gauges_ignore_nan) {
  counter c;
  c.inc();
  c.inc(-5);
  c.inc(std::nan(""));
  c.inc(0.5);
  EXPECT_EQ(c.value(), 1.5);
  gauge g;
  g.add(2);
  g.sub(3.5);
  g.add(std::nan(""));
  EXPECT_EQ(g.value(), -1.5);
}

TEST(registry, metrics_registry_with_returns_the_same_stable_series) {
  registry r(1);
  auto& f = r.add_counter("hits_total", "", {"route"});
  std::vector<counter*> first;
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) {
    names.push_back("r" + std::to_string(i));
  }
  for (const auto& n : names) {
    first.push_back(&f.with({n}));
    first.back()->inc();
  }
  for (std::size_t i = 0; i < names.size(); ++i) {  // after the index has grown many times
    ASSERT_EQ(&f.with({names[i]}), first[i]) << names[i];
    EXPECT_EQ(first[i]->value(), 1);
  }
  EXPECT_EQ(f.size(), 1000u);
  EXPECT_NE(&f.with({"ab"}), &f.with({"a"}));
}

TEST(registry, metrics_registry_cardinality_overflows_into_other) {
  registry r(1);
  auto& f = r.add_counter("errors_total", "Errors.", {"model", "type"}, 2);
  f.with({"a", "timeout"}).inc();
  f.with({"b", "timeout"}).inc();
  f.with({"c", "timeout"}).inc();
  f.with({"d", "rate_limit"}).inc(2);
  f.with({"a", "timeout"}).inc();  // an existing series still gets its own counts
  EXPECT_EQ(&f.with({"e", "x"}), &f.with({"other", "other"}));
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(r.render(),
            "# HELP errors_total Errors.\n"
            "# TYPE errors_total counter\n"
            "errors_total{model=\"a\",type=\"timeout\"} 2\n"
            "errors_total{model=\"b\",type=\"timeout\"} 1\n"
            "errors_total{model=\"other\",type=\"other\"} 3\n");
}

TEST(registry, metrics_registry_label_values_are_escaped_and_made_valid_utf8) {
  registry r(1);
  r.add_gauge("g", "", {"v"}).with({"a\"b\\c\nd\xFF"}).add(1);
  EXPECT_EQ(r.render(),
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\xEF\xBF\xBD\"} 1\n");
}

TEST(registry, metrics_registry_empty_labelled_families_are_left_out_and_unlabelled_start_at_zero) {
  registry r(1);
  r.add_counter("labelled_total", "Has labels.", {"x"});
  r.add_counter("plain_total", "No labels.", {});
  EXPECT_EQ(r.render(),
            "# HELP plain_total No labels.\n"
            "# TYPE plain_total counter\n"
            "plain_total 0\n");
}

TEST(registry, metrics_registry_registration_bugs_throw) {
  registry r(1);
  r.add_histogram("lat_seconds", "", {}, {1});
  EXPECT_THROW(r.add_counter("requests", "", {}), std::invalid_argument);         // no _total
  EXPECT_THROW(r.add_gauge("bad-name", "", {}), std::invalid_argument);           // invalid
  EXPECT_THROW(r.add_gauge("g", "", {"a", "a"}), std::invalid_argument);          // repeated
  EXPECT_THROW(r.add_gauge("g", "", {"__a"}), std::invalid_argument);             // reserved
  EXPECT_THROW(r.add_histogram("h", "", {"le"}, {1}), std::invalid_argument);     // le
  EXPECT_THROW(r.add_histogram("h", "", {}, {2, 1}), std::invalid_argument);      // bounds
  EXPECT_THROW(r.add_gauge("lat_seconds", "", {}), std::invalid_argument);        // taken
  EXPECT_THROW(r.add_gauge("lat_seconds_count", "", {}), std::invalid_argument);  // clashes
  EXPECT_THROW(r.add_callback("cb", "", "bogus", [](std::string&, bool) {}), std::invalid_argument);
  EXPECT_THROW(registry(0), std::invalid_argument);
  auto& g = r.add_gauge("g", "", {"a", "b"});  // the failed attempts registered nothing
  EXPECT_THROW(g.with({"only one"}), std::invalid_argument);
  EXPECT_NO_THROW(r.add_histogram("h", "", {}, {1}));
}

TEST(registry, metrics_registry_bucket_helpers) {
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(exponential_buckets(0.001, 10, 3).size(), 3u);
  EXPECT_THROW(exponential_buckets(0, 2, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1, 1, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1, 2, 0), std::invalid_argument);
  EXPECT_EQ(default_latency_buckets(), (std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}));
  EXPECT_EQ(default_overhead_buckets(),
            (std::vector<double>{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
                                 2.5e-2, 5e-2, 0.1}));
}

// What a scraper checks line by line: a comment, or `name[{labels}] value` with a number value.
// Returns the value of `name`'s sample (no labels compared), or NaN when absent; fails on a bad
// line.
double parse_and_find(const std::string& text, std::string_view want) {
  double found = std::nan("");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# ")) {
      continue;
    }
    const auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) {
      return found;
    }
    const std::string_view series(line.data(), space);
    const std::string_view number = std::string_view(line).substr(space + 1);
    double v = 0;
    const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
    EXPECT_TRUE(r.ec == std::errc{} && r.ptr == number.data() + number.size()) << line;
    const auto brace = series.find('{');
    EXPECT_TRUE(valid_metric_name(series.substr(0, brace))) << line;
    EXPECT_TRUE(brace == std::string_view::npos || series.ends_with('}')) << line;
    if (series == want) {
      found = v;
    }
  }
  return found;
}

TEST(registry, metrics_registry_concurrent_updates_are_exact_and_scrapes_monotonic) {
  constexpr int workers = 4;
  constexpr int per_worker = 200'000;
  registry r(workers + 1);
  auto& hits = r.add_counter("hits_total", "Hits.", {"route"});
  auto& lat = r.add_histogram("lat_seconds", "Latency.", {"route"}, {0.5});
  std::atomic<int> running{workers};
  std::latch start(workers + 1);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      set_thread_shard(static_cast<std::size_t>(w));
      start.arrive_and_wait();
      for (int i = 0; i < per_worker; ++i) {
        hits.with({"/v1/chat"}).inc();
        lat.with({"/v1/chat"}).observe(i % 2 == 0 ? 0.25 : 1.0);
      }
      running.fetch_sub(1);
    });
  }
  double last_hits = 0;
  double last_count = 0;
  int scrapes = 0;
  start.arrive_and_wait();
  for (; running.load() > 0 && scrapes < 100'000; ++scrapes) {
    const std::string text = r.render();
    const double h = parse_and_find(text, "hits_total{route=\"/v1/chat\"}");
    const double count = parse_and_find(text, "lat_seconds_count{route=\"/v1/chat\"}");
    const double inf = parse_and_find(text, "lat_seconds_bucket{route=\"/v1/chat\",le=\"+Inf\"}");
    if (std::isnan(h) || std::isnan(count)) {
      continue;  // the series is not created yet
    }
    ASSERT_GE(h, last_hits);
    ASSERT_GE(count, last_count);
    ASSERT_EQ(inf, count);
    ASSERT_LE(h, workers * per_worker);
    last_hits = h;
    last_count = count;
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_GT(scrapes, 0);
  const std::string text = r.render();
  EXPECT_EQ(parse_and_find(text, "hits_total{route=\"/v1/chat\"}"), 800'000);
  EXPECT_EQ(parse_and_find(text, "lat_seconds_count{route=\"/v1/chat\"}"), 800'000);
  EXPECT_EQ(parse_and_find(text, "lat_seconds_bucket{route=\"/v1/chat\",le=\"0.5\"}"), 400'000);
  EXPECT_EQ(parse_and_find(text, "lat_seconds_sum{route=\"/v1/chat\"}"), 500'000);
}

TEST(registry, metrics_registry_concurrent_creation_gives_one_series_per_combination) {
  registry r(3);
  auto& f = r.add_counter("c_total", "", {"k"});
  std::latch start(2);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      set_thread_shard(w);
      start.arrive_and_wait();
      for (int i = 0; i < 2000; ++i) {
        f.with({std::to_string(i % 500)}).inc();
        if (i % 100 == 0) {
          (void)r.render();  // scrapes race with creation too
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(f.size(), 500u);
  for (int k = 0; k < 500; ++k) {
    ASSERT_EQ(f.with({std::to_string(k)}).value(), 8) << k;
  }
}

}  // namespace
}  // namespace switchyard::metrics
