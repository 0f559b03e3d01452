#include "switchyard/experiments/analysis.hpp"

#include "analysis_detail.hpp"

#include "switchyard/experiments/sequential.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

namespace switchyard {

std::string analysis_detail::iso_utc(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds tp{seconds{unix_seconds}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

namespace {

using namespace analysis_detail;

// The config's primary_metric (validated at load) to the metric compared.
metric primary_of(const std::string& name) {
  for (const metric_def& def : metrics) {
    if (*def.config_name != '\0' && name == def.config_name) {
      return def.id;
    }
  }
  return metric::success_rate;
}

bool is_rate(metric m) {
  return def_of(m).values == nullptr;
}

double value_of(metric m, const totals& t) {
  if (per_unit(m, t)) {
    return unit_moments_of(m, t).ratio();  // ΣM/ΣD: the same rate or mean, over units
  }
  const double n = sample_n(m, t);
  if (m == metric::error_rate) {
    return n > 0 ? as_double(t.errors) / n : 0;
  }
  return m == metric::success_rate ? (n > 0 ? t.success / n : 0) : moments_of(m, t).mean();
}

void add_stats(json::object& o, const totals& t) {
  o["errors"] = t.errors;
  o["error_rate"] = ratio(as_double(t.errors), as_double(t.requests));
  o["latency_ms"] = spread_json(t.latency_ms, t.latency);
  o["ttft_ms"] = spread_json(t.ttft_ms, t.ttft);
  o["input_tokens"] = {{"mean", mean_of(t.input_tokens)}, {"total", whole(t.input_tokens.sum)}};
  o["output_tokens"] = {{"mean", mean_of(t.output_tokens)}, {"total", whole(t.output_tokens.sum)}};
  o["cost_usd"] = {{"total", num(t.cost_usd.sum)}, {"mean_per_request", mean_of(t.cost_usd)}};
  o["feedback"] = feedback_json(t);
}

// ---- experiments ----

totals* arm_of(const analysis_input& in, experiment_data& d, const std::string& name) {
  const auto& vars = in.cfg->variants;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (vars[i].name == name) {
      return &d.arms[i];
    }
  }
  return nullptr;
}

// Holm adjusts over the variants whose test could be run: an impossible test is not a test.
// Sequentially, each comparison is made always-valid first (n = both arms' samples on that
// metric), so Holm adjusts always-valid p-values.
void compare_all(const analysis_config& a, experiment_data& d) {
  for (const metric_def& def : metrics) {
    auto& vs = d.vs[static_cast<std::size_t>(def.id)];
    vs.assign(d.arms.size(), stats::comparison{});
    std::vector<double> raw;
    for (std::size_t i = 1; i < d.arms.size(); ++i) {
      vs[i] = compare(def.id, d.arms[0], d.arms[i], a.alpha);
      if (d.sequential) {
        const double n = sample_n(def.id, d.arms[0]) + sample_n(def.id, d.arms[i]);
        vs[i] = stats::always_valid(vs[i], n, a.alpha, d.tuning_n);
      }
      if (vs[i].valid) {
        raw.push_back(vs[i].p_value);
      }
    }
    const std::vector<double> adjusted = stats::holm(raw);
    std::size_t next = 0;
    for (std::size_t i = 1; i < d.arms.size(); ++i) {
      if (vs[i].valid) {
        vs[i].p_adjusted = adjusted[next++];
      }
    }
  }
}

void check_srm(const analysis_input& in, experiment_data& d) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < d.arms.size(); ++i) {
    total += d.units[i];
    d.srm_observed.push_back(as_double(d.units[i]));
  }
  if (total == 0) {  // units not recorded (e.g. unit: request): requests are the next best count
    d.srm_basis = "requests";
    for (std::size_t i = 0; i < d.arms.size(); ++i) {
      d.srm_observed[i] = as_double(d.arms[i].requests);
    }
  }
  d.srm = stats::sample_ratio_mismatch(d.srm_observed, in.weights);
}

// The n per variant to detect a relative change of minimum_detectable_effect from control.
void size_sample(const analysis_config& a, experiment_data& d) {
  if (d.arms.empty()) {
    return;
  }
  d.have_min = sample_n(d.primary, d.arms[0]);
  for (const totals& t : d.arms) {
    d.have_min = std::min(d.have_min, sample_n(d.primary, t));
  }
  const totals& ctl = d.arms[0];
  if (sample_n(d.primary, ctl) == 0) {
    return;
  }
  const double base = value_of(d.primary, ctl);
  d.baseline = base;
  double needed = 0;
  if (per_unit(d.primary, ctl)) {
    // Units needed for a ratio metric: the means formula with its per-unit (delta) variance.
    const ratio_moments& r = unit_moments_of(d.primary, ctl);
    needed = stats::sample_size_means(
        std::sqrt(r.variance()), a.minimum_detectable_effect * std::abs(base), a.alpha, a.power);
  } else if (is_rate(d.primary)) {
    const double target = std::min(1.0, base * (1 + a.minimum_detectable_effect));
    needed = stats::sample_size_proportions(base, target, a.alpha, a.power);
  } else if (moments_of(d.primary, ctl).n >= 2) {
    const double sigma = std::sqrt(moments_of(d.primary, ctl).variance());
    needed = stats::sample_size_means(sigma, a.minimum_detectable_effect * std::abs(base), a.alpha,
                                      a.power);
  }
  if (needed > 0) {
    d.needed = needed;
  }
}

// The planned sample per variant (configured, else estimated) and the sequential tuning: the
// planned total of a pair (GrowthBook's default when nothing is known yet).
void plan_sample(const analysis_config& a, experiment_data& d) {
  d.sequential = a.method != "fixed_horizon";
  if (a.planned_sample > 0) {
    d.planned = as_double(a.planned_sample);
  } else if (d.needed) {
    d.planned = d.needed;
  }
  d.tuning_n = d.planned ? 2 * *d.planned : stats::default_tuning_n;
}

// `sketches` = false skips parsing the latency sketches, for callers that show no percentiles.
experiment_data gather(const analysis_input& in, bool sketches) {
  const experiment_config& cfg = *in.cfg;
  experiment_data d;
  d.arms.resize(cfg.variants.size());
  for (const variant_hour_stats& r : in.rows) {
    if (totals* t = arm_of(in, d, r.variant)) {
      t->add(r, sketches);
    }
  }
  for (const feedback_summary& f : in.feedback) {
    if (totals* t = arm_of(in, d, f.variant)) {
      t->add(f);
    }
  }
  for (const variant_config& v : cfg.variants) {
    const auto it = in.units.find(v.name);
    d.units.push_back(it == in.units.end() ? 0 : it->second);
  }
  d.by_unit = in.per_unit && cfg.unit_type != unit_kind::request && !in.per_unit->units.empty();
  for (std::size_t i = 0; d.by_unit && i < cfg.variants.size(); ++i) {
    totals& t = d.arms[i];
    t.by_unit = true;
    if (const auto it = in.per_unit->variants.find(cfg.variants[i].name);
        it != in.per_unit->variants.end()) {
      t.per_unit = it->second;
      t.unit_n = it->second.errors.units;
    }
  }
  d.primary = primary_of(cfg.analysis.primary_metric);
  size_sample(cfg.analysis, d);
  plan_sample(cfg.analysis, d);
  compare_all(cfg.analysis, d);
  check_srm(in, d);
  return d;
}

json::object verdict_json(const analysis_input& in, const experiment_data& d) {
  const verdict v = judge(in, d);
  json::object o{{"state", v.state}, {"metric", in.cfg->analysis.primary_metric}};
  if (!v.variant.empty()) {
    o["variant"] = v.variant;
  }
  o["summary"] = v.summary;
  return o;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

json::object summary_json(const analysis_input& in, const experiment_data& d, bool full) {
  const experiment_config& cfg = *in.cfg;
  json::array variants;
  for (std::size_t i = 0; i < cfg.variants.size(); ++i) {
    const variant_config& v = cfg.variants[i];
    json::object o{{"name", v.name},
                   {"weight", i < in.weights.size() ? num(in.weights[i]) : nullptr},
                   {"prompt", text_or_null(v.prompt)},
                   {"model", text_or_null(v.model)},
                   {"units", d.units[i]},
                   {"requests", d.arms[i].requests},
                   {"paused", contains(in.paused_variants, v.name)}};
    if (full) {
      add_stats(o, d.arms[i]);
    }
    if (full && i > 0) {
      json::object vs;
      for (const metric_def& def : metrics) {
        vs[def.key] = comparison_json(def.id, d.vs[static_cast<std::size_t>(def.id)][i], d.arms[0],
                                      d.arms[i], cfg.analysis.alpha);
      }
      o["vs_control"] = std::move(vs);
    }
    variants.push_back(std::move(o));
  }
  return {{"name", cfg.name},
          {"status", in.status.empty() ? cfg.status : in.status},
          {"match",
           {{"model", text_or_null(cfg.match_model)},
            {"endpoint", text_or_null(cfg.match_endpoint)},
            {"header", text_or_null(cfg.match_header)},
            {"header_value", text_or_null(cfg.match_header_value)}}},
          {"unit", cfg.unit},
          {"variants", std::move(variants)},
          {"verdict", verdict_json(in, d)}};
}

json::object srm_json(const analysis_input& in, const experiment_data& d) {
  json::array observed, expected;
  for (double o : d.srm_observed) {
    observed.push_back(whole(o));
  }
  for (double w : in.weights) {
    expected.push_back(num(w));
  }
  return {{"basis", d.srm_basis},
          {"observed", std::move(observed)},
          {"expected_share", std::move(expected)},
          {"chi2", num(d.srm.chi2)},
          {"df", num(d.srm.df)},
          {"p_value", num(d.srm.p_value)},
          {"mismatch", d.srm.mismatch}};
}

json::object sample_size_json(const analysis_config& a, const experiment_data& d) {
  return {{"metric", a.primary_metric},
          {"baseline", d.baseline ? num(*d.baseline) : nullptr},
          {"minimum_detectable_effect", num(a.minimum_detectable_effect)},
          {"needed_per_variant", d.needed ? whole(*d.needed) : nullptr},
          {"have_min", whole(d.have_min)},
          {"planned_per_variant", d.planned ? whole(*d.planned) : nullptr},
          {"remaining", d.planned ? whole(std::max(0.0, *d.planned - d.have_min)) : nullptr}};
}

// How to read the numbers: the method, its tuning, and whether a verdict may be taken now.
json::object method_json(const analysis_config& a, const experiment_data& d) {
  const bool reached = d.planned && d.have_min >= *d.planned;
  json::object o{{"method", d.sequential ? "sequential" : "fixed_horizon"},
                 {"alpha", num(a.alpha)},
                 {"planned_per_variant", d.planned ? whole(*d.planned) : nullptr},
                 {"planned_source", a.planned_sample > 0 ? "config"
                                    : d.planned          ? "estimate"
                                                         : "none"},
                 {"planned_reached", reached},
                 {"decision_ready", d.sequential || reached}};
  if (d.sequential) {
    o["tuning_n"] = num(d.tuning_n);
    o["note"] =
        "Always-valid intervals and p-values: safe to look at any time; a verdict of better or "
        "worse holds whenever it appears.";
  } else {
    o["note"] = reached ? "Fixed-horizon test at the planned sample: read the verdict once; "
                          "looking again as data grows is peeking."
                        : "Fixed-horizon test before the planned sample: the p-values are not a "
                          "decision.";
  }
  return o;
}

json::object phase_record_json(const phase_record& p) {
  json::array variants, weights;
  for (const std::string& v : p.variants) {
    variants.push_back(json::value(v));
  }
  for (double w : p.weights) {
    weights.push_back(num(w));
  }
  return {{"phase", p.phase},   {"start_unix", p.start_unix},      {"start", iso_utc(p.start_unix)},
          {"reason", p.reason}, {"variants", std::move(variants)}, {"weights", std::move(weights)}};
}

// The analysed phase, and the units left out because they saw more than one variant.
json::object phase_json(const analysis_input& in) {
  json::object o;
  o["phase"] = in.phase > 0 ? json::value(in.phase) : nullptr;
  o["current"] = in.phases.empty() || in.phases.back().phase == in.phase;
  for (const phase_record& p : in.phases) {
    if (p.phase == in.phase) {
      o["start"] = iso_utc(p.start_unix);
      o["reason"] = p.reason;
    }
  }
  double single = 0;
  const double mixed = in.per_unit ? as_double(in.per_unit->mixed) : 0;
  if (in.per_unit) {
    for (const auto& [name, n] : in.per_unit->units) {
      single += as_double(n);
    }
  }
  o["units_multiple_variants"] = whole(mixed);
  o["units_multiple_variants_share"] = ratio(mixed, single + mixed);
  return o;
}

json::array guardrails_json(const std::vector<guardrail_event>& events) {
  json::array out;
  for (const guardrail_event& e : events) {
    out.push_back(json::object{{"variant", e.variant},
                               {"reason", e.reason},
                               {"detail", e.detail},
                               {"unix_seconds", e.unix_seconds},
                               {"time", iso_utc(e.unix_seconds)}});
  }
  return out;
}

}  // namespace

boost::json::object experiment_summary(const analysis_input& in) {
  if (in.cfg == nullptr) {
    return {};
  }
  return summary_json(in, gather(in, false), false);
}

boost::json::object experiment_report(const analysis_input& in) {
  if (in.cfg == nullptr) {
    return {};
  }
  const experiment_data d = gather(in, true);
  json::object o = summary_json(in, d, true);
  o["srm"] = srm_json(in, d);
  o["sample_size"] = sample_size_json(in.cfg->analysis, d);
  o["analysis"] = method_json(in.cfg->analysis, d);
  o["analysis"].as_object()["unit_of_analysis"] = d.by_unit ? "unit" : "request";
  o["phase"] = phase_json(in);
  json::array phases;
  for (const phase_record& p : in.phases) {
    phases.push_back(phase_record_json(p));
  }
  o["phases"] = std::move(phases);
  o["guardrails"] = guardrails_json(in.guardrails);
  json::array paused;
  for (const std::string& v : in.paused_variants) {
    paused.push_back(json::value(v));
  }
  o["paused_variants"] = std::move(paused);
  o["winner"] = text_or_null(in.winner);
  return o;
}

}  // namespace switchyard
