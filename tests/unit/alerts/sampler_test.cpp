#include "switchyard/alerts/sampler.hpp"

#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/runtime/worker.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

config make_config() {
  auto c = parse_config(R"(
upstreams:
  - { name: openai, base_url: "http://127.0.0.1:9/v1" }
  - { name: backup, base_url: "http://127.0.0.1:9/v1" }
models: [ { name: gpt, upstream: openai } ]
metrics: { latency_buckets: [0.1, 1, 10] }
)");
  if (!c) {
    throw std::runtime_error(c.error().message);
  }
  return *c;
}

access_record request(std::string_view upstream, unsigned status, std::string_view error, double ms,
                      std::int64_t in, std::int64_t out, double cost) {
  access_record r;
  r.endpoint = "chat_completions";
  r.model = "gpt";
  r.model_known = true;
  r.upstream = upstream;
  r.status = status;
  r.error = error;
  r.duration_ms = ms;
  r.usage = token_usage{in, out, in + out};
  r.cost_usd = cost;
  return r;
}

// A fresh metric set per test (the shared state it reads lives as long).
struct metric_set {
  explicit metric_set(const config& cfg) : shared(cfg), m(cfg, 2, shared) {}
  shared_state shared;
  gateway_metrics m;
};

const auto primary = [](std::string_view model) -> std::string {
  return model == "gpt" ? "openai" : "";
};

TEST(metrics_sampler, deltas_of_requests_errors_latency_tokens_and_cost) {
  static const config cfg = make_config();
  metric_set set(cfg);
  gateway_metrics& m = set.m;
  metrics_sampler s;
  m.observe(request("openai", 200, "", 50, 10, 5, 0.01));
  m.observe(request("openai", 502, "upstream_error", 500, 10, 0, 0));
  m.observe(request("openai", 400, "invalid_request", 5, 0, 0, 0));
  auto d = s.sample(m, primary);
  const traffic_key k{"gpt", "openai", "none", "none", "none"};
  ASSERT_TRUE(d.series.contains(k));
  const auto& f = d.series.at(k);
  EXPECT_DOUBLE_EQ(f.requests, 3);
  EXPECT_DOUBLE_EQ(f.errors, 1) << "the 502; a client's 400 is not an error";
  EXPECT_DOUBLE_EQ(f.fallbacks, 0);
  EXPECT_DOUBLE_EQ(f.input_tokens, 20);
  EXPECT_DOUBLE_EQ(f.output_tokens, 5);
  EXPECT_DOUBLE_EQ(f.cost_usd, 0.01);
  EXPECT_EQ(f.latency, (std::vector<double>{2, 1, 0, 0}));

  // Only what is new counts next time.
  m.observe(request("openai", 200, "", 50, 1, 1, 0.5));
  d = s.sample(m, primary);
  EXPECT_DOUBLE_EQ(d.series.at(k).requests, 1);
  EXPECT_DOUBLE_EQ(d.series.at(k).cost_usd, 0.5);
  EXPECT_EQ(d.series.at(k).latency, (std::vector<double>{1, 0, 0, 0}));
  d = s.sample(m, primary);
  EXPECT_TRUE(d.series.empty());
}

TEST(metrics_sampler, tokens_and_cost_follow_the_upstreams_share_and_fallbacks_count) {
  static const config cfg = make_config();
  metric_set set(cfg);
  gateway_metrics& m = set.m;
  metrics_sampler s;
  for (int i = 0; i < 3; ++i) {
    m.observe(request("openai", 200, "", 50, 10, 10, 0.3));
  }
  m.observe(request("backup", 200, "", 50, 10, 10, 0.3));
  const auto d = s.sample(m, primary);
  const auto& main = d.series.at({"gpt", "openai", "none", "none", "none"});
  const auto& backup = d.series.at({"gpt", "backup", "none", "none", "none"});
  EXPECT_DOUBLE_EQ(main.input_tokens, 30);
  EXPECT_DOUBLE_EQ(backup.input_tokens, 10);
  EXPECT_NEAR(main.cost_usd + backup.cost_usd, 1.2, 1e-12);
  EXPECT_DOUBLE_EQ(backup.fallbacks, 1);
  EXPECT_DOUBLE_EQ(main.fallbacks, 0);
}

TEST(metrics_sampler, feedback_per_variant_and_local_answers_ignored) {
  static const config cfg = make_config();
  metric_set set(cfg);
  gateway_metrics& m = set.m;
  metrics_sampler s;
  m.feedback.with({"exp", "t", "success"}).inc(3);
  m.feedback.with({"exp", "t", "failure"}).inc();
  m.feedback.with({"exp", "t", "thumbs"}).inc();
  m.feedback_score.with({"exp", "t"}).observe(4);
  m.feedback_score.with({"exp", "t"}).observe(-2);
  access_record api;  // answered by the gateway itself
  api.status = 200;
  m.observe(api);
  const auto d = s.sample(m, primary);
  EXPECT_TRUE(d.series.empty());
  const auto& f = d.feedback.at({"exp", "t"});
  EXPECT_DOUBLE_EQ(f.success, 3);
  EXPECT_DOUBLE_EQ(f.failure, 1);
  EXPECT_DOUBLE_EQ(f.score_n, 2);
  EXPECT_DOUBLE_EQ(f.score_sum, 2);
}

}  // namespace
}  // namespace switchyard
