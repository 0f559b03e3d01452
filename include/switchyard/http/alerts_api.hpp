#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

struct local_call;

// The alerts, traffic and experiment-series API (docs/alerts.md; the routes are in
// `gateway_routes`). Each runs on the admin executor, reads the alert engine's state under its
// short lock (or the experiment store) and answers JSON, or an error value in the API's shape.

/// GET /api/v1/alerts[?state=active|acknowledged|resolved|all][&limit=N].
result<string_response> list_alerts(const local_call& c);
/// POST /api/v1/alerts/{id}/acknowledge (admin token).
result<string_response> acknowledge_alert(const local_call& c);
/// GET /api/v1/alerts/config.
result<string_response> alerts_config_route(const local_call& c);
/// GET /api/v1/traffic[?hours=N][&bucket=1m|5m|15m|1h].
result<string_response> traffic_route(const local_call& c);
/// GET /api/v1/experiments/{name}/series[?bucket=1h].
result<string_response> experiment_series_route(const local_call& c);

}  // namespace switchyard
