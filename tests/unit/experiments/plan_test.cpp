#include "switchyard/experiments/plan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace switchyard {
namespace {

const char* yaml = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models:
  - { name: small, upstream: up }
  - { name: big, upstream: up }
prompts:
  - name: p
    versions:
      - { version: v1, template: "Hello {{who}}", defaults: { who: world } }
      - { version: v2, template: "Bye" }
experiments:
  - name: tone
    match: { model: virtual }
    unit: header:x-user-id
    variants:
      - { name: control, prompt: p@v1, model: small }
      - { name: treatment, prompt: p@v2, model: big, params: { temperature: 0.4 } }
  - name: ns_a
    match: { model: small }
    unit: body:user
    namespace: { name: shared, range: [0, 0.5] }
    variants: [ { name: a0 }, { name: a1 } ]
  - name: ns_b
    match: { model: small }
    unit: body:user
    namespace: { name: shared, range: [0.5, 1] }
    variants: [ { name: b0 }, { name: b1 } ]
)";

std::shared_ptr<const plan> make(const std::vector<experiment_control>& controls = {}) {
  auto cfg = parse_config(yaml);
  EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
  auto p = build_plan(std::make_shared<const config>(std::move(*cfg)), controls, 1);
  EXPECT_TRUE(p);
  return *p;
}

request_view view(std::string_view model, std::map<std::string, std::string>* headers) {
  request_view r;
  r.model = model;
  r.endpoint = "chat_completions";
  r.header = [headers](std::string_view name) -> std::string_view {
    auto it = headers->find(std::string(name));
    return it == headers->end() ? std::string_view{} : std::string_view(it->second);
  };
  return r;
}

TEST(plan, compiles_prompts_with_hashes_and_normalises_weights) {
  auto p = make();
  ASSERT_NE(p->find_prompt("p@v1"), nullptr);
  EXPECT_TRUE(p->find_prompt("p@v1")->hash.starts_with("sha256:"));
  EXPECT_EQ(p->find_prompt("p@v1")->tmpl.variables(), std::vector<std::string>{"who"});
  const auto* e = p->find("tone");
  ASSERT_NE(e, nullptr);
  EXPECT_DOUBLE_EQ(e->variants[0].weight, 0.5);
  EXPECT_EQ(e->variants[1].model->name, "big");
  EXPECT_EQ(e->variants[1].params[0].second, "0.4");
}

TEST(plan, assigns_like_growthbook_and_is_sticky) {
  auto p = make();
  std::map<std::string, std::string> h;
  int seen[2] = {0, 0};
  for (int i = 0; i < 400; ++i) {
    h["x-user-id"] = "user" + std::to_string(i);
    auto a = assign(*p, view("virtual", &h));
    ASSERT_TRUE(a.counted);
    EXPECT_EQ(a.reason, "assigned");
    const auto* e = p->find("tone");
    auto expected = assign_unit("tone", h["x-user-id"], e->ranges);
    EXPECT_EQ(a.variant, &e->variants[static_cast<std::size_t>(expected.variant)]);
    EXPECT_EQ(a.unit_fingerprint, unit_fingerprint("tone", h["x-user-id"]));
    ++seen[a.variant == &e->variants[0] ? 0 : 1];
    EXPECT_EQ(assign(*p, view("virtual", &h)).variant, a.variant);  // sticky
  }
  EXPECT_GT(seen[0], 150);
  EXPECT_GT(seen[1], 150);
}

TEST(plan, without_a_unit_a_virtual_model_is_served_as_unlabelled_control) {
  auto p = make();
  std::map<std::string, std::string> h;
  auto a = assign(*p, view("virtual", &h));
  EXPECT_EQ(a.experiment, nullptr);
  EXPECT_FALSE(a.counted);
  EXPECT_EQ(a.reason, "no_unit");
  ASSERT_NE(a.variant, nullptr);
  EXPECT_EQ(a.variant->name, "control");
}

TEST(plan, override_paused_concluded_and_paused_variants) {
  std::map<std::string, std::string> h{{"x-user-id", "u1"},
                                       {"x-switchyard-variant", "other=x, tone=treatment"}};
  auto p = make();
  auto r = view("virtual", &h);
  r.override_header = h["x-switchyard-variant"];
  auto a = assign(*p, r);
  EXPECT_EQ(a.reason, "override");
  EXPECT_EQ(a.variant->name, "treatment");
  EXPECT_FALSE(a.counted);

  experiment_control paused{"tone", "paused", {}, "", {}, 0};
  auto pp = make({paused});
  auto b = assign(*pp, view("virtual", &h));
  EXPECT_EQ(b.variant->name, "control");
  EXPECT_EQ(b.reason, "paused");
  EXPECT_FALSE(b.counted);

  experiment_control done{"tone", "concluded", {}, "treatment", {}, 0};
  auto pc = make({done});
  EXPECT_EQ(assign(*pc, view("virtual", &h)).variant->name, "treatment");

  // A paused variant's units get control; weights from the operator move everyone.
  experiment_control all_treatment{"tone", "", {0, 1}, "", {"treatment"}, 0};
  auto pv = make({all_treatment});
  auto c = assign(*pv, view("virtual", &h));
  EXPECT_EQ(c.variant->name, "control");
  EXPECT_EQ(c.reason, "variant_paused");
}

TEST(plan, namespaces_make_experiments_mutually_exclusive) {
  auto p = make();
  std::map<std::string, std::string> h;
  int in_a = 0, in_b = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = view("small", &h);
    std::string user = "u" + std::to_string(i);
    r.body_user = user;
    auto a = assign(*p, r);
    ASSERT_NE(a.experiment, nullptr);  // the two ranges cover every unit
    const bool is_a = a.experiment->cfg->name == "ns_a";
    EXPECT_EQ(is_a, in_namespace(user, "shared", 0, 0.5));
    (is_a ? in_a : in_b)++;
  }
  EXPECT_GT(in_a, 100);
  EXPECT_GT(in_b, 100);
}

// GrowthBook's SDKs hash the id after JSON.parse: an escaped `user` must land where the decoded
// one does. Expected buckets computed with GrowthBook's hashFnv32a (packages/sdk-js/src/util.ts)
// in Node on JSON.parse('"' + raw + '"'), seed "tone", hash version 2.
TEST(plan, body_user_hashes_the_decoded_json_string_like_growthbook) {
  struct vector_case {
    const char* raw;      // between the quotes in the request body
    const char* decoded;  // UTF-8
    double bucket;        // GrowthBook hash("tone", decoded, 2)
  };
  const vector_case cases[] = {
      {"jos\\u00e9", "jos\xc3\xa9", 0.7359},
      {"jos\xc3\xa9", "jos\xc3\xa9", 0.7359},
      {"a\\\"b", "a\"b", 0.7906},
      {"tab\\tx", "tab\tx", 0.4712},
      {"\\ud83d\\ude00smile", "\xf0\x9f\x98\x80smile", 0.8622},
      {"sl\\/ash", "sl/ash", 0.55},
  };
  for (const auto& c : cases) {
    std::string scratch;
    const std::string_view id = decode_body_user(c.raw, scratch);
    EXPECT_EQ(id, c.decoded) << c.raw;
    EXPECT_NEAR(*gb_hash("tone", id, 2), c.bucket, 1e-12) << c.raw;
  }
  // Through assignment: the escaped and the plain spelling are one unit in one variant.
  auto p = make();
  std::map<std::string, std::string> h;
  for (int i = 0; i < 50; ++i) {
    const std::string plain = "us\xc3\xa9r" + std::to_string(i);
    const std::string escaped = "us\\u00e9r" + std::to_string(i);
    auto a = view("small", &h);
    a.body_user = plain;
    auto b = view("small", &h);
    b.body_user = escaped;
    const auto x = assign(*p, a), y = assign(*p, b);
    EXPECT_EQ(x.variant, y.variant);
    EXPECT_EQ(x.unit_fingerprint, y.unit_fingerprint);
  }
  // A lone surrogate has no UTF-8 form: the raw text is kept (and still hashes consistently).
  std::string scratch;
  EXPECT_EQ(decode_body_user("x\\ud800", scratch), "x\\ud800");
}

TEST(plan, phases_start_on_weights_variants_and_resume) {
  auto p = make();
  const experiment_plan& e = *p->find("tone");
  auto first = next_phase({}, e, false, 100);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (phase_record{"tone", 1, 100, {"control", "treatment"}, {0.5, 0.5}, "start"}));
  const std::vector<phase_record> history{*first};
  EXPECT_FALSE(next_phase(history, e, false, 200));  // nothing changed: the phase goes on
  const auto resumed = next_phase(history, e, true, 200);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->phase, 2);
  EXPECT_EQ(resumed->reason, "resumed");

  experiment_control weights{"tone", "", {1, 3}, "", {}, 0};
  auto pw = make({weights});
  const auto reweighted = next_phase(history, *pw->find("tone"), false, 300);
  ASSERT_TRUE(reweighted);
  EXPECT_EQ(reweighted->reason, "weights_changed");
  EXPECT_EQ(reweighted->weights, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(reweighted->start_unix, 300);

  phase_record three_variants = *first;
  three_variants.variants.push_back("removed");
  three_variants.weights = {0.4, 0.4, 0.2};
  EXPECT_EQ(next_phase({three_variants}, e, false, 400)->reason, "variants_changed");

  // The phase a plan is built with is what its statistics are recorded under.
  auto pp = build_plan(p->cfg, {}, 2, {{"tone", 3}});
  ASSERT_TRUE(pp);
  EXPECT_EQ((*pp)->find("tone")->phase, 3);
  EXPECT_EQ((*pp)->find("ns_a")->phase, 1);
}

TEST(plan, unmatched_models_get_nothing) {
  auto p = make();
  std::map<std::string, std::string> h{{"x-user-id", "u"}};
  auto a = assign(*p, view("big", &h));
  EXPECT_EQ(a.experiment, nullptr);
  EXPECT_EQ(a.variant, nullptr);
}

}  // namespace
}  // namespace switchyard
