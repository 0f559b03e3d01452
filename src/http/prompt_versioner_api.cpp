#include "switchyard/http/prompt_versioner_api.hpp"

#include "switchyard/alerts/alert_json.hpp"
#include "switchyard/alerts/engine.hpp"
#include "switchyard/compat/prompt_versioner_stats.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/prompt_registry.hpp"
#include "switchyard/experiments/prompt_template.hpp"
#include "switchyard/http/analysis_api.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/http/api_auth.hpp"
#include "switchyard/runtime/worker.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <charconv>
#include <ctime>

namespace switchyard {

namespace {

namespace json = boost::json;

string_response answer(const local_call& c, const json::value& v,
                       http::status s = http::status::ok) {
  return json_answer(c, v, s);
}

// prompt_versioner's error shape with the status the gateway gives the error's kind (404
// unknown, 409 conflict, 400 bad input, 503 store down; 500 only for internal errors).
string_response refuse(const local_call& c, const error& e, bool with_success = false) {
  c.rec.error = describe(e.code).error_type;
  if (e.code == errc::internal) {
    spdlog::error("prompt_versioner API: {}", e.message);
  }
  json::object o{{"error", e.message}};
  if (with_success) {
    o = json::object{{"success", false}, {"error", e.message}};
  }
  return answer(c, o, describe(e.code).status);
}

const prompt_versioner_compat_config& settings(const plan& p) {
  return p.cfg->compat.prompt_versioner;
}

// Enabled, and the caller may: reads as the read API (api_token when set), writes with the admin
// token unless require_admin_token is off.
std::optional<error> gate(const local_call& c, const plan& p, bool write) {
  if (!settings(p).enabled) {
    return make_error(errc::not_found,
                      "Not found (prompt_versioner's API is off: compat.prompt_versioner.enabled)");
  }
  const auto auth = c.req[http::field::authorization];
  if (write) {
    return settings(p).require_admin_token ? admin_denied(auth, *p.cfg) : std::nullopt;
  }
  return reader_denied(auth, *p.cfg);
}

std::string iso(std::int64_t t) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const prompt_config* find_prompt(const plan& p, std::string_view name) {
  for (const auto& pc : p.cfg->prompts) {
    if (pc.name == name) {
      return &pc;
    }
  }
  return nullptr;
}

// The store's rows of one prompt; a store that cannot be read is an error (503), never zeros.
struct prompt_data {
  std::vector<variant_hour_stats> rows;
  std::vector<feedback_summary> feedback;
};

result<prompt_data> read_prompt(experiment_engine& engine, std::string_view name) {
  auto rows = engine.store().read_prompt_stats(name);
  if (!rows) {
    return rows.error();
  }
  auto fb = engine.store().read_prompt_feedback(name);
  if (!fb) {
    return fb.error();
  }
  return prompt_data{std::move(*rows), std::move(*fb)};
}

json::value num_or_zero(std::optional<double> v) {
  return v ? *v : 0.0;
}
json::value num_or_null(std::optional<double> v) {
  return v ? json::value(*v) : json::value(nullptr);
}

std::int64_t version_time(const prompt_version_config& v, const pv_totals& t) {
  return v.created_unix > 0 ? v.created_unix : t.first_hour;
}

json::object version_json(const plan& p, const prompt_config& pc, const prompt_version_config& v,
                          const pv_totals& t) {
  const auto& s = settings(p);
  const prompt_version_spec spec = spec_of(pc, v);
  json::array vars;
  for (const auto& x : spec.variables) {
    vars.emplace_back(x);
  }
  json::object defaults;
  for (const auto& [k, d] : spec.defaults) {
    defaults[k] = d;
  }
  const std::int64_t ts = version_time(v, t);
  return {{"name", pc.name},
          {"version", v.version},
          {"timestamp", ts > 0 ? json::value(iso(ts)) : nullptr},
          {"hash", version_hash(spec)},
          // The gateway's prompt is the system message it adds (or puts in place of the
          // client's), prompt_versioner's `system_prompt`; the user's text is the request's.
          {"system_prompt", v.text},
          {"template", v.text},
          {"variables", std::move(vars)},
          {"defaults", std::move(defaults)},
          {"mode", spec.mode},
          {"origin", pc.in_registry ? "registry" : "config"},
          {"call_count", t.calls},
          {"avg_quality", num_or_null(pv_quality(t, s.score_min, s.score_max))},
          {"avg_cost", num_or_null(pv_cost(t))},
          {"avg_latency", num_or_null(pv_latency_ms(t))}};
}

result<std::pair<const prompt_config*, prompt_data>> named(const local_call& c, const plan& p) {
  const std::string name = c.route.param("name");
  const prompt_config* pc = find_prompt(p, name);
  if (pc == nullptr) {
    return make_error(errc::not_found, "Prompt '" + name + "' not found");
  }
  auto data = read_prompt(*c.w.shared.experiments, name);
  if (!data) {
    return data.error();
  }
  return std::pair{pc, std::move(*data)};
}

// The read endpoints of one prompt: the gate, the statistics flushed (what was just served
// counts), the prompt by its name in the route and its rows; then `f(plan, prompt, data)`.
template <class F>
result<string_response> with_prompt(const local_call& c, F&& f) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, false)) {
    return refuse(c, *e);
  }
  (void)c.w.shared.experiments->flush();
  auto n = named(c, *p);
  if (!n) {
    return refuse(c, n.error());
  }
  return f(*p, *n->first, n->second);
}

// The alert endpoints: the gate (a write for an acknowledgement), the engine running; then
// `f(plan, engine)`.
template <class F>
result<string_response> with_alerts(const local_call& c, bool write, F&& f) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, write)) {
    return refuse(c, *e);
  }
  if (c.w.shared.alerts == nullptr) {
    return refuse(c, make_error(errc::internal, "The alert engine is not running."));
  }
  return f(*p, *c.w.shared.alerts);
}

}  // namespace

result<string_response> pv_global_stats(const local_call& c) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, false)) {
    return refuse(c, *e);
  }
  (void)c.w.shared.experiments->flush();  // answers include everything recorded so far
  pv_totals all;
  std::size_t versions = 0;
  for (const auto& pc : p->cfg->prompts) {
    versions += pc.versions.size();
    auto data = read_prompt(*c.w.shared.experiments, pc.name);
    if (!data) {
      return refuse(c, data.error());
    }
    for (const auto& [v, t] : pv_version_totals(pc.name, data->rows, data->feedback)) {
      all += t;
    }
  }
  const auto& s = settings(*p);
  // Numbers, never null: its monitoring loops compare and format them (0 = no data yet).
  return answer(
      c, json::object{{"total_prompts", p->cfg->prompts.size()},
                      {"total_versions", versions},
                      {"total_calls", all.calls},
                      {"avg_quality", num_or_zero(pv_quality(all, s.score_min, s.score_max))},
                      {"avg_cost", num_or_zero(pv_cost(all))},
                      {"avg_latency", num_or_zero(pv_latency_ms(all))}});
}

result<string_response> pv_prompt_stats(const local_call& c) {
  return with_prompt(
      c,
      [&](const plan& p, const prompt_config& pc,
          const prompt_data& data) -> result<string_response> {
        pv_totals all;
        for (const auto& [v, t] : pv_version_totals(pc.name, data.rows, data.feedback)) {
          all += t;
        }
        const auto& s = settings(p);
        return answer(
            c,
            json::object{
                {"name", pc.name},
                {"version_count", pc.versions.size()},
                {"total_calls", all.calls},
                {"latest_version", pc.versions.empty() ? json::value(nullptr)
                                                       : json::value(pc.versions.back().version)},
                {"metrics",
                 {{"avg_accuracy", num_or_zero(pv_quality(all, s.score_min, s.score_max))},
                  {"avg_cost", num_or_zero(pv_cost(all))},
                  {"avg_latency", num_or_zero(pv_latency_ms(all))}}}});
      });
}

result<string_response> pv_ab_tests(const local_call& c) {
  return with_prompt(
      c,
      [&](const plan& p, const prompt_config& pc,
          const prompt_data& data) -> result<string_response> {
        auto totals = pv_version_totals(pc.name, data.rows, data.feedback);
        std::vector<pv_ab_candidate> all;
        for (const auto& v : pc.versions) {
          const pv_totals& t = totals[v.version];
          all.push_back({v.version, version_time(v, t), t});
        }
        const auto& s = settings(p);
        json::array out;
        for (const auto& a : pv_ab_eligible(std::move(all), s.min_calls_for_ab_test,
                                            s.max_ab_test_versions, s.score_min, s.score_max)) {
          out.push_back(json::object{
              {"version", a.version},
              {"timestamp", a.timestamp > 0 ? json::value(iso(a.timestamp)) : nullptr},
              {"call_count", a.totals.calls},
              {"avg_quality", num_or_null(pv_quality(a.totals, s.score_min, s.score_max))},
              {"avg_cost", num_or_null(pv_cost(a.totals))},
              {"avg_latency", num_or_null(pv_latency_ms(a.totals))}});
        }
        return answer(c, out);
      });
}

result<string_response> pv_delete_prompt(const local_call& c) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, true)) {
    return refuse(c, *e, true);
  }
  if (c.w.shared.prompts == nullptr) {
    return refuse(c, make_error(errc::internal, "The prompt registry is not running."), true);
  }
  const std::string name = c.route.param("name");
  auto removed = c.w.shared.prompts->remove(name, "");
  if (!removed) {
    return refuse(c, removed.error(), true);
  }
  // The statistics stay: they belong to the experiments that made them (docs).
  return answer(c, json::object{{"success", true},
                                {"message", "Prompt '" + name + "' deleted (" +
                                                std::to_string(*removed) + " versions)"}});
}

result<string_response> pv_versions(const local_call& c) {
  return with_prompt(c,
                     [&](const plan& p, const prompt_config& pc,
                         const prompt_data& data) -> result<string_response> {
                       auto totals = pv_version_totals(pc.name, data.rows, data.feedback);
                       json::array out;
                       for (const auto& v : pc.versions) {
                         out.push_back(version_json(p, pc, v, totals[v.version]));
                       }
                       return answer(c, out);
                     });
}

result<string_response> pv_version(const local_call& c) {
  return with_prompt(c,
                     [&](const plan& p, const prompt_config& pc,
                         const prompt_data& data) -> result<string_response> {
                       const std::string version = c.route.param("version");
                       for (const auto& v : pc.versions) {
                         if (v.version == version) {
                           auto totals = pv_version_totals(pc.name, data.rows, data.feedback);
                           const pv_totals& t = totals[v.version];
                           json::object o = version_json(p, pc, v, t);
                           o["error_count"] = t.errors;
                           o["success_count"] = t.successes;
                           o["failure_count"] = t.failures;
                           o["score_mean"] = t.score.n > 0 ? json::value(t.score.mean()) : nullptr;
                           return answer(c, o);
                         }
                       }
                       return refuse(
                           c, make_error(errc::not_found, "Version '" + version + "' of prompt '" +
                                                              pc.name + "' not found"));
                     });
}

result<string_response> pv_compare(const local_call& c) {
  return with_prompt(
      c,
      [&](const plan& p, const prompt_config& pc,
          const prompt_data& data) -> result<string_response> {
        json::error_code ec;
        auto body = json::parse(c.req.body(), ec);
        const json::object* o = !ec ? body.if_object() : nullptr;
        const json::value* a = o ? o->if_contains("version_a") : nullptr;
        const json::value* b = o ? o->if_contains("version_b") : nullptr;
        if (!a || !a->is_string() || !b || !b->is_string()) {
          return refuse(c,
                        make_error(errc::invalid_request,
                                   R"(Send {"version_a": "<version>", "version_b": "<version>"})"));
        }
        prompt_input in = prompt_versions(p, pc);
        in.rows = data.rows;
        in.feedback = data.feedback;
        const auto* va = p.cfg->find_prompt(pc.name + "@" + std::string(a->as_string()));
        const auto* vb = p.cfg->find_prompt(pc.name + "@" + std::string(b->as_string()));
        if (va == nullptr || vb == nullptr) {
          return refuse(
              c, make_error(errc::not_found, "Version '" +
                                                 std::string(va ? b->as_string() : a->as_string()) +
                                                 "' of prompt '" + pc.name + "' not found"));
        }
        json::object cmp = prompt_compare(in, va->version, vb->version);
        auto totals = pv_version_totals(pc.name, data.rows, data.feedback);
        const auto& s = settings(p);
        const pv_totals& ta = totals[va->version];
        const pv_totals& tb = totals[vb->version];
        const auto delta = [](std::optional<double> x, std::optional<double> y) {
          return x && y ? json::value(*y - *x) : json::value(nullptr);
        };
        return answer(
            c,
            json::object{{"prompt", pc.name},
                         {"version_a", version_json(p, pc, *va, ta)},
                         {"version_b", version_json(p, pc, *vb, tb)},
                         // b minus a, in the fields' units (quality in [0, 1], ms, cost per call)
                         {"differences",
                          {{"avg_quality", delta(pv_quality(ta, s.score_min, s.score_max),
                                                 pv_quality(tb, s.score_min, s.score_max))},
                           {"avg_cost", delta(pv_cost(ta), pv_cost(tb))},
                           {"avg_latency", delta(pv_latency_ms(ta), pv_latency_ms(tb))}}},
                         {"diff", cmp["diff"]},
                         // Switchyard's intervals and tests for each metric (docs/analysis)
                         {"analysis", cmp["vs"]}});
      });
}

namespace {

json::object pv_alert_json(const alert& a) {
  json::object o = alert_json(a);
  const auto& pv = a.scope.prompt_version;
  const auto at = pv.find('@');
  o["alert_type"] = a.metric.empty() ? a.kind : a.metric;
  o["prompt_name"] = at == std::string::npos ? json::value(nullptr) : json::value(pv.substr(0, at));
  o["version"] = at == std::string::npos ? json::value(nullptr) : json::value(pv.substr(at + 1));
  o["timestamp"] = iso(a.started_at);
  o["acknowledged"] = a.acknowledged_at.has_value();
  return o;
}

}  // namespace

result<string_response> pv_alerts(const local_call& c) {
  return with_alerts(c, false, [&](const plan&, alert_engine& alerts) -> result<string_response> {
    json::array out;
    for (const alert& a : alerts.list("active", 1000).alerts) {
      out.push_back(pv_alert_json(a));
    }
    return answer(c, out);
  });
}

result<string_response> pv_acknowledge(const local_call& c) {
  return with_alerts(c, true, [&](const plan&, alert_engine& alerts) -> result<string_response> {
    const std::string text = c.route.param("id");
    std::int64_t id = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || ptr != text.data() + text.size() || id < 1) {
      return refuse(c, make_error(errc::not_found, "Alert '" + text + "' not found"));
    }
    auto a = alerts.acknowledge(id);
    if (!a) {
      return refuse(c, a.error());
    }
    return answer(c, json::object{{"success", true}, {"alert", pv_alert_json(*a)}});
  });
}

result<string_response> pv_alerts_config(const local_call& c) {
  return with_alerts(c, false, [&](const plan& p, alert_engine& alerts) -> result<string_response> {
    return answer(c, alerts_config_json(p.cfg->alerts, alerts.last_evaluation()));
  });
}

result<string_response> pv_export(const local_call& c) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, false)) {
    return refuse(c, *e);
  }
  return answer(c, export_document(*p->cfg, unix_seconds()));
}

result<string_response> pv_import(const local_call& c) {
  const auto p = c.w.shared.experiments->current();
  if (auto e = gate(c, *p, true)) {
    return refuse(c, *e, true);
  }
  if (c.w.shared.prompts == nullptr) {
    return refuse(c, make_error(errc::internal, "The prompt registry is not running."), true);
  }
  json::error_code ec;
  auto body = json::parse(c.req.body(), ec);
  if (ec) {
    return refuse(
        c, make_error(errc::invalid_request, "The body is not valid JSON: " + ec.message()), true);
  }
  auto plan = c.w.shared.prompts->import_document(body);
  if (!plan) {
    return refuse(c, plan.error(), true);
  }
  json::array imported;
  for (const auto& v : plan->to_write) {
    imported.emplace_back(v.name + "@" + v.version);
  }
  return answer(
      c, json::object{
             {"success", true}, {"imported", std::move(imported)}, {"unchanged", plan->unchanged}});
}

}  // namespace switchyard
