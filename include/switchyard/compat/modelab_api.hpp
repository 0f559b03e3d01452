#pragma once

#include "switchyard/compat/modelab_ingest.hpp"
#include "switchyard/compat/modelab_store.hpp"
#include "switchyard/config/config.hpp"

#include <boost/json/array.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// modelab's server API (shared/reference/seeds.md §2; docs/compat-modelab.md), independent of
// the HTTP layer: each call takes what the request carried and answers a status and a JSON body.
// Errors are in modelab's (FastAPI's) shape, {"detail": "..."}. The route block in
// src/http/api.cpp adapts these to requests; they run on the admin executor.

namespace switchyard {

/// A status and a JSON body.
struct modelab_reply {
  unsigned status = 200;
  std::string body;
};

/// What every modelab call is checked against first: 404 {"detail": "Not Found"} while
/// compat.modelab.enabled is false (the paths do not exist), 401 {"detail": "Invalid or missing
/// API key"} when compat.modelab.api_key is set and `x_api_key` differs (constant-time compare),
/// 503 when the store could not be opened (`store` null). nullopt = go on.
std::optional<modelab_reply> modelab_refusal(const modelab_config& cfg, const modelab_store* store,
                                             std::string_view x_api_key);

/// POST /api/v1/ingest/{assignments|executions|events}: 200 {"status": "ok", "received",
/// "accepted", "duplicates", "orphans"}; 413 for a body over max_body_bytes or a batch over
/// max_batch_records; 400 for a body that is not a JSON array of valid records (nothing stored).
modelab_reply modelab_ingest(modelab_store& store, const modelab_config& cfg, modelab_kind kind,
                             std::string_view body, std::int64_t now_unix);

/// GET /api/v1/flags: a JSON array of flag summaries (modelab_report.hpp).
modelab_reply modelab_flags(modelab_store& store, const hot_config& cfg);

/// GET /api/v1/flags/{name}: the flag's report, plus switchyard.orphans {executions, events}
/// (store-wide); 404 {"detail": "Flag not found"} when nothing was assigned under that name.
modelab_reply modelab_flag(modelab_store& store, const hot_config& cfg, std::string_view name);

/// GET /api/v1/flags/{name}/timeline[?bucket_seconds=N] (default 3600; 60 ≤ N ≤ 31622400).
modelab_reply modelab_timeline(modelab_store& store, std::string_view name,
                               std::optional<std::string> bucket_seconds);

/// The ingested flags as client-side experiments for GET /api/v1/experiments (source
/// "modelab"); empty when modelab is disabled. An error when the store cannot be read.
result<boost::json::array> modelab_experiments(modelab_store* store, const hot_config& cfg);

}  // namespace switchyard
