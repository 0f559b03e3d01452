#include "switchyard/http/api.hpp"

#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/http/api_auth.hpp"
#include "switchyard/metrics/exposition.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>

namespace switchyard {

namespace {

namespace json = boost::json;

struct call {
  worker& w;
  const http::request<http::string_body>& req;
  bool keep;
  const std::string& id;

  string_response ok(const json::value& v, http::status s = http::status::ok) const {
    return json_response(s, json::serialize(v), req.version(), keep, id);
  }
  string_response fail(errc code, std::string message, std::string param = {}) const {
    return error_response(make_error(code, std::move(message), std::move(param)), req.version(),
                          keep, id);
  }
  string_response not_allowed(std::string_view path) const {
    return fail(errc::method_not_allowed, "Method " + std::string(req.method_string()) +
                                              " is not allowed on " + std::string(path) + ".");
  }
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<string_response> check_admin(const call& c, const hot_config& cfg) {
  if (auto e = admin_denied(c.req[http::field::authorization], cfg)) {
    return error_response(*e, c.req.version(), c.keep, c.id);
  }
  return std::nullopt;
}

std::optional<string_response> check_reader(const call& c, const hot_config& cfg) {
  if (auto e = reader_denied(c.req[http::field::authorization], cfg)) {
    return error_response(*e, c.req.version(), c.keep, c.id);
  }
  return std::nullopt;
}

string_response models(const call& c, const plan& p) {
  json::array data;
  auto add = [&](const std::string& name) {
    data.push_back({{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "switchyard"}});
  };
  for (const auto& m : p.cfg->models) {
    add(m.name);
  }
  for (const auto& e : p.cfg->experiments) {
    if (!p.cfg->find_model(e.match_model)) {
      add(e.match_model);  // a name that exists only through its experiment
    }
  }
  return c.ok(json::object{{"object", "list"}, {"data", data}});
}

string_response feedback(const call& c) {
  auto& engine = *c.w.shared.experiments;
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  if (ec || !v.is_object()) {
    return c.fail(
        errc::invalid_request,
        R"(The body must be a JSON object like {"request_id": "...", "event": "success"}.)");
  }
  const auto& o = v.as_object();
  const auto* rid = o.if_contains("request_id");
  const auto* ev = o.if_contains("event");
  const auto* val = o.if_contains("value");
  if (!rid || !rid->is_string()) {
    return c.fail(errc::invalid_request,
                  "request_id is required: the x-switchyard-feedback-id (or x-request-id) of the "
                  "response",
                  "request_id");
  }
  if (!ev || !ev->is_string() || ev->as_string().empty() || ev->as_string().size() > 64) {
    return c.fail(errc::invalid_request,
                  "event is required: success, failure or a name of your own (up to 64 chars)",
                  "event");
  }
  std::optional<double> value;
  if (val && !val->is_null()) {
    if (!val->is_number() || !std::isfinite(val->to_number<double>())) {
      return c.fail(errc::invalid_request, "value must be a finite number, e.g. a 1-5 score",
                    "value");
    }
    value = val->to_number<double>();
  }
  std::string id(rid->as_string());
  auto claims = engine.verify_feedback(id);
  if (!claims) {
    return error_response(claims.error(), c.req.version(), c.keep, c.id);
  }
  if (c.w.shared.feedback_limits) {
    if (auto admitted = c.w.shared.feedback_limits->admit(id, claims->experiment, ev->as_string());
        !admitted) {
      return error_response(admitted.error(), c.req.version(), c.keep, c.id);
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
    return c.fail(errc::internal, "The feedback could not be stored; try again.");
  }
  if (*fresh) {
    auto& m = *c.w.shared.metrics;
    m.feedback.with({f.experiment, f.variant, f.event}).inc();
    if (value) {
      m.feedback_score.with({f.experiment, f.variant}).observe(*value);
    }
  }
  return c.ok(json::object{{"status", *fresh ? "recorded" : "duplicate"},
                           {"experiment", f.experiment},
                           {"variant", f.variant},
                           {"event", f.event}});
}

// What the analysis reads from the store. The report and the summary read one
// phase (`phase` 0 = the current one): its rows, units, feedback and weights; the timeline
// (per_hour) reads every phase.
analysis_input gather(experiment_engine& engine, const experiment_plan& e, bool per_hour,
                      std::int64_t phase = 0) {
  analysis_input in;
  in.cfg = e.cfg;
  in.status = e.status;
  for (const auto& v : e.variants) {
    in.weights.push_back(v.weight);
    if (v.paused) {
      in.paused_variants.push_back(v.name);
    }
  }
  if (e.winner >= 0) {
    in.winner = e.variants[static_cast<std::size_t>(e.winner)].name;
  }
  const auto& name = e.cfg->name;
  auto& store = engine.store();
  if (auto phases = store.phases(name)) {
    in.phases = std::move(*phases);
  }
  in.phase = phase > 0 ? phase : e.phase;
  std::int64_t from = 0, to = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i < in.phases.size(); ++i) {
    if (in.phases[i].phase == in.phase) {
      from = i == 0 ? 0 : in.phases[i].start_unix;  // phase 1 also holds what came before phases
      to = i + 1 < in.phases.size() ? in.phases[i + 1].start_unix : to;
      if (in.phases[i].weights.size() == in.weights.size()) {
        in.weights = in.phases[i].weights;  // SRM against the weights the units were assigned by
      }
    }
  }
  if (auto rows = store.read_stats(name, 0, unix_now() + 3600)) {
    in.rows = std::move(*rows);
    if (!per_hour) {
      std::erase_if(in.rows, [&](const variant_hour_stats& r) { return r.phase != in.phase; });
    }
  }
  if (!per_hour) {
    if (auto units = store.read_units(name, in.phase)) {
      in.units = units->units;
      in.per_unit = std::move(*units);
      if (auto fb = store.read_feedback_units(name, in.phase, from, to)) {
        for (auto& [variant, a] : *fb) {
          in.per_unit->variants[variant].success = a.success;
          in.per_unit->variants[variant].score = a.score;
        }
      }
    }
  } else if (auto counts = store.unit_counts(name)) {
    in.units = std::move(*counts);
  }
  if (auto fb = per_hour ? store.read_feedback(name, true)
                         : store.read_feedback_between(name, from, to)) {
    in.feedback = std::move(*fb);
  }
  if (auto g = store.guardrail_events(name)) {
    in.guardrails = std::move(*g);
  }
  return in;
}

// The value of `key` in a query string ("" when absent). Our values are plain tokens (1h, v2);
// percent-decoding is not needed for them.
std::string_view query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    auto eq = item.find('=');
    if (item.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    }
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return {};
}

std::optional<std::int64_t> parse_bucket(std::string_view text) {
  auto d = parse_duration(text);
  if (!d || d->count() % 3'600'000 != 0 || d->count() == 0) {
    return std::nullopt;
  }
  return d->count() / 1000;
}

string_response control(const call& c, experiment_engine& engine, const experiment_plan& e) {
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  const json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  const json::value* action = o ? o->if_contains("action") : nullptr;
  if (!action || !action->is_string()) {
    return c.fail(errc::invalid_request,
                  R"(Send {"action": "pause" | "resume" | "conclude" | "set_weights", ...}.)",
                  "action");
  }
  auto ctl = engine.control(e.cfg->name);
  ctl.updated_unix = unix_now();
  const std::string_view a = action->as_string();
  if (a == "pause") {
    ctl.status = "paused";
  } else if (a == "resume") {
    ctl.status = "running";
    ctl.winner.clear();
    ctl.paused_variants.clear();  // guardrail pauses too: the operator has looked
  } else if (a == "conclude") {
    const auto* w = o->if_contains("winner");
    bool known = false;
    for (const auto& var : e.variants) {
      known = known || (w && w->is_string() && var.name == w->as_string());
    }
    if (!known) {
      return c.fail(errc::invalid_request, "conclude needs winner: one of the variants", "winner");
    }
    ctl.status = "concluded";
    ctl.winner = std::string(w->as_string());
  } else if (a == "set_weights") {
    const auto* w = o->if_contains("weights");
    std::vector<double> weights;
    if (w && w->is_array()) {
      for (const auto& x : w->as_array()) {
        weights.push_back(x.is_number() ? x.to_number<double>() : -1);
      }
    }
    double total = 0;
    bool valid = weights.size() == e.variants.size();
    for (double x : weights) {
      valid = valid && std::isfinite(x) && x >= 0;
      total += x;
    }
    if (!valid || total <= 0) {
      return c.fail(errc::invalid_request,
                    "set_weights needs weights: one number >= 0 per variant, in config order, "
                    "not all 0",
                    "weights");
    }
    ctl.weights = std::move(weights);
  } else {
    return c.fail(errc::invalid_request, "action must be pause, resume, conclude or set_weights",
                  "action");
  }
  if (auto r = engine.apply_control(ctl); !r) {
    return error_response(r.error(), c.req.version(), c.keep, c.id);
  }
  spdlog::info("experiment {}: {} by the admin API", e.cfg->name, a);
  auto p = engine.current();
  return c.ok(experiment_summary(gather(engine, *p->find(e.cfg->name), false)));
}

string_response experiments(const call& c, std::string_view rest, std::string_view query) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();  // answers include everything recorded so far
  const bool get = c.req.method() == http::verb::get;
  if (rest.empty()) {
    if (!get) {
      return c.not_allowed("/api/v1/experiments");
    }
    json::array list;
    for (const auto& e : p->experiments) {
      list.push_back(experiment_summary(gather(engine, e, false)));
    }
    return c.ok(json::object{{"object", "list"}, {"data", list}});
  }
  auto slash = rest.find('/');
  std::string_view name = rest.substr(0, slash);
  std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const experiment_plan* e = p->find(name);
  if (!e) {
    return c.fail(errc::not_found, "No experiment named `" + std::string(name) + "`.");
  }
  if (sub.empty() && c.req.method() == http::verb::post) {
    if (auto denied = check_admin(c, *p->cfg)) {
      return std::move(*denied);
    }
    return control(c, engine, *e);
  }
  if (!get) {
    return c.not_allowed("/api/v1/experiments/" + std::string(name));
  }
  if (sub.empty()) {
    std::int64_t phase = 0;
    if (auto text = query_param(query, "phase"); !text.empty()) {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), phase);
      if (ec != std::errc{} || ptr != text.data() + text.size() || phase < 1 || phase > e->phase) {
        return c.fail(errc::invalid_request,
                      "phase must be a phase number from 1 to " + std::to_string(e->phase),
                      "phase");
      }
    }
    return c.ok(experiment_report(gather(engine, *e, false, phase)));
  }
  if (sub == "timeline") {
    std::int64_t bucket = 3600;
    if (auto text = query_param(query, "bucket"); !text.empty()) {
      auto b = parse_bucket(text);
      if (!b) {
        return c.fail(errc::invalid_request, "bucket must be whole hours, like 1h or 24h",
                      "bucket");
      }
      bucket = *b;
    }
    return c.ok(experiment_timeline(gather(engine, *e, true), bucket));
  }
  return c.fail(errc::not_found, "Unknown experiment route: " + std::string(sub));
}

prompt_input gather_prompt(experiment_engine& engine, const plan& p, const prompt_config& pc) {
  prompt_input in;
  in.cfg = &pc;
  for (const auto& v : pc.versions) {
    if (const auto* pp = p.find_prompt(pc.name + "@" + v.version)) {
      in.hashes[v.version] = pp->hash;
      in.variables[v.version] = pp->tmpl.variables();
    }
  }
  if (auto rows = engine.store().read_prompt_stats(pc.name)) {
    in.rows = std::move(*rows);
  }
  if (auto fb = engine.store().read_prompt_feedback(pc.name)) {
    in.feedback = std::move(*fb);
  }
  return in;
}

string_response prompts(const call& c, std::string_view rest, std::string_view query) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  if (c.req.method() != http::verb::get) {
    return c.not_allowed("/api/v1/prompts");
  }
  (void)engine.flush();
  if (rest.empty()) {
    json::array list;
    for (const auto& pc : p->cfg->prompts) {
      list.push_back(prompt_report(gather_prompt(engine, *p, pc)));
    }
    return c.ok(json::object{{"object", "list"}, {"data", list}});
  }
  auto slash = rest.find('/');
  std::string_view name = rest.substr(0, slash);
  std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const prompt_config* pc = nullptr;
  for (const auto& x : p->cfg->prompts) {
    pc = x.name == name ? &x : pc;
  }
  if (!pc) {
    return c.fail(errc::not_found, "No prompt named `" + std::string(name) + "`.");
  }
  auto in = gather_prompt(engine, *p, *pc);
  if (sub.empty()) {
    return c.ok(prompt_report(in));
  }
  if (sub.starts_with("versions/")) {
    auto version = sub.substr(9);
    auto r = prompt_version_report(in, version);
    if (r.empty()) {
      return c.fail(errc::not_found, "Prompt " + std::string(name) + " has no version `" +
                                         std::string(version) + "`.");
    }
    return c.ok(r);
  }
  if (sub == "compare") {
    std::string a(query_param(query, "a")), b(query_param(query, "b"));
    auto known = [&](const std::string& v) { return in.hashes.contains(v); };
    if (!known(a) || !known(b)) {
      return c.fail(errc::invalid_request, "compare needs ?a=<version>&b=<version> of this prompt",
                    known(a) ? "b" : "a");
    }
    return c.ok(prompt_compare(in, a, b));
  }
  return c.fail(errc::not_found, "Unknown prompt route: " + std::string(sub));
}

}  // namespace

std::optional<string_response> handle_api(worker& w, const http::request<http::string_body>& req,
                                          std::string_view path, bool keep,
                                          const std::string& request_id) {
  call c{w, req, keep, request_id};
  std::string_view target = req.target();
  auto q = target.find('?');
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  const bool get = req.method() == http::verb::get;
  if (path == "/metrics") {
    if (!get && req.method() != http::verb::head) {
      return c.not_allowed(path);
    }
    const bool om = metrics::wants_openmetrics(req[http::field::accept]);
    string_response res{http::status::ok, req.version()};
    res.set(http::field::content_type, metrics::content_type(om));
    res.set("x-request-id", request_id);
    res.body() = w.shared.metrics->registry.render(om);
    res.keep_alive(keep);
    res.prepare_payload();
    return res;
  }
  if (path == "/v1/models") {
    return get ? models(c, *w.shared.experiments->current()) : c.not_allowed(path);
  }
  if (path == "/v1/feedback") {
    return req.method() == http::verb::post ? feedback(c) : c.not_allowed(path);
  }
  if (path == "/api/v1/reload") {
    if (req.method() != http::verb::post) {
      return c.not_allowed(path);
    }
    if (auto denied = check_admin(c, *w.shared.experiments->current()->cfg)) {
      return denied;
    }
    auto r = w.shared.reload ? w.shared.reload()
                             : result<void>(make_error(errc::internal, "reload is not wired"));
    if (!r) {
      return c.fail(errc::conflict,
                    "Reload rejected; the running configuration is kept: " + r.error().message);
    }
    return c.ok(json::object{{"status", "reloaded"},
                             {"generation", w.shared.experiments->current()->generation}});
  }
  const bool analysis = path == "/api/v1/experiments" || path.starts_with("/api/v1/experiments/") ||
                        path == "/api/v1/prompts" || path.starts_with("/api/v1/prompts/");
  if (analysis && get) {
    if (auto denied = check_reader(c, *w.shared.experiments->current()->cfg)) {
      return denied;
    }
  }
  if (path == "/api/v1/experiments" || path.starts_with("/api/v1/experiments/")) {
    return experiments(c, path.substr(std::min(path.size(), std::size_t{20})), query);
  }
  if (path == "/api/v1/prompts" || path.starts_with("/api/v1/prompts/")) {
    return prompts(c, path.substr(std::min(path.size(), std::size_t{16})), query);
  }
  return std::nullopt;
}

}  // namespace switchyard
