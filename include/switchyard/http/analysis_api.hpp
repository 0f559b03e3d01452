#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

struct local_call;
struct plan;
struct prompt_config;
struct prompt_input;

// The analysis and control API's handlers (the routes are in `gateway_routes`). Each reads the
// snapshot once, flushes the statistics shards first (answers include everything recorded so
// far) and answers JSON, or an error value for the one local exit.

/// GET /api/v1/experiments: every experiment's summary.
result<string_response> list_experiments(const local_call& c);
/// GET /api/v1/experiments/{name}[?phase=N]: the report of one phase (the current one by default).
result<string_response> get_experiment(const local_call& c);
/// POST /api/v1/experiments/{name}: an operator's control (pause, resume, conclude, set_weights).
result<string_response> control_experiment(const local_call& c);
/// GET /api/v1/experiments/{name}/timeline[?bucket=1h]: every phase, by whole-hour buckets.
result<string_response> experiment_timeline_route(const local_call& c);
/// GET /api/v1/prompts: every prompt's report.
result<string_response> list_prompts(const local_call& c);
/// GET /api/v1/prompts/{name}.
result<string_response> get_prompt(const local_call& c);
/// GET /api/v1/prompts/{name}/versions/{version}.
result<string_response> get_prompt_version(const local_call& c);
/// GET /api/v1/prompts/{name}/compare?a=<version>&b=<version>.
result<string_response> compare_prompt_versions(const local_call& c);

/// The versions of `pc` as the snapshot `p` compiled them (hashes, variables), without
/// statistics: what the analysis API and prompt_versioner's compare fill the rows into.
prompt_input prompt_versions(const plan& p, const prompt_config& pc);

}  // namespace switchyard
