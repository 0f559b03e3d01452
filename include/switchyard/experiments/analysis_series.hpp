#pragma once

#include "switchyard/experiments/analysis.hpp"

#include <boost/json/object.hpp>

#include <cstdint>

namespace switchyard {

/// For GET /api/v1/experiments/{name}/series (what the experiment page charts): `in` gathered
/// per hour (every phase; gather_analysis with per_hour). Buckets of `bucket_seconds` (whole
/// hours as for the timeline, clamped to [1 h, 366 days]) aligned to the epoch, only those with
/// data, oldest first: {object: "experiment_series", experiment, bucket_seconds, metric (the
/// primary, as configured), metric_key (its vs_control key), higher_is_better, method, alpha,
/// control, variants [names], phases [{phase, start_unix, start, reason, weights {variant: w}}],
/// buckets [{start, start_iso, phase, weights {variant: w}, variants {name: {requests, errors,
/// latency_ms {mean, p50, p95, p99}, ttft_ms {…}, feedback_success, feedback_failure,
/// cumulative {n, value[, diff, diff_ci, rel, rel_ci, p_value, significant]}}}}]}.
///
/// `cumulative` sums the primary metric from the start of the bucket's phase to the end of the
/// bucket (per request, or per feedback event); the lift of each non-control variant is
/// always-valid with `tuning_n` (the report's analysis.tuning_n) under the sequential method, the
/// classic interval under fixed_horizon; unadjusted (no Holm). Feedback rows carry an hour, not a
/// phase: an hour's feedback counts in the phase in effect at that hour's start. A bucket's
/// phase is the newest phase among its rows (else the one in effect at its start). Every number
/// is finite or null. An empty object when `in.cfg` is null.
boost::json::object experiment_series(const analysis_input& in, std::int64_t bucket_seconds,
                                      double tuning_n);

}  // namespace switchyard
