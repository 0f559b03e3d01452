#include "switchyard/http/analysis_api.hpp"

#include "switchyard/compat/modelab_api.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/analysis_gather.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/jobs/eval_service.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace switchyard {

namespace {

namespace json = boost::json;

// The analysis input of `e` (experiments/analysis_gather.hpp), or the store's failure: a store
// that cannot be read (Redis down) is a 503, never a report of zeros.
result<analysis_input> gather(experiment_engine& engine, const experiment_plan& e, bool per_hour,
                              std::int64_t phase = 0) {
  analysis_input in = gather_analysis(engine, e, per_hour, phase);
  if (in.store_error) {
    return *in.store_error;
  }
  return in;
}

// The experiment named by the route's `{name}`, in the snapshot `p`.
result<const experiment_plan*> find_experiment(const local_call& c, const plan& p) {
  const std::string name = c.route.param("name");
  if (const experiment_plan* e = p.find(name)) {
    return e;
  }
  return make_error(errc::not_found, "No experiment named `" + name + "`.");
}

std::optional<std::int64_t> parse_bucket(std::string_view text) {
  auto d = parse_duration(text);
  if (!d || d->count() % 3'600'000 != 0 || d->count() == 0) {
    return std::nullopt;
  }
  return d->count() / 1000;
}

// The control a POST body asks for, applied to `ctl`; an error names the offending member.
result<void> read_control(const json::object* o, const experiment_plan& e,
                          experiment_control& ctl) {
  const json::value* action = o ? o->if_contains("action") : nullptr;
  if (!action || !action->is_string()) {
    return make_error(errc::invalid_request,
                      R"(Send {"action": "pause" | "resume" | "conclude" | "set_weights", ...}.)",
                      "action");
  }
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
      return make_error(errc::invalid_request, "conclude needs winner: one of the variants",
                        "winner");
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
      return make_error(errc::invalid_request,
                        "set_weights needs weights: one number >= 0 per variant, in config order, "
                        "not all 0",
                        "weights");
    }
    ctl.weights = std::move(weights);
  } else {
    return make_error(errc::invalid_request,
                      "action must be pause, resume, conclude or set_weights", "action");
  }
  return {};
}

prompt_input gather_prompt(experiment_engine& engine, const plan& p, const prompt_config& pc) {
  prompt_input in = prompt_versions(p, pc);
  if (auto rows = engine.store().read_prompt_stats(pc.name)) {
    in.rows = std::move(*rows);
  }
  if (auto fb = engine.store().read_prompt_feedback(pc.name)) {
    in.feedback = std::move(*fb);
  }
  return in;
}

// The prompt named by the route's `{name}` in the snapshot `p` (which the caller keeps alive:
// the result points into it), gathered with its statistics.
result<prompt_input> named_prompt(const local_call& c, const plan& p) {
  auto& engine = *c.w.shared.experiments;
  (void)engine.flush();
  const std::string name = c.route.param("name");
  for (const auto& pc : p.cfg->prompts) {
    if (pc.name == name) {
      return gather_prompt(engine, p, pc);
    }
  }
  return make_error(errc::not_found, "No prompt named `" + name + "`.");
}

}  // namespace

result<string_response> list_experiments(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();
  json::array list;
  for (const auto& e : p->experiments) {
    auto in = gather(engine, e, false);
    if (!in) {
      return in.error();
    }
    list.push_back(experiment_summary(*in));
  }
  // Flags ingested through modelab's API, as client-side experiments (source "modelab").
  auto client_side = modelab_experiments(c.w.shared.modelab, *p->cfg);
  if (!client_side) {
    return client_side.error();
  }
  list.insert(list.end(), client_side->begin(), client_side->end());
  return json_answer(c, json::object{{"object", "list"}, {"data", list}});
}

result<string_response> get_experiment(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();
  auto e = find_experiment(c, *p);
  if (!e) {
    return e.error();
  }
  std::int64_t phase = 0;
  if (auto text = c.route.query("phase").value_or(""); !text.empty()) {
    const std::int64_t last = (*e)->phase;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), phase);
    if (ec != std::errc{} || ptr != text.data() + text.size() || phase < 1 || phase > last) {
      return make_error(errc::invalid_request,
                        "phase must be a phase number from 1 to " + std::to_string(last), "phase");
    }
  }
  auto in = gather(engine, **e, false, phase);
  if (!in) {
    return in.error();
  }
  auto report = experiment_report(*in);
  if (c.w.shared.evals) {  // the latest offline evaluations next to the live results
    auto evals = c.w.shared.evals->list((*e)->cfg->name, 5);
    report["evaluations"] = evals ? std::move(*evals) : json::value(json::array{});
  }
  return json_answer(c, report);
}

result<string_response> control_experiment(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();
  auto e = find_experiment(c, *p);
  if (!e) {
    return e.error();
  }
  json::error_code ec;
  auto v = json::parse(c.req.body(), ec);
  const json::object* body = !ec && v.is_object() ? &v.as_object() : nullptr;
  // Checked on a scratch control first (a bad request is a 400, nothing stored); then applied
  // to the stored control as an edit of only the fields the action changes, so that another
  // replica's concurrent edit of other fields is kept (see experiment_store::update_control).
  experiment_control scratch;
  if (auto r = read_control(body, **e, scratch); !r) {
    return r.error();
  }
  const std::int64_t now_unix = unix_seconds();
  auto saved = engine.update_control((*e)->cfg->name, [&](experiment_control& ctl) {
    ctl.updated_unix = now_unix;
    (void)read_control(body, **e, ctl);  // cannot fail: checked above
  });
  if (!saved) {
    return saved.error();
  }
  const std::string name = (*e)->cfg->name;
  const std::string_view action =
      v.as_object().at("action").as_string();  // read_control checked it
  spdlog::info("experiment {}: {} by the admin API", name, action);
  auto now = engine.current();
  auto in = gather(engine, *now->find(name), false);
  if (!in) {
    return in.error();
  }
  return json_answer(c, experiment_summary(*in));
}

result<string_response> experiment_timeline_route(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();
  auto e = find_experiment(c, *p);
  if (!e) {
    return e.error();
  }
  std::int64_t bucket = 3600;
  if (auto text = c.route.query("bucket").value_or(""); !text.empty()) {
    auto b = parse_bucket(text);
    if (!b) {
      return make_error(errc::invalid_request, "bucket must be whole hours, like 1h or 24h",
                        "bucket");
    }
    bucket = *b;
  }
  auto in = gather(engine, **e, true);
  if (!in) {
    return in.error();
  }
  return json_answer(c, experiment_timeline(*in, bucket));
}

result<string_response> list_prompts(const local_call& c) {
  auto& engine = *c.w.shared.experiments;
  auto p = engine.current();
  (void)engine.flush();
  json::array list;
  for (const auto& pc : p->cfg->prompts) {
    list.push_back(prompt_report(gather_prompt(engine, *p, pc)));
  }
  return json_answer(c, json::object{{"object", "list"}, {"data", list}});
}

result<string_response> get_prompt(const local_call& c) {
  auto p = c.w.shared.snapshot->current();
  auto in = named_prompt(c, *p);
  if (!in) {
    return in.error();
  }
  return json_answer(c, prompt_report(*in));
}

result<string_response> get_prompt_version(const local_call& c) {
  auto p = c.w.shared.snapshot->current();
  auto in = named_prompt(c, *p);
  if (!in) {
    return in.error();
  }
  const std::string version = c.route.param("version");
  auto r = prompt_version_report(*in, version);
  if (r.empty()) {
    return make_error(errc::not_found,
                      "Prompt " + in->cfg->name + " has no version `" + version + "`.");
  }
  return json_answer(c, r);
}

result<string_response> compare_prompt_versions(const local_call& c) {
  auto p = c.w.shared.snapshot->current();
  auto in = named_prompt(c, *p);
  if (!in) {
    return in.error();
  }
  const std::string a = c.route.query("a").value_or("");
  const std::string b = c.route.query("b").value_or("");
  auto known = [&](const std::string& v) { return in->hashes.contains(v); };
  if (!known(a) || !known(b)) {
    return make_error(errc::invalid_request,
                      "compare needs ?a=<version>&b=<version> of this prompt",
                      known(a) ? "b" : "a");
  }
  return json_answer(c, prompt_compare(*in, a, b));
}

prompt_input prompt_versions(const plan& p, const prompt_config& pc) {
  prompt_input in;
  in.cfg = &pc;
  for (const auto& v : pc.versions) {
    if (const auto* pp = p.find_prompt(pc.name + "@" + v.version)) {
      in.hashes[v.version] = pp->hash;
      in.variables[v.version] = pp->tmpl.variables();
    }
  }
  return in;
}

}  // namespace switchyard
