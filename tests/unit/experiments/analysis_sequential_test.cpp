// The experiment report under the default analysis.method (sequential), the fixed-horizon
// method before its planned sample, the per-unit (ratio metric) analysis and phases.

#include "switchyard/experiments/analysis.hpp"

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

experiment_config make_config(const std::string& method, const std::string& primary,
                              std::uint64_t planned) {
  experiment_config cfg;
  cfg.name = "tone";
  cfg.match_model = "m";
  cfg.unit = "header:x-user-id";
  cfg.unit_type = unit_kind::header;
  for (const char* n : {"control", "treatment"}) {
    variant_config v;
    v.name = n;
    cfg.variants.push_back(v);
  }
  cfg.analysis.primary_metric = primary;
  cfg.analysis.method = method;
  cfg.analysis.planned_sample = planned;
  return cfg;
}

variant_hour_stats row(const std::string& variant, std::uint64_t requests, std::uint64_t errors) {
  variant_hour_stats r;
  r.experiment = "tone";
  r.variant = variant;
  r.requests = requests;
  r.errors = errors;
  for (std::uint64_t i = 0; i < requests; ++i) {
    r.latency_ms.add(100);
  }
  return r;
}

analysis_input errors_input(const experiment_config& cfg, std::uint64_t n, std::uint64_t e0,
                            std::uint64_t e1) {
  analysis_input in;
  in.cfg = &cfg;
  in.status = "running";
  in.weights = {0.5, 0.5};
  in.rows = {row("control", n, e0), row("treatment", n, e1)};
  return in;
}

const json::object& error_rate(const json::object& r) {
  return r.at("variants").at(1).at("vs_control").at("error_rate").as_object();
}

std::string state(const json::object& r) {
  return std::string(r.at("verdict").at("state").as_string());
}

TEST(analysis_sequential, a_single_look_p_of_0_035_is_not_enough_to_call_it) {
  // 100 vs 130 errors of 1000: p = 0.035 at one look (experiments.md §5.1), not always-valid.
  const experiment_config cfg = make_config("sequential", "error_rate", 4000);
  const json::object r = experiment_report(errors_input(cfg, 1000, 100, 130));
  const json::object& e = error_rate(r);
  const stats::comparison expected = stats::always_valid(
      stats::two_proportion(100, 1000, 130, 1000), 2000, 0.05, 8000);  // tuning: 2 × planned
  EXPECT_NEAR(e.at("p_value").as_double(), expected.p_value, 1e-12);
  EXPECT_GT(e.at("p_value").as_double(), 0.05);
  EXPECT_NEAR(e.at("diff_ci").at(0).as_double(), expected.diff_lo, 1e-12);
  EXPECT_LT(e.at("diff_ci").at(0).as_double(), 0);
  EXPECT_FALSE(e.at("significant").as_bool());
  EXPECT_EQ(state(r), "collecting");
  const json::object& a = r.at("analysis").as_object();
  EXPECT_EQ(a.at("method").as_string(), "sequential");
  EXPECT_EQ(a.at("planned_source").as_string(), "config");
  EXPECT_EQ(a.at("tuning_n").to_number<double>(), 8000);
  EXPECT_TRUE(a.at("decision_ready").as_bool());
  EXPECT_EQ(r.at("sample_size").at("remaining").to_number<double>(), 3000);
}

TEST(analysis_sequential, a_clear_effect_is_called_before_the_planned_sample) {
  const experiment_config cfg = make_config("sequential", "error_rate", 4000);
  const json::object r = experiment_report(errors_input(cfg, 1000, 100, 200));
  EXPECT_TRUE(error_rate(r).at("significant").as_bool());
  EXPECT_EQ(state(r), "variant_worse");  // always-valid: no need to wait for the 4000
  const std::string summary(r.at("verdict").at("summary").as_string());
  EXPECT_NE(summary.find("always-valid"), std::string::npos) << summary;
  EXPECT_GT(error_rate(r).at("diff_ci").at(0).as_double(), 0);  // the interval excludes 0
}

TEST(analysis_sequential, no_detectable_difference_only_at_the_planned_sample) {
  const experiment_config cfg = make_config("sequential", "error_rate", 2000);
  EXPECT_EQ(state(experiment_report(errors_input(cfg, 1999, 100, 101))), "collecting");
  EXPECT_EQ(state(experiment_report(errors_input(cfg, 2000, 100, 101))),
            "no_detectable_difference");
}

TEST(analysis_sequential, fixed_horizon_waits_for_the_planned_sample) {
  const experiment_config cfg = make_config("fixed_horizon", "error_rate", 4000);
  const json::object early = experiment_report(errors_input(cfg, 1000, 100, 200));
  EXPECT_LT(error_rate(early).at("p_value").as_double(), 1e-6);  // the classic p-value, shown…
  EXPECT_EQ(state(early), "collecting");                         // …but not a decision yet
  EXPECT_FALSE(early.at("analysis").at("decision_ready").as_bool());
  const std::string summary(early.at("verdict").at("summary").as_string());
  EXPECT_NE(summary.find("not a decision"), std::string::npos) << summary;
  const json::object done = experiment_report(errors_input(cfg, 4000, 400, 800));
  EXPECT_EQ(state(done), "variant_worse");
  EXPECT_TRUE(done.at("analysis").at("decision_ready").as_bool());
}

// Per unit: the users' sums give the ratio-metric comparison (delta method), and units that saw
// two variants are excluded and reported.
TEST(analysis_sequential, units_are_the_unit_of_analysis_and_mixed_units_are_reported) {
  const experiment_config cfg = make_config("sequential", "error_rate", 0);
  analysis_input in = errors_input(cfg, 1000, 100, 150);
  unit_summary u;
  for (int i = 0; i < 200; ++i) {  // 200 users per arm, 5 requests each
    u.variants["control"].errors.add(i < 20 ? 5 : 0, 5);
    u.variants["treatment"].errors.add(i < 30 ? 5 : 0, 5);
  }
  for (const char* v : {"control", "treatment"}) {
    u.variants[v].latency_ms = u.variants[v].errors;  // anything with units
    u.units[v] = 200;
  }
  u.mixed = 4;
  in.units = u.units;
  in.per_unit = u;
  in.phase = 2;
  in.phases = {{"tone", 1, 1714521600, {"control", "treatment"}, {0.5, 0.5}, "start"},
               {"tone", 2, 1714525200, {"control", "treatment"}, {0.5, 0.5}, "resumed"}};
  const json::object r = experiment_report(in);
  const stats::comparison fixed =
      stats::ratio_welch(u.variants["control"].errors, u.variants["treatment"].errors);
  // No planned_sample: planned from the per-unit variance (units needed), tuned at twice that.
  const double sd = std::sqrt(u.variants["control"].errors.variance());
  const double planned = stats::sample_size_means(sd, 0.1 * 0.1);
  EXPECT_EQ(r.at("analysis").at("planned_source").as_string(), "estimate");
  EXPECT_EQ(r.at("analysis").at("planned_per_variant").to_number<double>(), planned);
  const stats::comparison expected = stats::always_valid(fixed, 400, 0.05, 2 * planned);
  EXPECT_EQ(r.at("analysis").at("unit_of_analysis").as_string(), "unit");
  EXPECT_NEAR(error_rate(r).at("diff_ci").at(0).as_double(), expected.diff_lo, 1e-12);
  EXPECT_NEAR(error_rate(r).at("p_value").as_double(), expected.p_value, 1e-12);
  // Per request the interval would be far narrower: all of a user's requests fail together.
  const stats::comparison per_request =
      stats::always_valid(stats::two_proportion(100, 1000, 150, 1000), 2000, 0.05, 2 * planned);
  EXPECT_GT(expected.diff_hi - expected.diff_lo, 1.5 * (per_request.diff_hi - per_request.diff_lo));
  const json::object& phase = r.at("phase").as_object();
  EXPECT_EQ(phase.at("phase").as_int64(), 2);
  EXPECT_EQ(phase.at("reason").as_string(), "resumed");
  EXPECT_EQ(phase.at("units_multiple_variants").to_number<double>(), 4);
  EXPECT_NEAR(phase.at("units_multiple_variants_share").as_double(), 4.0 / 404, 1e-12);
  EXPECT_EQ(r.at("phases").as_array().size(), 2u);
  EXPECT_EQ(r.at("srm").at("observed").at(0).to_number<double>(), 200);

  experiment_config per_request_cfg = cfg;  // unit: request keeps the per-request formulas
  per_request_cfg.unit_type = unit_kind::request;
  in.cfg = &per_request_cfg;
  EXPECT_EQ(experiment_report(in).at("analysis").at("unit_of_analysis").as_string(), "request");
}

// Feedback whose ids carried the unit is analysed per unit too; without, per event.
TEST(analysis_sequential, feedback_is_per_unit_when_its_ids_carried_the_unit) {
  const experiment_config cfg = make_config("sequential", "feedback_success", 1000);
  analysis_input in = errors_input(cfg, 1000, 0, 0);
  for (const char* v : {"control", "treatment"}) {
    feedback_summary ok;
    ok.variant = v;
    ok.event = "success";
    ok.count = std::string(v) == "control" ? 300 : 400;
    feedback_summary ko = ok;
    ko.event = "failure";
    ko.count = 1000 - ok.count;
    in.feedback.push_back(ok);
    in.feedback.push_back(ko);
  }
  unit_summary u;
  for (int i = 0; i < 100; ++i) {  // 100 users of 10 judged requests each: all or nothing
    u.variants["control"].errors.add(0, 10);
    u.variants["treatment"].errors.add(0, 10);
    u.variants["control"].success.add(i < 30 ? 10 : 0, 10);
    u.variants["treatment"].success.add(i < 40 ? 10 : 0, 10);
  }
  u.units = {{"control", 100}, {"treatment", 100}};
  in.units = u.units;
  in.per_unit = u;
  const json::object r = experiment_report(in);
  const auto& sr = r.at("variants").at(1).at("vs_control").at("success_rate").as_object();
  const stats::comparison expected = stats::always_valid(
      stats::ratio_welch(u.variants["control"].success, u.variants["treatment"].success), 200, 0.05,
      2000);
  EXPECT_NEAR(sr.at("diff_ci").at(0).as_double(), expected.diff_lo, 1e-12);
  EXPECT_NEAR(sr.at("diff").as_double(), 0.1, 1e-12);
  EXPECT_FALSE(sr.at("significant").as_bool());  // per event (1000 vs 1000) it would be
  const stats::comparison per_event =
      stats::always_valid(stats::two_proportion(300, 1000, 400, 1000), 2000, 0.05, 2000);
  EXPECT_LT(per_event.p_value, 0.05);

  in.per_unit->variants["control"].success = {};  // ids without units: per event again
  in.per_unit->variants["treatment"].success = {};
  const json::object e = experiment_report(in);
  EXPECT_NEAR(e.at("variants").at(1).at("vs_control").at("success_rate").at("p_value").as_double(),
              per_event.p_value, 1e-12);
}

}  // namespace
}  // namespace switchyard
