#pragma once
// Private to src/experiments: what the experiment analysis (analysis.cpp) and the timeline and
// prompt reports (analysis_prompts.cpp) share: per-variant totals, the metric table, the
// comparison of two totals and the JSON number helpers.

#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/moments.hpp"
#include "switchyard/experiments/statistics.hpp"
#include "switchyard/experiments/store.hpp"

#include <boost/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::analysis_detail {

namespace json = boost::json;

// Boost.JSON prints NaN and infinity as invalid JSON, so every double goes through here.
inline json::value num(double x) {
  return std::isfinite(x) ? json::value(x) : json::value(nullptr);
}

// Counts and sums of counts print as integers; anything else (or too large) as a double.
inline json::value whole(double x) {
  constexpr double exact = 9007199254740992.0;  // 2^53: every integer below is a double
  if (x >= 0 && x <= exact && x == std::floor(x)) {
    return static_cast<std::uint64_t>(x);
  }
  return num(x);
}

inline json::value ratio(double x, double n) {
  return n > 0 ? num(x / n) : json::value(nullptr);
}

inline json::value mean_of(const moments& m) {
  return m.n > 0 ? num(m.mean()) : json::value(nullptr);
}

inline json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

inline double as_double(std::uint64_t x) {
  return static_cast<double>(x);
}

inline std::string format(const char* spec, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

/// `unix_seconds` as 2024-05-01T12:00:00Z (UTC).
std::string iso_utc(std::int64_t unix_seconds);

// One variant's (or prompt version's) rows and feedback, summed.
struct totals {
  std::uint64_t requests = 0, errors = 0;
  moments latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd, score;
  latency_sketch latency, ttft;
  double success = 0, failure = 0;
  std::map<std::string, std::uint64_t> events;
  // Per unit of assignment (when the unit is not the request and units were recorded): the
  // request metrics become ratio metrics over units (delta method).
  bool by_unit = false;
  double unit_n = 0;
  unit_aggregate per_unit;

  void add(const variant_hour_stats& r, bool with_sketches = true) {
    requests += r.requests;
    errors += r.errors;
    latency_ms += r.latency_ms;
    ttft_ms += r.ttft_ms;
    input_tokens += r.input_tokens;
    output_tokens += r.output_tokens;
    cost_usd += r.cost_usd;
    if (with_sketches) {
      merge_sketch(latency, r.latency_sketch);
      merge_sketch(ttft, r.ttft_sketch);
    }
  }
  void add(const feedback_summary& f) {
    events[f.event] += f.count;
    success += f.event == "success" ? as_double(f.count) : 0;
    failure += f.event == "failure" ? as_double(f.count) : 0;
    score += f.value;
  }
  // A sketch that does not parse only narrows the percentiles; the moments still count it.
  static void merge_sketch(latency_sketch& into, const std::string& bytes) {
    if (bytes.empty()) {
      return;
    }
    if (auto s = latency_sketch::deserialize(bytes)) {
      into.merge(*s);
    }
  }
};

enum class metric { error_rate, success_rate, latency_ms, ttft_ms, cost_usd, output_tokens, score };

struct metric_def {
  metric id;
  const char* key;          // in vs_control
  const char* config_name;  // as analysis.primary_metric names it ("" = cannot be primary)
  bool higher_is_better;
  moments totals::*values;                     // null for the rates
  ratio_moments unit_aggregate::*unit_values;  // per unit
};

inline constexpr std::array<metric_def, 7> metrics{{
    {metric::error_rate, "error_rate", "error_rate", false, nullptr, &unit_aggregate::errors},
    {metric::success_rate, "success_rate", "feedback_success", true, nullptr,
     &unit_aggregate::success},
    {metric::latency_ms, "latency_ms", "latency", false, &totals::latency_ms,
     &unit_aggregate::latency_ms},
    {metric::ttft_ms, "ttft_ms", "ttft", false, &totals::ttft_ms, &unit_aggregate::ttft_ms},
    {metric::cost_usd, "cost_usd", "cost", false, &totals::cost_usd, &unit_aggregate::cost_usd},
    {metric::output_tokens, "output_tokens", "", false, &totals::output_tokens,
     &unit_aggregate::output_tokens},
    {metric::score, "score", "score", true, &totals::score, &unit_aggregate::score},
}};

inline const metric_def& def_of(metric m) {
  return metrics[static_cast<std::size_t>(m)];  // `metrics` is in enum order
}

inline const moments& moments_of(metric m, const totals& t) {
  return t.*def_of(m).values;  // only called for the means
}

/// True when `m` is analysed per unit for these totals (a ratio metric over units). The feedback
/// metrics are per unit only when their feedback carried units (ids signed with the unit).
inline bool per_unit(metric m, const totals& t) {
  const auto member = def_of(m).unit_values;
  if (!t.by_unit || member == nullptr) {
    return false;
  }
  const bool feedback = m == metric::success_rate || m == metric::score;
  return !feedback || (t.per_unit.*member).units > 0;
}

inline const ratio_moments& unit_moments_of(metric m, const totals& t) {
  return t.per_unit.*def_of(m).unit_values;  // only called when per_unit(m, t)
}

// The samples behind a metric: units (per-unit metrics), requests, judged feedback events or
// recorded values.
inline double sample_n(metric m, const totals& t) {
  if (per_unit(m, t)) {
    return unit_moments_of(m, t).units;
  }
  if (m == metric::error_rate) {
    return as_double(t.requests);
  }
  return m == metric::success_rate ? t.success + t.failure : moments_of(m, t).n;
}

/// Control `c` against treatment `t` on `m`: per unit, ratio metrics by the delta method; else
/// two proportions for the rates, Welch for the means.
inline stats::comparison compare(metric m, const totals& c, const totals& t, double alpha) {
  if (per_unit(m, c) && per_unit(m, t)) {
    return stats::ratio_welch(unit_moments_of(m, c), unit_moments_of(m, t), alpha);
  }
  if (m == metric::error_rate) {
    return stats::two_proportion(as_double(c.errors), as_double(c.requests), as_double(t.errors),
                                 as_double(t.requests), alpha);
  }
  if (m == metric::success_rate) {
    return stats::two_proportion(c.success, c.success + c.failure, t.success, t.success + t.failure,
                                 alpha);
  }
  return stats::welch(moments_of(m, c), moments_of(m, t), alpha);
}

inline json::array pair(double lo, double hi) {
  return json::array{num(lo), num(hi)};
}

/// One metric of vs_control (or of a prompt comparison): both sides, the difference with its
/// confidence interval, p-values. A side without data shows null; inference fields are null
/// unless the test could be run.
inline json::object comparison_json(metric m, const stats::comparison& c, const totals& ctl,
                                    const totals& trt, double alpha) {
  const bool has_c = sample_n(m, ctl) > 0;
  const bool has_t = sample_n(m, trt) > 0;
  const bool has_rel = has_c && has_t && c.control != 0;
  json::object o;
  o["control"] = has_c ? num(c.control) : nullptr;
  o["treatment"] = has_t ? num(c.treatment) : nullptr;
  o["diff"] = has_c && has_t ? num(c.treatment - c.control) : nullptr;
  o["diff_ci"] = c.valid ? json::value(pair(c.diff_lo, c.diff_hi)) : nullptr;
  o["rel"] = has_rel ? num((c.treatment - c.control) / c.control) : nullptr;
  o["rel_ci"] = c.valid && has_rel ? json::value(pair(c.rel_lo, c.rel_hi)) : nullptr;
  o["p_value"] = c.valid ? num(c.p_value) : nullptr;
  o["p_adjusted"] = c.valid ? num(c.p_adjusted) : nullptr;
  o["significant"] = c.valid && c.p_adjusted < alpha;
  return o;
}

/// {mean, p50, p95}; the percentiles are null without a sketch.
inline json::object spread_json(const moments& m, const latency_sketch& s) {
  return {{"mean", mean_of(m)},
          {"p50", s.empty() ? json::value(nullptr) : num(s.quantile(0.5))},
          {"p95", s.empty() ? json::value(nullptr) : num(s.quantile(0.95))}};
}

/// The feedback events of `t`, success rate and score.
inline json::object feedback_json(const totals& t) {
  json::object events;
  for (const auto& [event, count] : t.events) {
    events[event] = count;
  }
  return {
      {"events", std::move(events)},    {"success", whole(t.success)},
      {"failure", whole(t.failure)},    {"success_rate", ratio(t.success, t.success + t.failure)},
      {"score_mean", mean_of(t.score)}, {"score_n", whole(t.score.n)}};
}

// Everything the experiment report derives from its input, computed once.
struct experiment_data {
  std::vector<totals> arms;  // in cfg->variants order; the first is control
  std::vector<std::uint64_t> units;
  // Per metric (in `metrics` order), per variant: the comparison with control (index 0 unused).
  std::array<std::vector<stats::comparison>, metrics.size()> vs;
  metric primary = metric::success_rate;
  std::string srm_basis = "units";
  std::vector<double> srm_observed;
  stats::srm_result srm;
  std::optional<double> baseline, needed;  // absent when control gives no estimate
  double have_min = 0;
  bool sequential = true;         // analysis.method
  std::optional<double> planned;  // per variant: analysis.planned_sample, else `needed`
  double tuning_n = 0;            // the sequential tuning: 2 × planned (GrowthBook's default)
  bool by_unit = false;           // request metrics analysed per unit
};

struct verdict {
  std::string state, variant, summary;
};

/// The verdict on the primary metric (analysis_verdict.cpp), as experiment_report documents.
verdict judge(const analysis_input& in, const experiment_data& d);

}  // namespace switchyard::analysis_detail
