#include "switchyard/http/api.hpp"

#include "switchyard/compat/modelab_api.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/http/alerts_api.hpp"
#include "switchyard/http/analysis_api.hpp"
#include "switchyard/http/api_auth.hpp"
#include "switchyard/http/batches_api.hpp"
#include "switchyard/http/eval_api.hpp"
#include "switchyard/http/model_list.hpp"
#include "switchyard/http/prompt_registry_api.hpp"
#include "switchyard/http/prompt_versioner_api.hpp"
#include "switchyard/http/ui_files.hpp"
#include "switchyard/metrics/exposition.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/fail.hpp"
#include "switchyard/runtime/admin_executor.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <chrono>
#include <cmath>

namespace switchyard {

namespace {

namespace json = boost::json;
using http::verb;

// Health and readiness: answered on the worker itself (cheap, and must never queue behind API
// work).
result<string_response> healthz(const local_call& c) {
  return json_response(http::status::ok, R"({"status":"ok"})", c.req.version(), c.keep,
                       c.request_id());
}

result<string_response> readyz(const local_call& c) {
  const bool draining = c.w.draining.load();
  return json_response(draining ? http::status::service_unavailable : http::status::ok,
                       draining ? R"({"status":"draining"})" : R"({"status":"ready"})",
                       c.req.version(), c.keep, c.request_id());
}

result<string_response> metrics_route(const local_call& c) {
  const bool om = metrics::wants_openmetrics(c.req[http::field::accept]);
  string_response res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, metrics::content_type(om));
  res.set("x-request-id", c.request_id());
  res.body() = c.w.shared.metrics->registry.render(om);
  res.keep_alive(c.keep);
  res.prepare_payload();
  return res;
}

// An Anthropic client (Claude Code lists the gateway's models at start) gets Anthropic's shape.
bool anthropic_client(const local_call& c) {
  return client_api(c.req.target(), c.req["anthropic-version"]) == api_kind::messages;
}

result<string_response> list_models(const local_call& c) {
  auto p = c.w.shared.snapshot->current();
  return json_response(
      http::status::ok,
      anthropic_client(c) ? anthropic_model_list_json(*p->cfg) : model_list_json(*p->cfg),
      c.req.version(), c.keep, c.request_id());
}

result<string_response> get_model(const local_call& c) {
  auto p = c.w.shared.snapshot->current();
  std::string id = c.route.param("id");
  c.rec.model = id;
  if (!serves_model(*p->cfg, id)) {
    return make_error(errc::model_not_found, "The model `" + id + "` does not exist.", "model");
  }
  return json_response(
      http::status::ok,
      anthropic_client(c) ? anthropic_model_object_json(id) : model_object_json(id),
      c.req.version(), c.keep, c.request_id());
}

result<string_response> reload(const local_call& c) {
  auto r = c.w.shared.reload ? c.w.shared.reload()
                             : result<void>(make_error(errc::internal, "reload is not wired"));
  if (!r) {
    return make_error(errc::conflict,
                      "Reload rejected; the running configuration is kept: " + r.error().message);
  }
  return json_answer(c, json::object{{"status", "reloaded"},
                                     {"generation", c.w.shared.snapshot->current()->generation}});
}

result<string_response> feedback(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  if (ec || !v.is_object()) {
    return make_error(
        errc::invalid_request,
        R"(The body must be a JSON object like {"request_id": "...", "event": "success"}.)");
  }
  const auto& o = v.as_object();
  const auto* rid = o.if_contains("request_id");
  const auto* ev = o.if_contains("event");
  const auto* val = o.if_contains("value");
  if (!rid || !rid->is_string()) {
    return make_error(errc::invalid_request,
                      "request_id is required: the x-switchyard-feedback-id (or x-request-id) of "
                      "the response",
                      "request_id");
  }
  if (!ev || !ev->is_string() || ev->as_string().empty() || ev->as_string().size() > 64) {
    return make_error(errc::invalid_request,
                      "event is required: success, failure or a name of your own (up to 64 chars)",
                      "event");
  }
  std::optional<double> value;
  if (val && !val->is_null()) {
    if (!val->is_number() || !std::isfinite(val->to_number<double>())) {
      return make_error(errc::invalid_request, "value must be a finite number, e.g. a 1-5 score",
                        "value");
    }
    value = val->to_number<double>();
  }
  std::string id(rid->as_string());
  auto claims = engine.verify_feedback(id);
  if (!claims) {
    return claims.error();
  }
  if (c.w.shared.feedback_limits) {
    if (auto admitted = c.w.shared.feedback_limits->admit(id, claims->experiment, ev->as_string());
        !admitted) {
      return admitted.error();
    }
  }
  feedback_record f{id,
                    std::string(ev->as_string()),
                    claims->experiment,
                    claims->variant,
                    claims->prompt_version,
                    value,
                    claims->unix_seconds};
  f.unit = claims->unit;  // per-unit analysis of feedback
  auto fresh = engine.store().add_feedback(f);
  if (!fresh) {
    spdlog::error("feedback not stored: {}", fresh.error().message);
    return make_error(errc::internal, "The feedback could not be stored; try again.");
  }
  if (*fresh) {
    auto& m = *c.w.shared.metrics;
    m.feedback.with({f.experiment, f.variant, f.event}).inc();
    if (value) {
      m.feedback_score.with({f.experiment, f.variant}).observe(*value);
    }
  }
  return json_answer(c, json::object{{"status", *fresh ? "recorded" : "duplicate"},
                                     {"experiment", f.experiment},
                                     {"variant", f.variant},
                                     {"event", f.event}});
}

// ---- modelab's server API (issue 17, docs/compat-modelab.md): the handlers are in
// compat/modelab_api.hpp; these adapt a request to them. Their own X-API-Key check replaces the
// route's access rule (modelab's SDK sends no bearer token), and errors keep modelab's shape.
string_response modelab_answer(const local_call& c, const modelab_reply& r) {
  return json_response(static_cast<http::status>(r.status), r.body, c.req.version(), c.keep,
                       c.request_id());
}

template <modelab_kind Kind>
result<string_response> modelab_ingest_route(const local_call& c) {
  const auto p = c.w.shared.snapshot->current();
  const auto& cfg = p->cfg->compat.modelab;
  if (auto no = modelab_refusal(cfg, c.w.shared.modelab, c.req["x-api-key"])) {
    return modelab_answer(c, *no);
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return modelab_answer(c, modelab_ingest(*c.w.shared.modelab, cfg, Kind, c.req.body(), now));
}

result<string_response> modelab_flags_route(const local_call& c) {
  const auto p = c.w.shared.snapshot->current();
  if (auto no = modelab_refusal(p->cfg->compat.modelab, c.w.shared.modelab, c.req["x-api-key"])) {
    return modelab_answer(c, *no);
  }
  return modelab_answer(c, modelab_flags(*c.w.shared.modelab, *p->cfg));
}

result<string_response> modelab_flag_route(const local_call& c) {
  const auto p = c.w.shared.snapshot->current();
  if (auto no = modelab_refusal(p->cfg->compat.modelab, c.w.shared.modelab, c.req["x-api-key"])) {
    return modelab_answer(c, *no);
  }
  return modelab_answer(c, modelab_flag(*c.w.shared.modelab, *p->cfg, c.route.param("name")));
}

result<string_response> modelab_timeline_route(const local_call& c) {
  const auto p = c.w.shared.snapshot->current();
  if (auto no = modelab_refusal(p->cfg->compat.modelab, c.w.shared.modelab, c.req["x-api-key"])) {
    return modelab_answer(c, *no);
  }
  return modelab_answer(c, modelab_timeline(*c.w.shared.modelab, c.route.param("name"),
                                            c.route.query("bucket_seconds")));
}

constexpr auto on_worker = route_site::worker;
constexpr auto reader = route_access::reader;
constexpr auto admin = route_access::admin;

// The table, proxied endpoints first (the hot path stops at the first match).
std::vector<route> table(bool with_proxy) {
  std::vector<route> proxied = {
      {.methods = {verb::post},
       .pattern = "/v1/chat/completions",
       .site = route_site::proxy,
       .proxied = endpoint::chat_completions},
      {.methods = {verb::post},
       .pattern = "/v1/completions",
       .site = route_site::proxy,
       .proxied = endpoint::completions},
      {.methods = {verb::post},
       .pattern = "/v1/embeddings",
       .site = route_site::proxy,
       .proxied = endpoint::embeddings},
      {.methods = {verb::post},
       .pattern = "/v1/messages",
       .site = route_site::proxy,
       .proxied = endpoint::messages},
      {.methods = {verb::post},
       .pattern = "/v1/messages/count_tokens",
       .site = route_site::proxy,
       .proxied = endpoint::count_tokens},
      {.methods = {verb::post},
       .pattern = "/v1/responses",
       .site = route_site::proxy,
       .proxied = endpoint::responses},
  };
  std::vector<route> local = {
      {.methods = {verb::get}, .pattern = "/healthz", .handler = healthz, .site = on_worker},
      {.methods = {verb::get}, .pattern = "/readyz", .handler = readyz, .site = on_worker},
      {.methods = {verb::get}, .pattern = "/metrics", .handler = metrics_route},
      {.methods = {verb::get}, .pattern = "/v1/models", .handler = list_models},
      {.methods = {verb::get}, .pattern = "/v1/models/{id}", .handler = get_model},
      {.methods = {verb::post}, .pattern = "/v1/feedback", .handler = feedback},
      // The Batch API (docs/batches.md): OpenAI's Files and Batches, with the proxied /v1
      // routes' access (anyone who may call the proxy), on the admin executor.
      {.methods = {verb::post}, .pattern = "/v1/files", .handler = upload_file},
      {.methods = {verb::get}, .pattern = "/v1/files", .handler = list_files},
      {.methods = {verb::get}, .pattern = "/v1/files/{id}", .handler = get_file},
      {.methods = {verb::delete_}, .pattern = "/v1/files/{id}", .handler = delete_file},
      {.methods = {verb::get}, .pattern = "/v1/files/{id}/content", .handler = get_file_content},
      {.methods = {verb::post}, .pattern = "/v1/batches", .handler = create_batch},
      {.methods = {verb::get}, .pattern = "/v1/batches", .handler = list_batches},
      {.methods = {verb::get}, .pattern = "/v1/batches/{id}", .handler = get_batch},
      {.methods = {verb::post}, .pattern = "/v1/batches/{id}/cancel", .handler = cancel_batch},
      {.methods = {verb::post}, .pattern = "/api/v1/reload", .handler = reload, .access = admin},
      {.methods = {verb::get},
       .pattern = "/api/v1/experiments",
       .handler = list_experiments,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/experiments/{name}",
       .handler = get_experiment,
       .access = reader},
      {.methods = {verb::post},
       .pattern = "/api/v1/experiments/{name}",
       .handler = control_experiment,
       .access = admin},
      {.methods = {verb::get},
       .pattern = "/api/v1/experiments/{name}/timeline",
       .handler = experiment_timeline_route,
       .access = reader},
      // The writable prompt registry (docs/prompt-registry.md); before /api/v1/prompts/{name},
      // whose pattern would take `export` and `import` for prompt names.
      {.methods = {verb::get},
       .pattern = "/api/v1/prompts/export",
       .handler = export_prompts,
       .access = reader},
      {.methods = {verb::post},
       .pattern = "/api/v1/prompts/import",
       .handler = import_prompts,
       .access = admin},
      {.methods = {verb::post},
       .pattern = "/api/v1/prompts/{name}/versions",
       .handler = create_prompt_version,
       .access = admin},
      {.methods = {verb::delete_},
       .pattern = "/api/v1/prompts/{name}",
       .handler = delete_prompt,
       .access = admin},
      {.methods = {verb::delete_},
       .pattern = "/api/v1/prompts/{name}/versions/{version}",
       .handler = delete_prompt_version,
       .access = admin},
      // prompt_versioner's API (docs/compat-prompt-versioner.md): the handlers check
      // compat.prompt_versioner (enabled, tokens) themselves, to answer in its error shape.
      {.methods = {verb::get}, .pattern = "/api/prompts", .handler = pv_global_stats},
      {.methods = {verb::get}, .pattern = "/api/prompts/{name}/stats", .handler = pv_prompt_stats},
      {.methods = {verb::get}, .pattern = "/api/prompts/{name}/ab-tests", .handler = pv_ab_tests},
      {.methods = {verb::delete_}, .pattern = "/api/prompts/{name}", .handler = pv_delete_prompt},
      {.methods = {verb::post}, .pattern = "/api/versions/{name}/compare", .handler = pv_compare},
      {.methods = {verb::get}, .pattern = "/api/versions/{name}", .handler = pv_versions},
      {.methods = {verb::get}, .pattern = "/api/versions/{name}/{version}", .handler = pv_version},
      {.methods = {verb::get}, .pattern = "/api/alerts/config", .handler = pv_alerts_config},
      {.methods = {verb::get}, .pattern = "/api/alerts", .handler = pv_alerts},
      {.methods = {verb::post},
       .pattern = "/api/alerts/{id}/acknowledge",
       .handler = pv_acknowledge},
      {.methods = {verb::get}, .pattern = "/api/export/prompts", .handler = pv_export},
      {.methods = {verb::post}, .pattern = "/api/export/import", .handler = pv_import},
      // (end of the prompt registry and prompt_versioner routes)
      {.methods = {verb::get},
       .pattern = "/api/v1/prompts",
       .handler = list_prompts,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/prompts/{name}",
       .handler = get_prompt,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/prompts/{name}/versions/{version}",
       .handler = get_prompt_version,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/prompts/{name}/compare",
       .handler = compare_prompt_versions,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/experiments/{name}/series",
       .handler = experiment_series_route,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/alerts",
       .handler = list_alerts,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/alerts/config",
       .handler = alerts_config_route,
       .access = reader},
      {.methods = {verb::post},
       .pattern = "/api/v1/alerts/{id}/acknowledge",
       .handler = acknowledge_alert,
       .access = admin},
      {.methods = {verb::get},
       .pattern = "/api/v1/traffic",
       .handler = traffic_route,
       .access = reader},
      // Evaluations of variants against a golden dataset (docs/evaluations.md).
      {.methods = {verb::post},
       .pattern = "/api/v1/evaluations",
       .handler = start_evaluation,
       .access = admin},
      {.methods = {verb::get},
       .pattern = "/api/v1/evaluations",
       .handler = list_evaluations,
       .access = reader},
      {.methods = {verb::get},
       .pattern = "/api/v1/evaluations/{id}",
       .handler = get_evaluation,
       .access = reader},
      // modelab's server API (issue 17, docs/compat-modelab.md): ingest and flags.
      {.methods = {verb::post},
       .pattern = "/api/v1/ingest/assignments",
       .handler = modelab_ingest_route<modelab_kind::assignments>},
      {.methods = {verb::post},
       .pattern = "/api/v1/ingest/executions",
       .handler = modelab_ingest_route<modelab_kind::executions>},
      {.methods = {verb::post},
       .pattern = "/api/v1/ingest/events",
       .handler = modelab_ingest_route<modelab_kind::events>},
      {.methods = {verb::get}, .pattern = "/api/v1/flags", .handler = modelab_flags_route},
      {.methods = {verb::get}, .pattern = "/api/v1/flags/{name}", .handler = modelab_flag_route},
      {.methods = {verb::get},
       .pattern = "/api/v1/flags/{name}/timeline",
       .handler = modelab_timeline_route},
      // The dashboard's static files (http/ui_files.hpp): from memory, so on the worker.
      {.methods = {verb::get}, .pattern = "/ui", .handler = ui_route, .site = on_worker},
      {.methods = {verb::get}, .pattern = "/ui/", .handler = ui_route, .site = on_worker},
      {.methods = {verb::get}, .pattern = "/ui/{file}", .handler = ui_route, .site = on_worker},
  };
  if (!with_proxy) {
    return local;
  }
  proxied.insert(proxied.end(), local.begin(), local.end());
  return proxied;
}

// The route's access rule, against the current snapshot's tokens.
std::optional<error> denied(const local_call& c) {
  switch (c.route.entry->access) {
    case route_access::anyone:
      return std::nullopt;
    case route_access::reader:
      return reader_denied(c.req[http::field::authorization], *c.w.shared.snapshot->current()->cfg);
    case route_access::admin:
      return admin_denied(c.req[http::field::authorization], *c.w.shared.snapshot->current()->cfg);
  }
  return std::nullopt;
}

// The one exit for a local refusal: the error's response, and its label on the access record
// (and so on the metric).
string_response refuse(const client_request& req, const error& e, bool keep, access_record& rec) {
  rec.error = describe(e.code).error_type;
  return api_error_response(client_api(req.target(), req["anthropic-version"]), e, req.version(),
                            keep, rec.request_id);
}

// Runs the matched handler under its access rule (on whichever thread calls it).
string_response run_route(const local_call& c) {
  if (auto e = denied(c)) {
    return refuse(c.req, *e, c.keep, c.rec);
  }
  if (c.route.entry->handler == nullptr) {  // a proxied route here would be a bug in the table
    return refuse(c.req, make_error(errc::internal, "This route has no local handler."), c.keep,
                  c.rec);
  }
  auto res = c.route.entry->handler(c);
  return res ? std::move(*res) : refuse(c.req, res.error(), c.keep, c.rec);
}

}  // namespace

api_kind client_api(std::string_view target, std::string_view anthropic_version) noexcept {
  const std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view messages = "/v1/messages";
  if (path.starts_with(messages) &&
      (path.size() == messages.size() || path[messages.size()] == '/')) {
    return api_kind::messages;
  }
  for (auto p : {endpoint::chat_completions, endpoint::completions, endpoint::embeddings,
                 endpoint::responses}) {
    const auto ep = endpoint_path(p);
    if (path.size() == 3 + ep.size() && path.starts_with("/v1") && path.ends_with(ep)) {
      return api_kind::chat;  // an OpenAI path keeps OpenAI's shape, whatever the headers
    }
  }
  return anthropic_version.empty() ? api_kind::chat : api_kind::messages;
}

string_response json_answer(const local_call& c, const json::value& v, http::status status) {
  return json_response(status, json::serialize(v), c.req.version(), c.keep, c.request_id());
}

const router& gateway_routes(bool admin_only) {
  static const router full(table(true));
  static const router local_only(table(false));
  return admin_only ? local_only : full;
}

net::awaitable<string_response> answer_local(worker& w, const client_request& req,
                                             const route_match& route, bool keep,
                                             access_record& rec,
                                             std::shared_ptr<streamed_body>* streamed) {
  if (route.outcome != route_match::kind::found) {
    auto res = refuse(req, route.refusal(req.method_string(), req.target()), keep, rec);
    if (route.outcome == route_match::kind::method_not_allowed) {
      res.set(http::field::allow, route.allow.allow_header());  // RFC 9110 §15.5.6
    }
    co_return res;
  }
  const local_call c{w, req, route, keep, rec, streamed};
  if (route.entry->site == route_site::worker || w.shared.admin == nullptr) {
    co_return run_route(c);  // probes; and unit harnesses without an admin executor
  }
  auto res = co_await w.shared.admin->run([&] { return run_route(c); });
  if (!res) {
    co_return refuse(
        req, make_error(errc::overloaded, "The admin API is busy (too many calls queued); retry."),
        false, rec);
  }
  co_return std::move(*res);
}

}  // namespace switchyard
