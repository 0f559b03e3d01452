#pragma once

#include "switchyard/alerts/traffic.hpp"
#include "switchyard/config/config.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

// The alert rules as pure functions: a rule over a window of traffic → the scope values that
// breach it; a round of breaches → the alerts' lifecycle (firing → acknowledged → resolved).
// No clock, no thread, no store: the engine (engine.hpp) supplies them.

namespace switchyard {

/// What an alert is about; empty members do not apply (a global rule has none).
struct alert_scope_value {
  std::string model, upstream, prompt_version, experiment, variant;
  auto operator<=>(const alert_scope_value&) const = default;
  /// "model=gpt-4o-mini,variant=…" in a fixed member order: the identity of an alert of a rule.
  std::string key() const;
  /// "for model gpt-4o-mini", "for variant treatment of experiment x", "" for global.
  std::string describe() const;
};

/// Where a variant's requests go, for the feedback rules scoped by model, upstream or prompt
/// version (feedback is recorded per experiment variant): from the live plan.
struct variant_route {
  std::string model, upstream, prompt_version;
};
using variant_routes = std::map<feedback_key, variant_route>;

/// One rule's value for one scope value over its window.
struct measurement {
  alert_scope_value scope;
  std::optional<double> value;  // none: no data (or fewer than min_samples)
  double samples = 0;           // requests, judged events, valued events; spend: requests
  std::string detail;           // "(10 of 32 requests)"
};

/// The measurements of `rule` over `window` (already summed over the rule's window), one per
/// scope value seen that passes the rule's filter. `bounds` are the latency buckets' (seconds).
/// A value needs at least `min_samples` samples (spend: none); below that it is none.
std::vector<measurement> measure(const alert_rule_config& rule, const traffic_delta& window,
                                 const std::vector<double>& bounds, const variant_routes& routes);

/// True when `m` has a value past the rule's threshold (above: >, below: <).
bool breaches(const alert_rule_config& rule, const measurement& m) noexcept;

/// An alert as kept and served.
struct alert {
  std::int64_t id = 0;
  std::string rule, kind, metric, severity;  // kind: rule | srm | guardrail
  std::string state = "firing";              // firing | acknowledged | resolved
  alert_scope_value scope;
  std::optional<double> value, threshold;
  std::string comparison;                      // above | below | "" (guardrail)
  std::optional<std::int64_t> window_seconds;  // configured rules only
  std::string message;
  std::int64_t started_at = 0, updated_at = 0;
  std::optional<std::int64_t> resolved_at, acknowledged_at;
  bool active() const noexcept { return state != "resolved"; }
  bool operator==(const alert&) const = default;
};

/// A condition that holds now: the alert it should keep open (fields as in `alert`).
struct breach {
  std::string rule, kind, metric, severity;
  alert_scope_value scope;
  std::optional<double> value, threshold;
  std::string comparison;
  std::optional<std::int64_t> window_seconds;
  std::string message;
};

/// What one round found out besides the breaches: `evaluated` rules were read in full (an
/// active alert of theirs without a breach now resolves, e.g. no data for its scope over a whole
/// window); `cleared` (rule, scope key) pairs had data that does not breach (their alert
/// resolves even when the rule as a whole is not in `evaluated`, e.g. right after a restart,
/// before the history spans the window); `known` are the rules configured (an active alert of
/// another rule resolves: the rule was removed).
struct round_facts {
  std::set<std::string> evaluated, known;
  std::set<std::pair<std::string, std::string>> cleared;
};

/// One evaluation round applied to the kept alerts: for each breach, the active alert of its
/// (rule, scope) is updated (value, message, severity; updated_at when one changed) or a new one
/// opens with id `next_id++`; each active alert without a breach resolves as `facts` says, the
/// others stay as they are. Returns the indexes into `alerts` that changed (to persist), new
/// ones included.
std::vector<std::size_t> apply_round(std::vector<alert>& alerts, const std::vector<breach>& now,
                                     const round_facts& facts, std::int64_t at,
                                     std::int64_t& next_id);

/// Acknowledges `a` at `at`: firing → acknowledged; the first acknowledged_at is kept (so it is
/// idempotent); a resolved alert keeps its state and gets acknowledged_at if it had none.
/// Returns true when something changed.
bool acknowledge(alert& a, std::int64_t at) noexcept;

/// The breach message of a configured rule: "error_rate 31.2% is above 5% over the last 5m for
/// model gpt-4o-mini (10 of 32 requests)".
std::string rule_message(const alert_rule_config& rule, const measurement& m);

/// "5m", "2h", "1h30m", "45s".
std::string format_window(std::int64_t seconds);

}  // namespace switchyard
