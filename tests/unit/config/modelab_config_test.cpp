#include "switchyard/config/config.hpp"
#include "switchyard/experiments/modelab_hash.hpp"
#include "switchyard/experiments/plan.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace switchyard {
namespace {

const std::string base = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: m, upstream: up } ]
)";

result<config> parse(const std::string& extra) {
  return parse_config(base + extra);
}

std::string error_of(const std::string& extra) {
  auto c = parse(extra);
  return c ? "" : c.error().message;
}

TEST(ModelabConfig, CompatSectionDefaultsAndValues) {
  auto c = parse("");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->compat.modelab.enabled);
  EXPECT_EQ(c->compat.modelab.max_batch_records, 1000u);
  auto d = parse("compat: { modelab: { enabled: true, api_key: k1, max_batch_records: 50 } }\n");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->compat.modelab.enabled);
  EXPECT_EQ(d->compat.modelab.api_key, "k1");
  EXPECT_EQ(d->compat.modelab.max_batch_records, 50u);
  EXPECT_NE(error_of("compat: { modelab: { max_batch_records: 0 } }\n")
                .find("compat.modelab.max_batch_records"),
            std::string::npos);
  EXPECT_NE(error_of("compat: { modelab: { enable: true } }\n").find("enable"), std::string::npos);
}

const char* modelab_experiment = R"(
experiments:
  - name: tone
    match: { model: m }
    hash: modelab
    seed: checkout-flow
    rollout_pct: 37.5
    variants: [ { name: a, weight: 1 }, { name: b, weight: 2 }, { name: c, weight: 7 } ]
)";

TEST(ModelabConfig, IntegerWeightsDefaultFiftyAndRollout) {
  auto c = parse(modelab_experiment);
  ASSERT_TRUE(c) << c.error().message;
  const auto& e = c->experiments[0];
  EXPECT_EQ(e.hash, "modelab");
  EXPECT_DOUBLE_EQ(e.rollout_pct, 37.5);
  EXPECT_DOUBLE_EQ(e.variants[2].weight, 7);
  auto d = parse(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab, coverage: 0.333,
      variants: [ { name: a }, { name: b, weight: 0 } ] }
)");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_DOUBLE_EQ(d->experiments[0].variants[0].weight, 50);  // modelab's default
  EXPECT_DOUBLE_EQ(d->experiments[0].rollout_pct, 33.3);
  // All weights 0 is modelab's "first variant", not an error there.
  EXPECT_EQ(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab,
      variants: [ { name: a, weight: 0 }, { name: b, weight: 0 } ] }
)"),
            "");
}

TEST(ModelabConfig, RefusesWhatModelabDoesNotAccept) {
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab,
      variants: [ { name: a, weight: 0.5 }, { name: b, weight: 0.5 } ] }
)")
                .find("experiments[0].variants[0].weight: must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab, rollout_pct: 101,
      variants: [ { name: a }, { name: b } ] }
)")
                .find("experiments[0].rollout_pct"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab, rollout_pct: 50, coverage: 0.5,
      variants: [ { name: a }, { name: b } ] }
)")
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, rollout_pct: 50, variants: [ { name: a }, { name: b } ] }
)")
                .find("is modelab's"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: md5, variants: [ { name: a }, { name: b } ] }
)")
                .find("must be growthbook or modelab"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
experiments:
  - { name: t, match: { model: m }, hash: modelab, namespace: { name: n, range: [0, 0.5] },
      variants: [ { name: a }, { name: b } ] }
)")
                .find("namespace"),
            std::string::npos);
}

// The gateway's own assignment under hash: modelab equals the SDK's (seed = flag name).
TEST(ModelabConfig, PlanAssignsLikeTheSdk) {
  auto c = parse(std::string(modelab_experiment) + "    unit: header:x-user-id\n");
  ASSERT_TRUE(c) << c.error().message;
  auto p = build_plan(std::make_shared<const config>(std::move(*c)), {}, 1);
  ASSERT_TRUE(p);
  const auto* e = (*p)->find("tone");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->modelab);
  EXPECT_EQ(e->modelab_threshold, 3750u);
  const std::vector<std::uint64_t> w{1, 2, 7};
  std::map<std::string, std::string> h;
  request_view r;
  r.model = "m";
  r.endpoint = "chat_completions";
  r.header = [&h](std::string_view name) -> std::string_view {
    auto it = h.find(std::string(name));
    return it == h.end() ? std::string_view{} : std::string_view(it->second);
  };
  int in = 0;
  for (int i = 0; i < 2000; ++i) {
    h["x-user-id"] = "user-" + std::to_string(i);
    const auto a = assign(**p, r);
    const int expected = modelab_assign("checkout-flow", h["x-user-id"], 3750, w);
    if (expected < 0) {
      EXPECT_FALSE(a.counted);
      EXPECT_EQ(a.reason, "outside_coverage");
    } else {
      ++in;
      ASSERT_TRUE(a.counted);
      EXPECT_EQ(a.variant, &e->variants[static_cast<std::size_t>(expected)]);
    }
  }
  EXPECT_GT(in, 600);
  EXPECT_LT(in, 900);
}

// An operator's weight control (fractions) becomes integers out of 10,000.
TEST(ModelabConfig, WeightControlScalesToIntegers) {
  auto c = parse(modelab_experiment);
  ASSERT_TRUE(c);
  experiment_control ctl;
  ctl.experiment = "tone";
  ctl.weights = {0.25, 0.25, 0.5};
  auto p = build_plan(std::make_shared<const config>(std::move(*c)), {ctl}, 1);
  ASSERT_TRUE(p);
  const auto* e = (*p)->find("tone");
  EXPECT_EQ(e->modelab_weights, (std::vector<std::uint64_t>{2500, 2500, 5000}));
}

}  // namespace
}  // namespace switchyard
