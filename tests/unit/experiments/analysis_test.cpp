#include "switchyard/experiments/analysis.hpp"

#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/prompt_template.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace switchyard {
namespace {

namespace json = boost::json;

constexpr std::int64_t may_1_2024 = 1714521600;  // 2024-05-01T00:00:00Z

// The fixed-horizon test with the planned sample reached (1000 per variant in most inputs below),
// so that the reference values of experiments.md §5 decide the verdict; the sequential default
// has its own tests at the end.
experiment_config make_config(const std::vector<std::string>& names,
                              const std::string& primary = "feedback_success",
                              std::uint64_t planned = 1000) {
  experiment_config cfg;
  cfg.name = "summarizer_tone";
  cfg.match_model = "summarizer";
  for (const std::string& n : names) {
    variant_config v;
    v.name = n;
    v.prompt = "summarizer@" + n;
    v.model = "gpt-4o-mini";
    cfg.variants.push_back(v);
  }
  cfg.analysis.primary_metric = primary;
  cfg.analysis.min_samples = 100;
  cfg.analysis.alpha = 0.05;
  cfg.analysis.minimum_detectable_effect = 0.1;
  cfg.analysis.method = "fixed_horizon";
  cfg.analysis.planned_sample = planned;
  return cfg;
}

variant_hour_stats row(const std::string& variant, std::uint64_t requests, std::uint64_t errors,
                       std::int64_t hour = may_1_2024) {
  variant_hour_stats r;
  r.experiment = "summarizer_tone";
  r.variant = variant;
  r.prompt_version = "summarizer@" + variant;
  r.hour = hour;
  r.requests = requests;
  r.errors = errors;
  for (std::uint64_t i = 0; i < requests; ++i) {  // latencies 100..199 ms, 10 output tokens
    r.latency_ms.add(100 + static_cast<double>(i % 100));
    r.output_tokens.add(10);
    r.input_tokens.add(20);
    r.cost_usd.add(0.001);
  }
  return r;
}

feedback_summary feedback(const std::string& variant, const std::string& event, std::uint64_t count,
                          std::int64_t hour = 0) {
  feedback_summary f;
  f.variant = variant;
  f.prompt_version = "summarizer@" + variant;
  f.event = event;
  f.count = count;
  f.hour = hour;
  return f;
}

// `variants` each with 1000 requests, `successes[i]` successes and 1000 − that failures, and
// units equal to requests at equal weights.
analysis_input success_input(const experiment_config& cfg, const std::vector<double>& successes) {
  analysis_input in;
  in.cfg = &cfg;
  in.status = "running";
  for (std::size_t i = 0; i < cfg.variants.size(); ++i) {
    const std::string& name = cfg.variants[i].name;
    const auto s = static_cast<std::uint64_t>(successes[i]);
    in.rows.push_back(row(name, 1000, 0));
    in.feedback.push_back(feedback(name, "success", s));
    in.feedback.push_back(feedback(name, "failure", 1000 - s));
    in.units[name] = 1000;
    in.weights.push_back(1.0 / static_cast<double>(cfg.variants.size()));
  }
  return in;
}

const json::object& variant(const json::object& report, std::size_t i) {
  return report.at("variants").as_array().at(i).as_object();
}

const json::object& vs(const json::object& report, std::size_t i, const char* metric) {
  return variant(report, i).at("vs_control").at(metric).as_object();
}

// Any JSON number as a double (counts are printed as integers).
double number(const json::value& v) {
  return v.to_number<double>();
}

std::string state(const json::object& report) {
  return std::string(report.at("verdict").at("state").as_string());
}

// Serialises and checks that the text is valid JSON with no NaN/Infinity spelled in it.
void expect_clean_json(const json::object& o) {
  std::string text = json::serialize(o);
  EXPECT_NO_THROW(json::parse(text)) << text;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  EXPECT_EQ(text.find("inf"), std::string::npos) << text;
}

TEST(analysis, success_rate_100_vs_130_of_1000_is_variant_better) {
  const experiment_config cfg = make_config({"control", "treatment"});
  const json::object r = experiment_report(success_input(cfg, {100, 130}));
  const json::object& sr = vs(r, 1, "success_rate");
  EXPECT_NEAR(sr.at("control").as_double(), 0.10, 1e-12);
  EXPECT_NEAR(sr.at("treatment").as_double(), 0.13, 1e-12);
  EXPECT_NEAR(sr.at("diff").as_double(), 0.03, 1e-12);
  EXPECT_NEAR(sr.at("rel").as_double(), 0.3, 1e-12);
  EXPECT_NEAR(sr.at("p_value").as_double(), 0.035488, 1e-5);
  EXPECT_DOUBLE_EQ(sr.at("p_adjusted").as_double(), sr.at("p_value").as_double());
  EXPECT_NEAR(sr.at("diff_ci").as_array().at(0).as_double(), 0.002068, 1e-5);
  EXPECT_NEAR(sr.at("diff_ci").as_array().at(1).as_double(), 0.057932, 1e-5);
  EXPECT_TRUE(sr.at("significant").as_bool());
  EXPECT_EQ(state(r), "variant_better");
  EXPECT_EQ(r.at("verdict").at("variant").as_string(), "treatment");
  EXPECT_EQ(r.at("verdict").at("metric").as_string(), "feedback_success");
  const json::object& ctl = variant(r, 0);
  EXPECT_FALSE(ctl.contains("vs_control"));
  EXPECT_EQ(ctl.at("requests").as_uint64(), 1000u);
  EXPECT_EQ(ctl.at("feedback").at("events").at("success").as_uint64(), 100u);
  EXPECT_NEAR(ctl.at("feedback").at("success_rate").as_double(), 0.1, 1e-12);
  EXPECT_NEAR(ctl.at("latency_ms").at("mean").as_double(), 149.5, 1e-9);
  EXPECT_TRUE(ctl.at("latency_ms").at("p95").is_null());  // no sketch in these rows
  EXPECT_NEAR(ctl.at("cost_usd").at("total").as_double(), 1.0, 1e-9);
  // Identical latencies on both sides: a test that runs and finds nothing.
  EXPECT_FALSE(vs(r, 1, "latency_ms").at("significant").as_bool());
  // No feedback values at all: no score on either side, so nothing is inferred.
  EXPECT_TRUE(vs(r, 1, "score").at("control").is_null());
  EXPECT_TRUE(vs(r, 1, "score").at("p_value").is_null());
  EXPECT_FALSE(r.at("srm").at("mismatch").as_bool());
  EXPECT_EQ(number(r.at("sample_size").at("have_min")), 1000);
  // The summary is the same verdict without the statistics.
  const json::object s = experiment_summary(success_input(cfg, {100, 130}));
  EXPECT_EQ(state(s), "variant_better");
  EXPECT_FALSE(variant(s, 1).contains("vs_control"));
  EXPECT_EQ(variant(s, 1).at("units").as_uint64(), 1000u);
  EXPECT_EQ(s.at("match").at("model").as_string(), "summarizer");
  expect_clean_json(r);
}

TEST(analysis, three_variants_are_holm_adjusted_and_the_best_is_named) {
  const experiment_config cfg = make_config({"control", "a", "b"});
  const json::object r = experiment_report(success_input(cfg, {100, 130, 160}));
  const double raw[] = {vs(r, 1, "success_rate").at("p_value").as_double(),
                        vs(r, 2, "success_rate").at("p_value").as_double()};
  const std::vector<double> expected = stats::holm(raw);
  EXPECT_NEAR(vs(r, 1, "success_rate").at("p_adjusted").as_double(), expected[0], 1e-15);
  EXPECT_NEAR(vs(r, 2, "success_rate").at("p_adjusted").as_double(), expected[1], 1e-15);
  EXPECT_GT(vs(r, 2, "success_rate").at("p_adjusted").as_double(), raw[1]);  // really adjusted
  EXPECT_EQ(state(r), "variant_better");
  EXPECT_EQ(r.at("verdict").at("variant").as_string(), "b");  // the larger improvement
}

TEST(analysis, units_1000_vs_1200_at_half_half_is_a_sample_ratio_mismatch) {
  const experiment_config cfg = make_config({"control", "treatment"});
  analysis_input in = success_input(cfg, {100, 130});
  in.units = {{"control", 1000}, {"treatment", 1200}};
  const json::object r = experiment_report(in);
  const json::object& srm = r.at("srm").as_object();
  EXPECT_EQ(srm.at("basis").as_string(), "units");
  EXPECT_NEAR(srm.at("chi2").as_double(), 18.1818, 1e-4);
  EXPECT_NEAR(srm.at("p_value").as_double(), 2.0079e-05, 1e-8);
  EXPECT_TRUE(srm.at("mismatch").as_bool());
  EXPECT_EQ(state(r), "sample_ratio_mismatch");
  EXPECT_FALSE(r.at("verdict").as_object().contains("variant"));

  in.units.clear();  // no units recorded: the check falls back to requests (1000 vs 1000)
  const json::object by_requests = experiment_report(in);
  EXPECT_EQ(by_requests.at("srm").at("basis").as_string(), "requests");
  EXPECT_FALSE(by_requests.at("srm").at("mismatch").as_bool());
}

TEST(analysis, below_min_samples_is_collecting) {
  const experiment_config cfg = make_config({"control", "treatment"});
  analysis_input in = success_input(cfg, {100, 130});
  in.feedback = {feedback("control", "success", 10), feedback("control", "failure", 80),
                 feedback("treatment", "success", 30), feedback("treatment", "failure", 70)};
  const json::object r = experiment_report(in);
  EXPECT_EQ(state(r), "collecting");
  const std::string summary(r.at("verdict").at("summary").as_string());
  EXPECT_NE(summary.find("90 of the 100"), std::string::npos) << summary;
}

TEST(analysis, equal_rates_need_1562_per_variant_before_no_detectable_difference) {
  // Baseline 0.5 and a 10% relative effect: 0.50 vs 0.55 needs 1562 per arm (§5.4).
  const experiment_config cfg = make_config({"control", "treatment"}, "feedback_success", 0);
  analysis_input in = success_input(cfg, {500, 500});
  json::object r = experiment_report(in);
  EXPECT_EQ(state(r), "collecting");
  const json::object& size = r.at("sample_size").as_object();
  EXPECT_EQ(size.at("metric").as_string(), "feedback_success");
  EXPECT_NEAR(size.at("baseline").as_double(), 0.5, 1e-12);
  EXPECT_EQ(number(size.at("needed_per_variant")), 1562);
  EXPECT_EQ(number(size.at("have_min")), 1000);
  EXPECT_EQ(number(size.at("remaining")), 562);

  for (feedback_summary& f : in.feedback) {
    f.count *= 2;  // 1000 successes and 1000 failures each: 2000 ≥ 1562
  }
  r = experiment_report(in);
  EXPECT_EQ(state(r), "no_detectable_difference");
  EXPECT_EQ(number(r.at("sample_size").at("remaining")), 0);
  EXPECT_FALSE(vs(r, 1, "success_rate").at("significant").as_bool());
}

TEST(analysis, more_errors_on_error_rate_is_variant_worse_and_fewer_is_better) {
  const experiment_config cfg = make_config({"control", "treatment"}, "error_rate");
  analysis_input in = success_input(cfg, {100, 100});
  in.rows = {row("control", 1000, 10), row("treatment", 1000, 40)};
  json::object r = experiment_report(in);
  EXPECT_TRUE(vs(r, 1, "error_rate").at("significant").as_bool());
  EXPECT_EQ(state(r), "variant_worse");
  EXPECT_EQ(r.at("verdict").at("variant").as_string(), "treatment");
  EXPECT_NEAR(variant(r, 1).at("error_rate").as_double(), 0.04, 1e-12);

  // With a better and a worse variant, the better one is reported.
  const experiment_config three = make_config({"control", "worse", "better"}, "error_rate");
  analysis_input in3 = success_input(three, {100, 100, 100});
  in3.rows = {row("control", 1000, 40), row("worse", 1000, 90), row("better", 1000, 5)};
  r = experiment_report(in3);
  EXPECT_EQ(state(r), "variant_better");
  EXPECT_EQ(r.at("verdict").at("variant").as_string(), "better");
}

TEST(analysis, timeline_merges_two_hourly_rows_into_a_two_hour_bucket) {
  const experiment_config cfg = make_config({"control", "treatment"});
  analysis_input in;
  in.cfg = &cfg;
  in.rows = {row("control", 10, 1, may_1_2024), row("control", 30, 2, may_1_2024 + 3600),
             row("control", 5, 0, may_1_2024 + 7200)};
  in.feedback = {feedback("control", "success", 3, may_1_2024 + 3600),
                 feedback("control", "failure", 1, may_1_2024)};
  const json::object t = experiment_timeline(in, 7200);
  EXPECT_EQ(t.at("bucket_seconds").as_int64(), 7200);
  const json::array& buckets = t.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].at("start").as_int64(), may_1_2024);
  EXPECT_EQ(buckets[0].at("start_iso").as_string(), "2024-05-01T00:00:00Z");
  EXPECT_EQ(buckets[1].at("start_iso").as_string(), "2024-05-01T02:00:00Z");
  const json::object& c = buckets[0].at("variants").at("control").as_object();
  EXPECT_EQ(c.at("requests").as_uint64(), 40u);
  EXPECT_EQ(c.at("errors").as_uint64(), 3u);
  EXPECT_EQ(number(c.at("feedback_success")), 3);
  EXPECT_EQ(number(c.at("feedback_failure")), 1);
  EXPECT_NEAR(number(c.at("output_tokens")), 400, 1e-9);
  // The 40 latencies are 100..109 then 100..129: mean (1045 + 3435)/40.
  EXPECT_NEAR(c.at("latency_ms_mean").as_double(), 112.0, 1e-9);
  const json::object& idle = buckets[0].at("variants").at("treatment").as_object();
  EXPECT_EQ(idle.at("requests").as_uint64(), 0u);
  EXPECT_TRUE(idle.at("latency_ms_mean").is_null());
  // Buckets are whole hours: 5000 s becomes 7200.
  EXPECT_EQ(experiment_timeline(in, 5000).at("bucket_seconds").as_int64(), 7200);
  EXPECT_EQ(experiment_timeline(in, 3600).at("buckets").as_array().size(), 3u);
  EXPECT_EQ(experiment_timeline(in, -1).at("bucket_seconds").as_int64(), 3600);
  const json::object year = experiment_timeline(in, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(year.at("bucket_seconds").as_int64(), 366 * 24 * 3600);
  EXPECT_EQ(year.at("buckets").as_array().size(), 1u);
  expect_clean_json(t);
}

TEST(analysis, latency_percentiles_come_from_the_merged_sketches) {
  const experiment_config cfg = make_config({"control", "treatment"});
  analysis_input in;
  in.cfg = &cfg;
  for (int h = 0; h < 2; ++h) {  // 1..1000 ms in the first hour, 1001..2000 ms in the second
    latency_sketch s;
    for (int ms = 1; ms <= 1000; ++ms) {
      s.add(ms + 1000 * h);
    }
    variant_hour_stats r = row("control", 0, 0, may_1_2024 + 3600 * h);
    r.latency_sketch = s.serialize();
    in.rows.push_back(r);
  }
  const json::object r = experiment_report(in);
  const json::object& lat = variant(r, 0).at("latency_ms").as_object();
  EXPECT_NEAR(lat.at("p50").as_double(), 1000, 20);
  EXPECT_NEAR(lat.at("p95").as_double(), 1900, 38);
}

prompt_config summarizer() {
  prompt_config p;
  p.name = "summarizer";
  prompt_version_config v1;
  v1.version = "v1";
  v1.text = "Be concise.\nSummarize.\n";
  prompt_version_config v2;
  v2.version = "v2";
  v2.text = "Be concise.\nSummarize for {{audience}}.\n";
  v2.replace_system = true;
  p.versions = {v1, v2};
  return p;
}

TEST(analysis, prompt_report_counts_calls_per_version_and_compare_diffs_the_texts) {
  const prompt_config p = summarizer();
  prompt_input in;
  in.cfg = &p;
  in.hashes = {{"v1", content_hash(p.versions[0].text)}, {"v2", "sha256:abc"}};
  in.variables = {{"v2", {"audience"}}};
  in.rows = {row("v1", 300, 30), row("v1", 200, 20, may_1_2024 + 3600), row("v2", 500, 10)};
  variant_hour_stats old = row("v0", 7, 0);  // a version since removed from the config
  in.rows.push_back(old);
  in.feedback = {feedback("v1", "success", 40), feedback("v1", "failure", 60),
                 feedback("v2", "success", 60), feedback("v2", "failure", 40)};
  const json::object r = prompt_report(in);
  EXPECT_EQ(r.at("name").as_string(), "summarizer");
  const json::array& versions = r.at("versions").as_array();
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0].at("version").as_string(), "v1");
  EXPECT_EQ(versions[0].at("calls").as_uint64(), 500u);
  EXPECT_EQ(versions[0].at("mode").as_string(), "prepend");
  EXPECT_TRUE(versions[0].at("file").is_null());
  EXPECT_EQ(versions[0].at("hash").as_string(), content_hash(p.versions[0].text));
  EXPECT_EQ(versions[1].at("calls").as_uint64(), 500u);
  EXPECT_EQ(versions[1].at("mode").as_string(), "replace");
  EXPECT_EQ(versions[1].at("variables").as_array().at(0).as_string(), "audience");
  EXPECT_NEAR(versions[1].at("feedback").at("success_rate").as_double(), 0.6, 1e-12);
  EXPECT_EQ(versions[2].at("version").as_string(), "v0");
  EXPECT_EQ(versions[2].at("calls").as_uint64(), 7u);
  EXPECT_TRUE(versions[2].at("mode").is_null());

  const json::object v2 = prompt_version_report(in, "v2");
  EXPECT_EQ(v2.at("text").as_string(), p.versions[1].text);
  EXPECT_TRUE(prompt_version_report(in, "v9").empty());

  const json::object c = prompt_compare(in, "v1", "v2");
  const std::string diff(c.at("diff").as_string());
  EXPECT_NE(diff.find("--- summarizer@v1"), std::string::npos) << diff;
  EXPECT_NE(diff.find("+++ summarizer@v2"), std::string::npos) << diff;
  EXPECT_NE(diff.find("+Summarize for {{audience}}."), std::string::npos) << diff;
  EXPECT_EQ(c.at("a").at("calls").as_uint64(), 500u);
  const json::object& sr = c.at("vs").at("success_rate").as_object();
  EXPECT_NEAR(sr.at("control").as_double(), 0.4, 1e-12);
  EXPECT_NEAR(sr.at("treatment").as_double(), 0.6, 1e-12);
  EXPECT_TRUE(sr.at("significant").as_bool());
  EXPECT_TRUE(c.at("vs").at("error_rate").at("significant").as_bool());  // 10% vs 2%
  EXPECT_TRUE(prompt_compare(in, "v1", "v9").empty());
  expect_clean_json(r);
  expect_clean_json(c);
}

TEST(analysis, empty_input_is_valid_json_with_nulls_and_collecting) {
  const experiment_config cfg = make_config({"control", "treatment"}, "feedback_success", 0);
  analysis_input in;
  in.cfg = &cfg;
  in.weights = {0.5, 0.5};
  const json::object r = experiment_report(in);
  EXPECT_EQ(state(r), "collecting");
  EXPECT_EQ(variant(r, 0).at("requests").as_uint64(), 0u);
  EXPECT_TRUE(variant(r, 0).at("error_rate").is_null());
  EXPECT_TRUE(variant(r, 0).at("latency_ms").at("mean").is_null());
  EXPECT_TRUE(vs(r, 1, "success_rate").at("control").is_null());
  EXPECT_FALSE(vs(r, 1, "success_rate").at("significant").as_bool());
  EXPECT_TRUE(r.at("sample_size").at("needed_per_variant").is_null());
  EXPECT_TRUE(r.at("sample_size").at("remaining").is_null());
  EXPECT_FALSE(r.at("srm").at("mismatch").as_bool());
  EXPECT_TRUE(r.at("winner").is_null());
  expect_clean_json(r);
  expect_clean_json(experiment_summary(in));
  expect_clean_json(experiment_timeline(in, 3600));

  // Degenerate data (a zero baseline, all-equal values) must not leak NaN either.
  in.rows = {row("control", 200, 0), row("treatment", 200, 0)};
  in.feedback = {feedback("control", "failure", 200), feedback("treatment", "failure", 200)};
  const json::object d = experiment_report(in);
  EXPECT_TRUE(vs(d, 1, "error_rate").at("rel").is_null());  // control rate 0: no relative change
  EXPECT_TRUE(d.at("sample_size").at("needed_per_variant").is_null());
  EXPECT_EQ(state(d), "collecting");
  expect_clean_json(d);

  EXPECT_TRUE(experiment_report(analysis_input{}).empty());
  EXPECT_TRUE(prompt_report(prompt_input{}).empty());
}

}  // namespace
}  // namespace switchyard
