#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/store.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The experiment and prompt analysis API (experiments.md §5): store rows in, the JSON the admin
// API returns out. Pure. Rows of one variant (or prompt version) across hours and prompt versions
// are summed: moments add, serialized latency sketches merge (a sketch that fails to parse is left
// out of the percentiles, never an error). Every number is finite: where a side has no data, or a
// test cannot be run (n < 2, zero variance), the field is JSON null, never NaN or infinity.
//
// Metrics: error_rate = errors/requests; success_rate = success/(success + failure) over feedback
// events named exactly "success" and "failure"; score = every feedback value of any event, pooled;
// latency_ms, ttft_ms, cost_usd, output_tokens = means of the per-request moments (ratio metrics
// over units when the unit is not the request). Rates are compared with the two-proportion
// z-test, means with Welch's t-test, per-unit ratios with the delta method, at
// cfg->analysis.alpha — made always-valid (sequential.hpp) unless analysis.method is
// fixed_horizon.

namespace switchyard {

/// Everything the analysis of one experiment needs (gathered by the caller from config, the live
/// plan and the store). `cfg->analysis` must be valid as `parse_config` guarantees (alpha and
/// power in (0, 1)); the statistics throw std::invalid_argument otherwise (a bug in the caller).
/// Rows, units and feedback of variants that are not in `cfg->variants` are ignored, except by
/// the timeline.
struct analysis_input {
  const experiment_config* cfg = nullptr;
  std::string status;                          // effective: running | paused | concluded
  std::vector<double> weights;                 // effective, normalised, same order as variants
  std::vector<std::string> paused_variants;    // by guardrails or an operator
  std::string winner;                          // when concluded
  std::vector<variant_hour_stats> rows;        // any hours, several rows per variant
  std::map<std::string, std::uint64_t> units;  // distinct units per variant
  std::vector<feedback_summary> feedback;      // per (variant, prompt_version, event[, hour])
  std::vector<guardrail_event> guardrails;
  /// The first store read that failed (the rest is then partial): the API answers it rather
  /// than a report of zeros.
  std::optional<error> store_error;
  /// The analysed phase's per-unit sums (read_units, with success and score from
  /// read_feedback_units); when present and cfg->unit is not `request`, the metrics are analysed
  /// per unit (ratio metrics, delta method), and units that saw more than one variant are left
  /// out and reported.
  std::optional<unit_summary> per_unit;
  std::int64_t phase = 0;            // the analysed phase (0 = phases not tracked)
  std::vector<phase_record> phases;  // every phase of the experiment, oldest first
};

/// For GET /api/v1/experiments: {name, status, match {model, endpoint, header, header_value},
/// unit, variants: [{name, weight, prompt, model, units, requests, paused}], verdict: {state,
/// metric, variant (only for variant_better/variant_worse), summary}} — the verdict as in
/// `experiment_report`. An empty object when `in.cfg` is null.
boost::json::object experiment_summary(const analysis_input& in);

/// For GET /api/v1/experiments/{name}: the summary, whose variants (control first) also carry
/// errors, error_rate, latency_ms and ttft_ms {mean, p50, p95}, input_tokens and output_tokens
/// {mean, total}, cost_usd {total, mean_per_request (the cost moments' mean)}, feedback {events
/// {event: count}, success, failure, success_rate, score_mean, score_n}, and for each non-control
/// variant `vs_control` {error_rate, success_rate, latency_ms, ttft_ms, cost_usd, output_tokens,
/// score}, each {control, treatment, diff, diff_ci [lo, hi], rel, rel_ci, p_value, p_adjusted,
/// significant}. Under analysis.method sequential (the default) the intervals and p-values are
/// always-valid (sequential.hpp, tuned at 2 × the planned sample); under fixed_horizon they are
/// the classic ones. p_adjusted is Holm's over the non-control variants whose test could be run
/// for that metric; significant = p_adjusted < alpha (sequentially: the always-valid interval
/// excludes 0). When `per_unit` applies, error_rate, latency_ms, ttft_ms, cost_usd and
/// output_tokens are ratio metrics over units (their n is units), and so are success_rate and
/// score when their feedback carried units (else per event).
///
/// Plus srm {basis ("units", or "requests" when no units were recorded), observed, expected_share
/// (the phase's weights), chi2, df, p_value, mismatch (p < 0.001)}; sample_size {metric (the
/// primary), baseline (control's value), minimum_detectable_effect (relative), needed_per_variant
/// (null when the baseline does not allow an estimate, e.g. a rate or mean of 0), have_min (the
/// smallest per-variant n on the primary metric), planned_per_variant (analysis.planned_sample,
/// else needed_per_variant), remaining (to the planned)}; analysis {method, alpha,
/// planned_per_variant, planned_source (config | estimate | none), planned_reached,
/// decision_ready (false for fixed_horizon before the planned sample), tuning_n (sequential),
/// note, unit_of_analysis (unit | request)}; phase {phase, current, start, reason,
/// units_multiple_variants, units_multiple_variants_share}; phases [{phase, start_unix, start,
/// reason, variants, weights}]; guardrails [{variant, reason, detail, unix_seconds, time}],
/// status, paused_variants, winner (null when none).
///
/// verdict.state, first rule that applies: "collecting" while a variant has fewer than
/// min_samples on the primary metric; "sample_ratio_mismatch" (results not trustworthy);
/// fixed_horizon only: "collecting" until every variant has the planned sample; then
/// "variant_better"/"variant_worse" when a variant differs significantly from control on the
/// primary metric after Holm (the best better one, else the worst worse one, by the direction of
/// the metric: success and score higher is better, the rest lower); "no_detectable_difference"
/// once every variant has the planned sample; else "collecting". `summary` is one sentence.
boost::json::object experiment_report(const analysis_input& in);

/// For GET /api/v1/experiments/{name}/timeline: rows and `in.feedback` (per hour here) summed
/// into buckets of `bucket_seconds` (rounded up to a multiple of 3600 within [1 h, 366 days]; the
/// effective value is returned) aligned to the Unix epoch: {bucket_seconds, buckets: [{start,
/// start_iso (UTC, "2024-05-01T13:00:00Z"), variants: {name: {requests, errors, latency_ms_mean,
/// ttft_ms_mean, cost_usd, input_tokens, output_tokens, feedback_success, feedback_failure}}}]}
/// ordered by time. Only buckets with data appear; each lists the configured variants and any
/// other variant seen in the data.
boost::json::object experiment_timeline(const analysis_input& in, std::int64_t bucket_seconds);

/// What the prompt analysis needs: the prompt's config, the content hash and the template
/// variables per version (from the parsed templates), and the rows and feedback whose
/// prompt_version is "<name>@<version>", across experiments.
struct prompt_input {
  const prompt_config* cfg = nullptr;
  std::map<std::string, std::string> hashes;                  // version → content_hash
  std::map<std::string, std::vector<std::string>> variables;  // version → variable names
  std::vector<variant_hour_stats> rows;
  std::vector<feedback_summary> feedback;
};

/// For GET /api/v1/prompts/{name}: {name, versions: [{version, hash, mode ("prepend" |
/// "replace"), variables, file (null when inline), calls, errors, error_rate, latency_ms {mean,
/// p50, p95}, cost_usd {total, mean_per_call}, input_tokens, output_tokens (totals), feedback
/// {success_rate, score_mean, events}}]}: configured versions in order, then versions seen only
/// in the data (removed from the config: mode and file null, hash only if `hashes` has it).
/// Counts are JSON integers. An empty object when `in.cfg` is null.
boost::json::object prompt_report(const prompt_input& in);

/// For GET /api/v1/prompts/{name}/versions/{v}: that version's entry plus `text`, its template.
/// An empty object when the version is not configured.
boost::json::object prompt_version_report(const prompt_input& in, std::string_view version);

/// For GET /api/v1/prompts/{name}/compare?a=&b=: {a: entry, b: entry, diff: unified_diff of the
/// two templates ("" when equal) named "<name>@<a>" and "<name>@<b>", vs: {error_rate,
/// success_rate, latency_ms, cost_usd, score} of b against a, shaped as vs_control, at alpha 0.05
/// (one comparison: p_adjusted = p_value)}. An empty object when either version is not configured.
boost::json::object prompt_compare(const prompt_input& in, std::string_view a, std::string_view b);

}  // namespace switchyard
