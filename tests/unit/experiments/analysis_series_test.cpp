#include "switchyard/experiments/analysis_series.hpp"

#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/sequential.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace switchyard {
namespace {

namespace json = boost::json;

constexpr std::int64_t h0 = 1714521600;  // 2024-05-01T00:00:00Z
constexpr std::int64_t hour = 3600;

experiment_config make_config(const std::string& primary = "feedback_success") {
  experiment_config cfg;
  cfg.name = "exp";
  for (const char* n : {"control", "treatment"}) {
    variant_config v;
    v.name = n;
    cfg.variants.push_back(v);
  }
  cfg.analysis.primary_metric = primary;
  cfg.analysis.alpha = 0.05;
  return cfg;
}

variant_hour_stats row(const std::string& variant, std::int64_t at, std::uint64_t requests,
                       std::uint64_t errors, std::int64_t phase = 1, bool stream = false) {
  variant_hour_stats r;
  r.experiment = "exp";
  r.variant = variant;
  r.hour = at;
  r.phase = phase;
  r.requests = requests;
  r.errors = errors;
  latency_sketch lat, ttft;
  for (std::uint64_t i = 0; i < requests; ++i) {
    const double ms = 100 + static_cast<double>(i);
    r.latency_ms.add(ms);
    lat.add(ms);
    if (stream) {
      r.ttft_ms.add(ms / 2);
      ttft.add(ms / 2);
    }
  }
  r.latency_sketch = lat.serialize();
  if (stream) {
    r.ttft_sketch = ttft.serialize();
  }
  return r;
}

feedback_summary fb(const std::string& variant, const std::string& event, std::uint64_t n,
                    std::int64_t at) {
  feedback_summary f;
  f.variant = variant;
  f.event = event;
  f.count = n;
  f.hour = at;
  return f;
}

analysis_input base(const experiment_config& cfg) {
  analysis_input in;
  in.cfg = &cfg;
  in.weights = {0.5, 0.5};
  in.phases = {{"exp", 1, h0, {"control", "treatment"}, {0.5, 0.5}, "start"},
               {"exp", 2, h0 + 2 * hour, {"control", "treatment"}, {0.8, 0.2}, "weights_changed"}};
  return in;
}

TEST(analysis_series, buckets_carry_percentiles_weights_and_a_cumulative_lift_per_phase) {
  const auto cfg = make_config();
  auto in = base(cfg);
  in.rows = {row("control", h0, 100, 1),
             row("treatment", h0, 100, 0, 1, true),
             row("control", h0 + hour, 100, 2),
             row("treatment", h0 + hour, 100, 0, 1, true),
             row("control", h0 + 2 * hour, 80, 0, 2),
             row("treatment", h0 + 2 * hour, 20, 0, 2)};
  in.feedback = {
      fb("control", "success", 30, h0),          fb("control", "failure", 20, h0),
      fb("treatment", "success", 40, h0),        fb("treatment", "failure", 10, h0),
      fb("control", "success", 30, h0 + hour),   fb("control", "failure", 20, h0 + hour),
      fb("treatment", "success", 45, h0 + hour), fb("treatment", "failure", 5, h0 + hour),
      fb("control", "success", 5, h0 + 2 * hour)};
  const auto o = experiment_series(in, 3600, stats::default_tuning_n);
  EXPECT_EQ(o.at("object").as_string(), "experiment_series");
  EXPECT_EQ(o.at("metric_key").as_string(), "success_rate");
  EXPECT_TRUE(o.at("higher_is_better").as_bool());
  const auto& buckets = o.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 3u);

  const auto& b0 = buckets[0].as_object();
  EXPECT_EQ(b0.at("start").as_int64(), h0);
  EXPECT_EQ(b0.at("start_iso").as_string(), "2024-05-01T00:00:00Z");
  EXPECT_EQ(b0.at("phase").as_int64(), 1);
  EXPECT_DOUBLE_EQ(b0.at("weights").at("treatment").as_double(), 0.5);
  const auto& c0 = b0.at("variants").at("control").as_object();
  EXPECT_EQ(c0.at("requests").as_uint64(), 100u);
  EXPECT_NEAR(c0.at("latency_ms").at("p50").as_double(), 150, 3);
  EXPECT_NEAR(c0.at("latency_ms").at("p99").as_double(), 199, 3);
  EXPECT_TRUE(c0.at("ttft_ms").at("p95").is_null()) << "no stream: no TTFT";
  EXPECT_TRUE(c0.at("ttft_ms").at("mean").is_null());
  EXPECT_FALSE(b0.at("variants").at("treatment").at("ttft_ms").at("p95").is_null());
  EXPECT_DOUBLE_EQ(c0.at("cumulative").at("value").as_double(), 0.6);
  EXPECT_FALSE(c0.at("cumulative").as_object().contains("diff")) << "control has no lift";

  // Hour 2 of phase 1: cumulative over both hours, always-valid as the report computes it.
  const auto& t1 = buckets[1].at("variants").at("treatment").at("cumulative").as_object();
  EXPECT_EQ(t1.at("n").as_uint64(), 100u);
  EXPECT_DOUBLE_EQ(t1.at("value").as_double(), 0.85);
  const auto fixed = stats::two_proportion(60, 100, 85, 100, 0.05);
  const auto valid = stats::always_valid(fixed, 200, 0.05, stats::default_tuning_n);
  EXPECT_NEAR(t1.at("diff").as_double(), 0.25, 1e-12);
  EXPECT_NEAR(t1.at("diff_ci").at(0).as_double(), valid.diff_lo, 1e-12);
  EXPECT_NEAR(t1.at("diff_ci").at(1).as_double(), valid.diff_hi, 1e-12);
  EXPECT_NEAR(t1.at("p_value").as_double(), valid.p_value, 1e-12);
  EXPECT_NEAR(t1.at("rel").as_double(), 0.25 / 0.6, 1e-12);

  // Phase 2 starts over, with its weights; treatment has no feedback there yet: nulls.
  const auto& b2 = buckets[2].as_object();
  EXPECT_EQ(b2.at("phase").as_int64(), 2);
  EXPECT_DOUBLE_EQ(b2.at("weights").at("control").as_double(), 0.8);
  const auto& t2 = b2.at("variants").at("treatment").at("cumulative").as_object();
  EXPECT_EQ(t2.at("n").as_uint64(), 0u);
  EXPECT_TRUE(t2.at("value").is_null());
  EXPECT_TRUE(t2.at("diff").is_null());
  EXPECT_TRUE(t2.at("diff_ci").is_null());
  EXPECT_TRUE(t2.at("p_value").is_null());
  EXPECT_FALSE(t2.at("significant").as_bool());
  EXPECT_DOUBLE_EQ(b2.at("variants").at("control").at("cumulative").at("value").as_double(), 1.0);

  const auto& phases = o.at("phases").as_array();
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[1].at("reason").as_string(), "weights_changed");
  EXPECT_DOUBLE_EQ(phases[1].at("weights").at("treatment").as_double(), 0.2);
  EXPECT_EQ(json::serialize(o).find("NaN"), std::string::npos);
}

TEST(analysis_series, error_rate_primary_and_wider_buckets) {
  const auto cfg = make_config("error_rate");
  auto in = base(cfg);
  in.phases.resize(1);
  in.rows = {row("control", h0, 100, 10), row("treatment", h0, 100, 2),
             row("control", h0 + hour, 100, 10), row("treatment", h0 + hour, 100, 2)};
  const auto o = experiment_series(in, 2 * 3600, stats::default_tuning_n);
  EXPECT_EQ(o.at("bucket_seconds").as_int64(), 7200);
  EXPECT_FALSE(o.at("higher_is_better").as_bool());
  const auto& buckets = o.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 1u);
  const auto& t = buckets[0].at("variants").at("treatment").as_object();
  EXPECT_EQ(t.at("requests").as_uint64(), 200u);
  EXPECT_DOUBLE_EQ(t.at("cumulative").at("value").as_double(), 0.02);
  EXPECT_NEAR(t.at("cumulative").at("diff").as_double(), -0.08, 1e-12);
}

TEST(analysis_series, no_data_no_buckets_and_no_config_empty) {
  const auto cfg = make_config();
  const auto o = experiment_series(base(cfg), 3600, stats::default_tuning_n);
  EXPECT_TRUE(o.at("buckets").as_array().empty());
  EXPECT_EQ(o.at("variants").as_array().size(), 2u);
  EXPECT_TRUE(experiment_series(analysis_input{}, 3600, 1000).empty());
}

}  // namespace
}  // namespace switchyard
