#pragma once

#include "switchyard/core/arena.hpp"
#include "switchyard/http/router.hpp"
#include "switchyard/http/streamed_body.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/responses.hpp"
#include "switchyard/runtime/worker.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace switchyard {

/// What a local route's handler gets: the worker (shared state), the request, the route's
/// match (path parameters, query) and the access record it may annotate (e.g. `model`).
struct local_call {
  worker& w;
  const client_request& req;
  const route_match& route;
  bool keep;  // the connection stays open after this answer
  access_record& rec;
  /// Where a handler may leave a body to stream after its answer's header (see
  /// streamed_body.hpp); null where streaming is not offered (build the whole body then).
  std::shared_ptr<streamed_body>* streamed = nullptr;

  const std::string& request_id() const noexcept { return rec.request_id; }
};

/// `v` serialised as a JSON response to `c` with the gateway's standard headers.
string_response json_answer(const local_call& c, const boost::json::value& v,
                            http::status status = http::status::ok);

/// The gateway's routing table: probes, `/metrics`, `/v1/models` and `/v1/models/{id}`,
/// `/v1/feedback`, `/api/v1/experiments…`, `/api/v1/prompts…`, `/api/v1/reload`, and the proxied
/// endpoints, OpenAI's and Anthropic's `/v1/messages` and `/v1/messages/count_tokens` (left out
/// for the admin listener, `admin_only`, where they are unknown).
const router& gateway_routes(bool admin_only);

/// The API whose error shape (and `/v1/models` shape) the gateway's own answers to a request
/// take: `messages` on the Messages paths (`/v1/messages`, below it, and count_tokens), and on
/// the other local paths when the request carries `anthropic-version` (an Anthropic SDK or
/// Claude Code: `/v1/models`, an unknown path); `chat` (OpenAI's shape) otherwise, always on the
/// OpenAI paths. `target` is the request target (a query is ignored). Pure.
api_kind client_api(std::string_view target, std::string_view anthropic_version) noexcept;

/// Answers a request the table did not send to the proxy: a 404/405/400 from the table (405
/// with `Allow`), a 401 from the route's access rule, or the handler's answer, run where the
/// route says (the worker, or the admin executor: 503 when its queue is full). Every refusal
/// leaves through one exit, which also sets the access record's `error` (the metric's
/// `error_type` label) from `describe()`. A handler's streamed body, if any, lands in `streamed`.
net::awaitable<string_response> answer_local(worker& w, const client_request& req,
                                             const route_match& route, bool keep,
                                             access_record& rec,
                                             std::shared_ptr<streamed_body>* streamed = nullptr);

}  // namespace switchyard
