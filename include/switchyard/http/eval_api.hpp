#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

#include <boost/json/object.hpp>

namespace switchyard {

struct local_call;
struct eval_options;
struct eval_case;
struct dataset_limits;

// The evaluations API (docs/evaluations.md; the routes are in `gateway_routes`). Runs on the
// admin executor; the evaluation itself runs on a job thread (jobs/eval_service.hpp).

/// POST /api/v1/evaluations (admin token): starts an evaluation, 202 with its id.
result<string_response> start_evaluation(const local_call& c);
/// GET /api/v1/evaluations[?experiment=NAME][&limit=N]: running and stored evaluations.
result<string_response> list_evaluations(const local_call& c);
/// GET /api/v1/evaluations/{id}: progress while running, the full report when finished.
result<string_response> get_evaluation(const local_call& c);

/// Reads a POST /api/v1/evaluations body into options and cases (the dataset within `limits`;
/// members left out stay unset, for `evaluations:` to fill); errors name the member (or the
/// case, 1-based, for dataset problems). Pure.
result<void> read_eval_request(const boost::json::object& body, const dataset_limits& limits,
                               eval_options& o, std::vector<eval_case>& cases);

}  // namespace switchyard
