#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/moments.hpp"

#include <optional>
#include <string>

// Guardrails: the automatic pause of a variant that is worse than control. Each statistical
// guardrail is a one-sided always-valid test (sequential.hpp) of "the variant is worse than
// control by more than the margin", so an A/A pair checked after every flush, for as long as it
// runs, is paused by chance with probability at most guardrails.alpha per guardrail. The daily
// budget is not a test: it is a hard limit. Pure.

namespace switchyard {

/// What the guardrails know about one arm (all of the experiment's current phase, except
/// cost_today).
struct guardrail_arm {
  double requests = 0, errors = 0;
  moments cost_usd;        // per request
  latency_sketch latency;  // per request
  double cost_today = 0;   // USD since 00:00 UTC
  /// Per unit of assignment (units = 0 when not recorded, e.g. unit: request): errors/requests
  /// and cost/requests as ratio metrics, so a unit's many requests do not count as independent.
  ratio_moments error_units, cost_units;
};

/// Why a guardrail tripped.
struct guardrail_trip {
  std::string reason;    // daily_budget | error_rate | p95_latency | cost
  std::string detail;    // one sentence with the test and its statistic
  double statistic = 0;  // z of the one-sided test (spend in USD for daily_budget)
  double boundary = 0;   // the z it had to reach (the budget for daily_budget)
};

/// The first guardrail of `g` that trips for `variant` against `control`, in the order
/// daily_budget, error_rate, p95_latency, cost; nullopt when none does. The statistical ones wait
/// for g.min_requests on both arms and use `tuning_n` (the planned total of the pair) as the
/// sequential tuning:
/// - error_rate: H0 p_v − p_c ≤ max_error_rate_increase (per unit when both arms have units);
/// - p95_latency: with L = control's p95 × (1 + max_p95_latency_increase), H0 "at most 5 % of
///   the variant's requests are slower than L", on the arcsine scale 2·asin(√share) with se
///   √(1/n_v + 1/n_c), since L is itself estimated from control (per request: the sketches hold
///   no units);
/// - cost: H0 mean_v ≤ (1 + max_cost_increase)·mean_c per request (per unit when recorded).
std::optional<guardrail_trip> check_guardrail(const guardrails_config& g,
                                              const guardrail_arm& control,
                                              const guardrail_arm& variant, double tuning_n);

}  // namespace switchyard
