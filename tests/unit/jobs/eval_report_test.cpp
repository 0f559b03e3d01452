#include "switchyard/jobs/eval_report.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

namespace json = boost::json;

// 50 cases, two variants: a passes all but cases 48 and 49, b fails cases 0..9.
eval_report fixture(std::vector<eval_case>& cases) {
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text +=
        R"({"id":"c)" + std::to_string(i) +
        R"(","vars":{"q":"x"},"assert":[{"type":"contains","value":"ok","metric":"correct"},{"type":"max-tokens","value":100}]})" +
        "\n";
  }
  auto d = parse_dataset(text);
  cases = d.cases;
  eval_report r;
  r.id = "eval_1";
  r.experiment = "tone";
  r.dataset = "golden.jsonl";
  r.min_pass_rate = 0.95;
  for (std::size_t c = 0; c < 50; ++c) {
    for (std::size_t v = 0; v < 2; ++v) {
      eval_case_result res;
      res.case_index = c;
      res.variant_index = v;
      const bool pass = v == 0 ? c < 48 : c >= 10;
      res.out.ok = true;
      res.out.text = pass ? "ok, \"quoted\"" : "no";
      res.out.latency_ms = static_cast<double>(c + 1);
      res.out.prompt_tokens = 10;
      res.out.completion_tokens = 5;
      res.out.cost_usd = 0.001;
      res.asserts.push_back({pass, false, pass ? 1.0 : 0.0, pass ? "" : "the output lacks <ok>"});
      res.asserts.push_back({true, false, 1, ""});
      res.pass = pass;
      r.results.push_back(res);
    }
  }
  summarize(r, cases, {{"a", "p@v1", "m1"}, {"b", "p@v2", "m2"}});
  return r;
}

TEST(EvalReport, SummariesPerVariantAndPair) {
  std::vector<eval_case> cases;
  auto r = fixture(cases);
  ASSERT_EQ(r.variants.size(), 2u);
  const auto& a = r.variants[0];
  EXPECT_EQ(a.passed, 48u);
  EXPECT_EQ(a.cases, 50u);
  EXPECT_DOUBLE_EQ(a.pass_rate, 0.96);
  EXPECT_NEAR(a.interval.lo, 0.8654, 1e-4);  // Wilson 48/50
  EXPECT_NEAR(a.interval.hi, 0.9890, 1e-4);
  EXPECT_DOUBLE_EQ(a.p50_latency_ms, 25.5);
  EXPECT_NEAR(a.p95_latency_ms, 47.55, 1e-9);
  EXPECT_EQ(a.prompt_tokens, 500);
  EXPECT_NEAR(a.cost_usd, 0.05, 1e-12);
  ASSERT_EQ(a.per_assertion.size(), 2u);
  EXPECT_EQ(a.per_assertion[0].name, "contains");
  EXPECT_EQ(a.per_assertion[0].passed, 48u);
  EXPECT_EQ(a.per_assertion[1].passed, 50u);
  ASSERT_EQ(a.metrics.size(), 1u);
  EXPECT_EQ(a.metrics[0].name, "correct");
  EXPECT_EQ(r.variants[1].passed, 40u);
  ASSERT_EQ(r.pairs.size(), 1u);
  const auto& p = r.pairs[0];
  EXPECT_EQ(p.a_only, 10u);
  EXPECT_EQ(p.b_only, 2u);
  EXPECT_EQ(p.both, 38u);
  EXPECT_EQ(p.neither, 0u);
  EXPECT_NEAR(p.test.p_value, 158.0 / 4096.0, 1e-12);
  EXPECT_NEAR(p.difference, 0.16, 1e-12);
  EXPECT_FALSE(r.gate_passed);  // b is at 80 %
}

TEST(EvalReport, Formats) {
  std::vector<eval_case> cases;
  auto r = fixture(cases);
  auto j = json::parse(render_report(r, "json"));
  EXPECT_EQ(j.at("variants").as_array().at(0).at("passed").to_number<std::uint64_t>(), 48u);
  EXPECT_EQ(j.at("pairs").as_array().at(0).at("only_a_passed").to_number<std::uint64_t>(), 10u);
  EXPECT_EQ(j.at("cases").as_array().size(), 100u);
  EXPECT_EQ(j.at("gate_passed"), json::value(false));
  const auto csv = render_report(r, "csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 101);
  EXPECT_NE(csv.find(R"("ok, ""quoted""")"), std::string::npos);  // RFC 4180 quoting
  const auto junit = render_report(r, "junit");
  EXPECT_NE(junit.find(R"(<testsuite name="tone.a" tests="50" failures="2" errors="0">)"),
            std::string::npos);
  EXPECT_NE(junit.find("the output lacks &lt;ok&gt;"), std::string::npos);
  const auto table = render_report(r, "table");
  EXPECT_NE(table.find("48/50"), std::string::npos);
  EXPECT_NE(table.find("FAILED"), std::string::npos);
  EXPECT_NE(table.find("p = 0.0386 (exact)"), std::string::npos);
  auto s = report_summary_json(r);
  EXPECT_EQ(s.at("variants").as_array().at(1).at("passed").to_number<std::uint64_t>(), 40u);
  EXPECT_FALSE(s.as_object().contains("cases") && s.at("cases").is_array());
}

}  // namespace
}  // namespace switchyard
