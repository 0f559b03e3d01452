#include "switchyard/compat/modelab_report.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

modelab_variant_stats arm(std::string name, std::uint64_t users, std::uint64_t success,
                          std::uint64_t failure) {
  modelab_variant_stats v;
  v.variant = std::move(name);
  v.users = users;
  v.assignments = users;
  v.success = success;
  v.failure = failure;
  return v;
}

TEST(ModelabReport, ControlIsNamedControlElseFirst) {
  modelab_flag_stats f;
  f.variants = {arm("a", 1, 0, 0), arm("control", 1, 0, 0)};
  EXPECT_EQ(modelab_control(f), 1u);
  f.variants = {arm("a", 1, 0, 0), arm("b", 1, 0, 0)};
  EXPECT_EQ(modelab_control(f), 0u);
}

TEST(ModelabReport, BetterVariantWithAlwaysValidInterval) {
  modelab_flag_stats f;
  f.flag = "x";
  f.variants = {arm("control", 2000, 1000, 1000), arm("treatment", 2000, 1400, 600)};
  auto j = modelab_flag_json(f, {});
  auto& sy = j["switchyard"].as_object();
  EXPECT_EQ(sy["verdict"].as_object()["state"].as_string(), "variant_better");
  EXPECT_EQ(sy["verdict"].as_object()["variant"].as_string(), "treatment");
  const auto& c = sy["comparisons"].as_array()[0].as_object().at("success_rate").as_object();
  EXPECT_NEAR(c.at("diff").as_double(), 0.2, 1e-12);
  EXPECT_GT(c.at("diff_ci").as_array()[0].as_double(), 0);
  EXPECT_TRUE(c.at("significant").as_bool());
}

TEST(ModelabReport, NoDifferenceKeepsCollectingAndSrmNeedsWeights) {
  modelab_flag_stats f;
  f.variants = {arm("control", 1000, 500, 500), arm("treatment", 1000, 505, 495)};
  modelab_analysis_options opt;
  auto j = modelab_flag_json(f, opt);
  EXPECT_EQ(j["switchyard"].as_object()["verdict"].as_object()["state"].as_string(), "collecting");
  // Known weights 50/50 but users 1000 vs 1400: a mismatch, reported before any difference.
  f.variants[1].users = 1400;
  opt.weights = {{"control", 50}, {"treatment", 50}};
  auto k = modelab_flag_json(f, opt);
  auto& srm = k["switchyard"].as_object()["srm"].as_object();
  EXPECT_TRUE(srm["checked"].as_bool());
  EXPECT_TRUE(srm["mismatch"].as_bool());
  EXPECT_EQ(k["switchyard"].as_object()["verdict"].as_object()["state"].as_string(),
            "sample_ratio_mismatch");
}

TEST(ModelabReport, ExperimentEntryForTheAnalysisApi) {
  modelab_flag_stats f;
  f.flag = "x";
  f.variants = {arm("control", 3, 1, 0), arm("t", 4, 0, 1)};
  auto e = modelab_experiment_json(f, {});
  EXPECT_EQ(e["source"].as_string(), "modelab");
  EXPECT_EQ(e["variants"].as_array()[1].as_object().at("units").as_uint64(), 4u);
  EXPECT_TRUE(e["variants"].as_array()[1].as_object().at("weight").is_null());
}

TEST(ModelabReport, IsoUtc) {
  EXPECT_EQ(modelab_iso_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(modelab_iso_utc(1714568400), "2024-05-01T13:00:00Z");
}

}  // namespace
}  // namespace switchyard
