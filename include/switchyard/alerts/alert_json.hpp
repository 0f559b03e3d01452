#pragma once

#include "switchyard/alerts/rules.hpp"
#include "switchyard/alerts/traffic.hpp"
#include "switchyard/config/config.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>

// The alerts and traffic API's JSON (docs/alerts.md, README "Alerts and traffic API"). Pure:
// structs in, JSON out; every number finite or null.

namespace switchyard {

/// An alert's scope: {model, upstream, prompt_version, experiment, variant}, only the members
/// that apply (the API's `scope` and the alert store's column).
boost::json::object scope_json(const alert_scope_value& s);

/// One alert: {id, rule, kind, metric, severity, state, scope {…only the members that apply},
/// value, threshold, comparison, window_seconds, message, started_at, updated_at, resolved_at,
/// acknowledged_at} (null where absent).
boost::json::object alert_json(const alert& a);

/// GET /api/v1/alerts/config: {object: "alerts_config", evaluation_interval_seconds,
/// last_evaluation_at, rules: [configured rules, then the always-on srm and guardrail]}.
boost::json::object alerts_config_json(const alerts_config& a,
                                       std::optional<std::int64_t> last_evaluation);

/// GET /api/v1/traffic: the last `hours` before `now` in buckets of `bucket_seconds` (60, 300,
/// 900 from the minute ring — `hours` ≤ 6 —, or 3600 from the hour ring), per model and per
/// upstream, as arrays aligned with `buckets` (null before the history started).
boost::json::object traffic_json(const traffic_history& h, std::int64_t now, std::int64_t hours,
                                 std::int64_t bucket_seconds);

/// The `health` of GET /api/v1/experiments/{name}/series: per configured variant of `e`, the
/// requests and fallbacks the history holds (48 h at most) and their ratio.
boost::json::object variant_health_json(const traffic_history& h, const experiment_config& e);

}  // namespace switchyard
