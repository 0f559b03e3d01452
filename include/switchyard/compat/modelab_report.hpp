#pragma once

#include "switchyard/compat/modelab_store.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

// What modelab's dashboard endpoints answer, from the stored sums (pure). Per variant: the
// numbers `modelab.evaluate(name)` returns (success rate, average latency, average cost, tokens,
// custom event counts); beside them, under "switchyard", the gateway's own analysis of the same
// data: always-valid intervals against control, Holm-adjusted p-values, a verdict and SRM.

namespace switchyard {

/// How a flag is analysed.
struct modelab_analysis_options {
  double alpha = 0.05;
  std::uint64_t min_samples = 30;  // success + failure events per variant before a verdict
  /// The designed weights by variant, when Switchyard knows them (an experiment with
  /// `hash: modelab` whose seed is the flag name); empty = unknown, SRM not checked.
  std::vector<std::pair<std::string, double>> weights;
};

/// The control of a flag: the variant named "control" when there is one, else the first by name.
std::size_t modelab_control(const modelab_flag_stats& f);

/// One variant as modelab's evaluate() reports it: {variant_name, assignments, unique_users,
/// executions, errors, error_rate, success_count, failure_count, success_rate (success /
/// (success + failure), null when neither), avg_latency_ms, avg_cost, total_cost,
/// total_input_tokens, total_output_tokens, avg_input_tokens, avg_output_tokens (per execution
/// that carried tokens), custom_events {name: count}}; averages are null without data.
boost::json::object modelab_variant_json(const modelab_variant_stats& v);

/// GET /api/v1/flags/{name}: {flag_name, first_assigned_at, last_assigned_at, variants: [...],
/// switchyard: {control, method: "sequential", alpha, tuning_n, comparisons: [{variant,
/// success_rate, error_rate, latency_ms: {control, treatment, diff, diff_ci, rel, rel_ci,
/// p_value, p_adjusted, significant, valid}}], srm, verdict {state, metric, variant, summary}}}.
boost::json::object modelab_flag_json(const modelab_flag_stats& f,
                                      const modelab_analysis_options& opt);

/// One entry of GET /api/v1/flags: {flag_name, name, variants (names), assignments,
/// unique_users, executions, success_rate, avg_latency_ms, total_cost, first_assigned_at,
/// last_assigned_at, verdict (state)}.
boost::json::object modelab_flag_summary_json(const modelab_flag_stats& f,
                                              const modelab_analysis_options& opt);

/// The flag as an entry of GET /api/v1/experiments (the analysis API's summary shape), with
/// source "modelab": {name, source, status, unit, match: null, variants [{name, weight, prompt,
/// model, units, requests, paused}], verdict}.
boost::json::object modelab_experiment_json(const modelab_flag_stats& f,
                                            const modelab_analysis_options& opt);

/// GET /api/v1/flags/{name}/timeline: {flag_name, bucket_seconds, buckets: [{start, start_iso,
/// variants: {name: {assignments, executions, errors, success_count, failure_count,
/// success_rate, avg_latency_ms, total_cost, total_input_tokens, total_output_tokens}}}]}.
boost::json::object modelab_timeline_json(std::string_view flag,
                                          const std::vector<modelab_timeline_bucket>& buckets,
                                          std::int64_t bucket_seconds);

/// "2024-05-01T13:00:00Z".
std::string modelab_iso_utc(std::int64_t unix_seconds);

}  // namespace switchyard
