#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

struct local_call;

// prompt_versioner's dashboard API on its own paths, field names and error shape
// ({"error": "..."}; docs/compat-prompt-versioner.md). Mounted under /api/ by `gateway_routes`
// when compat.prompt_versioner.enabled (else each answers 404). Every handler runs on the admin
// executor and always returns a response (its errors are in prompt_versioner's shape, not
// OpenAI's).

/// GET /api/prompts: global stats.
result<string_response> pv_global_stats(const local_call& c);
/// GET /api/prompts/{name}/stats.
result<string_response> pv_prompt_stats(const local_call& c);
/// GET /api/prompts/{name}/ab-tests.
result<string_response> pv_ab_tests(const local_call& c);
/// DELETE /api/prompts/{name}.
result<string_response> pv_delete_prompt(const local_call& c);
/// GET /api/versions/{prompt}.
result<string_response> pv_versions(const local_call& c);
/// GET /api/versions/{prompt}/{version}.
result<string_response> pv_version(const local_call& c);
/// POST /api/versions/{prompt}/compare with {"version_a", "version_b"}.
result<string_response> pv_compare(const local_call& c);
/// GET /api/alerts: the active alerts.
result<string_response> pv_alerts(const local_call& c);
/// POST /api/alerts/{id}/acknowledge.
result<string_response> pv_acknowledge(const local_call& c);
/// GET /api/alerts/config.
result<string_response> pv_alerts_config(const local_call& c);
/// GET /api/export/prompts.
result<string_response> pv_export(const local_call& c);
/// POST /api/export/import.
result<string_response> pv_import(const local_call& c);

}  // namespace switchyard
