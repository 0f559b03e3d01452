#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// What prompt_versioner's fields are computed from, summed over one version, one prompt or
/// everything (docs/compat-prompt-versioner.md). Pure accumulation.
struct pv_totals {
  std::uint64_t calls = 0, errors = 0;
  double latency_ms_sum = 0, latency_n = 0;  // from the per-request latency moments
  double cost_sum = 0;
  std::uint64_t successes = 0, failures = 0;  // feedback events `success` / `failure`
  moments score;                              // feedback events that carried a value
  std::int64_t first_hour = 0;                // earliest hour with calls (0 = none)

  void add(const variant_hour_stats& r);
  void add(const feedback_summary& f);
  pv_totals& operator+=(const pv_totals& o);
};

/// avg_quality (and per-prompt avg_accuracy) in [0, 1]: the feedback success rate
/// successes / (successes + failures) when any call was judged; otherwise the mean feedback score
/// mapped linearly from [score_min, score_max] onto [0, 1] (clamped); nullopt without feedback.
std::optional<double> pv_quality(const pv_totals& t, double score_min, double score_max);

/// Mean latency per call in ms, nullopt without calls.
std::optional<double> pv_latency_ms(const pv_totals& t);

/// Mean cost per call (USD), nullopt without calls.
std::optional<double> pv_cost(const pv_totals& t);

/// Per version ("v2", not "name@v2") of prompt `name`, from the store's prompt rows and feedback.
std::map<std::string, pv_totals> pv_version_totals(std::string_view name,
                                                   const std::vector<variant_hour_stats>& rows,
                                                   const std::vector<feedback_summary>& feedback);

/// One row of GET /api/prompts/<name>/ab-tests before serialisation.
struct pv_ab_candidate {
  std::string version;
  std::int64_t timestamp = 0;  // unix seconds
  pv_totals totals;
};

/// The A/B-eligible versions: at least `min_calls` calls and a quality, newest first (by
/// timestamp, then version), at most `max_versions`.
std::vector<pv_ab_candidate> pv_ab_eligible(std::vector<pv_ab_candidate> all,
                                            std::uint64_t min_calls, std::size_t max_versions,
                                            double score_min, double score_max);

}  // namespace switchyard
