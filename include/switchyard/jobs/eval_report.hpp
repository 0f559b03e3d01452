#pragma once

// An evaluation's results (docs/evaluations.md): per variant the pass rate with its Wilson
// interval, per-assertion and named-metric pass rates, latency quantiles, tokens and cost; per
// pair of variants McNemar's test on the same cases; rendered as a table, JSON, CSV or JUnit.

#include "switchyard/jobs/eval_assertions.hpp"
#include "switchyard/jobs/eval_dataset.hpp"
#include "switchyard/jobs/eval_stats.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

/// A variant as the evaluation ran it.
struct eval_variant_info {
  std::string name;
  std::string prompt_version;  // "name@version" or ""
  std::string model;           // the `models:` entry
};

/// One case run through one variant.
struct eval_case_result {
  std::size_t case_index = 0;
  std::size_t variant_index = 0;
  eval_output out;
  std::vector<assertion_outcome> asserts;  // in the case's order; empty when the request failed
  bool pass = false;                       // the request succeeded and every assertion passed
  bool error = false;                      // the request or a model-graded check failed
};

/// Passes out of a count (per assertion type or named metric).
struct rate_summary {
  std::string name;
  std::size_t passed = 0;
  std::size_t total = 0;
  std::size_t errors = 0;
  double score_sum = 0;  // mean score = score_sum / total
};

struct eval_variant_summary {
  eval_variant_info info;
  std::size_t cases = 0, passed = 0, errors = 0;
  double pass_rate = 0;
  proportion_interval interval;  // Wilson, 95 %
  std::vector<rate_summary> per_assertion;
  std::vector<rate_summary> metrics;
  double p50_latency_ms = 0, p95_latency_ms = 0, mean_latency_ms = 0;
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  double cost_usd = 0;
};

/// Two variants on the same cases.
struct eval_pair_summary {
  std::string a, b;
  std::size_t both = 0, a_only = 0, b_only = 0, neither = 0;
  double difference = 0;  // pass rate of a − pass rate of b
  mcnemar_result test;
};

struct eval_report {
  std::string id;
  std::string experiment;
  std::string dataset;                           // its name (file name) as given
  std::string status = "completed";              // running | completed | failed | cancelled
  std::int64_t created_at = 0, finished_at = 0;  // unix seconds
  std::optional<double> min_pass_rate;
  bool gate_passed = true;
  /// The run's default judge and embedding models as resolved (run, else `evaluations:`); ""
  /// = none. An assertion's own `model` overrides them for that assertion.
  std::string judge_model, embedding_model;
  std::vector<eval_variant_summary> variants;
  std::vector<eval_pair_summary> pairs;
  std::vector<std::string> case_ids;  // by case index
  std::vector<eval_case_result> results;
};

/// Builds the summaries of `r.results` (cases × variants) into `r`: per variant, per pair, the
/// gate (every variant's pass rate ≥ min_pass_rate).
void summarize(eval_report& r, const std::vector<eval_case>& cases,
               const std::vector<eval_variant_info>& variants);

/// The report as JSON; `with_cases` adds one entry per case and variant.
boost::json::value report_json(const eval_report& r, bool with_cases);

/// The short form stored next to the experiment (GET /api/v1/experiments/{name}): id, times,
/// dataset, gate and per variant the pass rate with its interval.
boost::json::value report_summary_json(const eval_report& r);

/// Renders `r` as `format`: table (text for a terminal), json, csv (one row per case and
/// variant), junit (one testsuite per variant, one testcase per case).
std::string render_report(const eval_report& r, std::string_view format);

}  // namespace switchyard
