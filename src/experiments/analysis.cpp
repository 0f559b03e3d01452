#include "switchyard/experiments/analysis.hpp"

#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/prompt_template.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

namespace switchyard {
namespace {

namespace json = boost::json;

// Boost.JSON prints NaN and infinity as invalid JSON, so every double goes through here.
json::value num(double x) {
  return std::isfinite(x) ? json::value(x) : json::value(nullptr);
}

// Counts and sums of counts print as integers; anything else (or too large) as a double.
json::value whole(double x) {
  constexpr double exact = 9007199254740992.0;  // 2^53: every integer below is a double
  if (x >= 0 && x <= exact && x == std::floor(x)) {
    return static_cast<std::uint64_t>(x);
  }
  return num(x);
}

json::value ratio(double x, double n) {
  return n > 0 ? num(x / n) : json::value(nullptr);
}

json::value mean_of(const moments& m) {
  return m.n > 0 ? num(m.mean()) : json::value(nullptr);
}

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

double as_double(std::uint64_t x) {
  return static_cast<double>(x);
}

std::string format(const char* spec, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

std::string iso_utc(std::int64_t unix_seconds) {
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

// One variant's (or prompt version's) rows and feedback, summed.
struct totals {
  std::uint64_t requests = 0, errors = 0;
  moments latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd, score;
  latency_sketch latency, ttft;
  double success = 0, failure = 0;
  std::map<std::string, std::uint64_t> events;

  void add(const variant_hour_stats& r, bool with_sketches = true) {
    requests += r.requests;
    errors += r.errors;
    latency_ms += r.latency_ms;
    ttft_ms += r.ttft_ms;
    input_tokens += r.input_tokens;
    output_tokens += r.output_tokens;
    cost_usd += r.cost_usd;
    if (with_sketches) {
      merge_sketch(latency, r.latency_sketch);
      merge_sketch(ttft, r.ttft_sketch);
    }
  }
  void add(const feedback_summary& f) {
    events[f.event] += f.count;
    success += f.event == "success" ? as_double(f.count) : 0;
    failure += f.event == "failure" ? as_double(f.count) : 0;
    score += f.value;
  }
  // A sketch that does not parse only narrows the percentiles; the moments still count it.
  static void merge_sketch(latency_sketch& into, const std::string& bytes) {
    if (bytes.empty()) {
      return;
    }
    if (auto s = latency_sketch::deserialize(bytes)) {
      into.merge(*s);
    }
  }
};

enum class metric { error_rate, success_rate, latency_ms, ttft_ms, cost_usd, output_tokens, score };

struct metric_def {
  metric id;
  const char* key;          // in vs_control
  const char* config_name;  // as analysis.primary_metric names it ("" = cannot be primary)
  bool higher_is_better;
  moments totals::*values;  // null for the rates
};

constexpr std::array<metric_def, 7> metrics{{
    {metric::error_rate, "error_rate", "error_rate", false, nullptr},
    {metric::success_rate, "success_rate", "feedback_success", true, nullptr},
    {metric::latency_ms, "latency_ms", "latency", false, &totals::latency_ms},
    {metric::ttft_ms, "ttft_ms", "ttft", false, &totals::ttft_ms},
    {metric::cost_usd, "cost_usd", "cost", false, &totals::cost_usd},
    {metric::output_tokens, "output_tokens", "", false, &totals::output_tokens},
    {metric::score, "score", "score", true, &totals::score},
}};

const metric_def& def_of(metric m) {
  return metrics[static_cast<std::size_t>(m)];  // `metrics` is in enum order
}

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

const moments& moments_of(metric m, const totals& t) {
  return t.*def_of(m).values;  // only called for the means
}

// The samples behind a metric: requests, judged feedback events or recorded values.
double sample_n(metric m, const totals& t) {
  if (m == metric::error_rate) {
    return as_double(t.requests);
  }
  return m == metric::success_rate ? t.success + t.failure : moments_of(m, t).n;
}

double value_of(metric m, const totals& t) {
  const double n = sample_n(m, t);
  if (m == metric::error_rate) {
    return n > 0 ? as_double(t.errors) / n : 0;
  }
  return m == metric::success_rate ? (n > 0 ? t.success / n : 0) : moments_of(m, t).mean();
}

stats::comparison compare(metric m, const totals& c, const totals& t, double alpha) {
  if (m == metric::error_rate) {
    return stats::two_proportion(as_double(c.errors), as_double(c.requests), as_double(t.errors),
                                 as_double(t.requests), alpha);
  }
  if (m == metric::success_rate) {
    return stats::two_proportion(c.success, c.success + c.failure, t.success, t.success + t.failure,
                                 alpha);
  }
  return stats::welch(moments_of(m, c), moments_of(m, t), alpha);
}

json::array pair(double lo, double hi) {
  return json::array{num(lo), num(hi)};
}

// A side without data shows null; inference fields are null unless the test could be run.
json::object comparison_json(metric m, const stats::comparison& c, const totals& ctl,
                             const totals& trt, double alpha) {
  const bool has_c = sample_n(m, ctl) > 0;
  const bool has_t = sample_n(m, trt) > 0;
  const bool has_rel = has_c && has_t && c.control != 0;
  json::object o;
  o["control"] = has_c ? num(c.control) : nullptr;
  o["treatment"] = has_t ? num(c.treatment) : nullptr;
  o["diff"] = has_c && has_t ? num(c.treatment - c.control) : nullptr;
  o["diff_ci"] = c.valid ? json::value(pair(c.diff_lo, c.diff_hi)) : nullptr;
  o["rel"] = has_rel ? num((c.treatment - c.control) / c.control) : nullptr;
  o["rel_ci"] = c.valid && has_rel ? json::value(pair(c.rel_lo, c.rel_hi)) : nullptr;
  o["p_value"] = c.valid ? num(c.p_value) : nullptr;
  o["p_adjusted"] = c.valid ? num(c.p_adjusted) : nullptr;
  o["significant"] = c.valid && c.p_adjusted < alpha;
  return o;
}

json::object spread_json(const moments& m, const latency_sketch& s) {
  return {{"mean", mean_of(m)},
          {"p50", s.empty() ? json::value(nullptr) : num(s.quantile(0.5))},
          {"p95", s.empty() ? json::value(nullptr) : num(s.quantile(0.95))}};
}

json::object feedback_json(const totals& t) {
  json::object events;
  for (const auto& [event, count] : t.events) {
    events[event] = count;
  }
  return {
      {"events", std::move(events)},    {"success", whole(t.success)},
      {"failure", whole(t.failure)},    {"success_rate", ratio(t.success, t.success + t.failure)},
      {"score_mean", mean_of(t.score)}, {"score_n", whole(t.score.n)}};
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

// Everything the report derives from the input, computed once.
struct experiment_data {
  std::vector<totals> arms;  // in cfg->variants order; the first is control
  std::vector<std::uint64_t> units;
  // Per metric (in `metrics` order), per variant: the comparison with control (index 0 unused).
  std::array<std::vector<stats::comparison>, metrics.size()> vs;
  metric primary = metric::success_rate;
  std::string srm_basis = "units";
  std::vector<double> srm_observed;
  stats::srm_result srm;
  std::optional<double> baseline, needed;  // absent when control gives no estimate
  double have_min = 0;
};

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
void compare_all(const analysis_config& a, experiment_data& d) {
  for (const metric_def& def : metrics) {
    auto& vs = d.vs[static_cast<std::size_t>(def.id)];
    vs.assign(d.arms.size(), stats::comparison{});
    std::vector<double> raw;
    for (std::size_t i = 1; i < d.arms.size(); ++i) {
      vs[i] = compare(def.id, d.arms[0], d.arms[i], a.alpha);
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
  if (is_rate(d.primary)) {
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
  d.primary = primary_of(cfg.analysis.primary_metric);
  compare_all(cfg.analysis, d);
  check_srm(in, d);
  size_sample(cfg.analysis, d);
  return d;
}

struct verdict {
  std::string state, variant, summary;
};

std::string change_text(const analysis_config& a) {
  return "a " + format("%.3g", 100 * a.minimum_detectable_effect) + "% relative change";
}

verdict significant_verdict(const analysis_input& in, const experiment_data& d) {
  const auto& vs = d.vs[static_cast<std::size_t>(d.primary)];
  const metric_def& def = def_of(d.primary);
  std::optional<std::size_t> best, worst;
  auto gain = [&](std::size_t i) { return def.higher_is_better ? vs[i].diff : -vs[i].diff; };
  for (std::size_t i = 1; i < vs.size(); ++i) {
    if (!vs[i].valid || !(vs[i].p_adjusted < in.cfg->analysis.alpha) || vs[i].diff == 0) {
      continue;
    }
    if (gain(i) > 0 && (!best || gain(i) > gain(*best))) {
      best = i;
    }
    if (gain(i) < 0 && (!worst || gain(i) < gain(*worst))) {
      worst = i;
    }
  }
  if (!best && !worst) {
    return {};
  }
  const std::size_t i = best ? *best : *worst;
  const stats::comparison& c = vs[i];
  std::string text = "`" + in.cfg->variants[i].name + "` is " + (best ? "better" : "worse") +
                     " than `" + in.cfg->variants[0].name + "` on " +
                     in.cfg->analysis.primary_metric + ": " + format("%.4g", c.treatment) + " vs " +
                     format("%.4g", c.control);
  if (c.control != 0) {
    text += " (" + format("%+.3g", 100 * c.diff / c.control) + "% relative)";
  }
  text += ", Holm-adjusted p = " + format("%.2g", c.p_adjusted) + ".";
  return {best ? "variant_better" : "variant_worse", in.cfg->variants[i].name, text};
}

verdict judge(const analysis_input& in, const experiment_data& d) {
  const analysis_config& a = in.cfg->analysis;
  const std::string& name = a.primary_metric;
  if (d.arms.empty()) {
    return {"collecting", "", "The experiment has no variants."};
  }
  for (std::size_t i = 0; i < d.arms.size(); ++i) {
    const double n = sample_n(d.primary, d.arms[i]);
    if (n < as_double(a.min_samples)) {
      return {"collecting", "",
              "Collecting data: `" + in.cfg->variants[i].name + "` has " + format("%.0f", n) +
                  " of the " + std::to_string(a.min_samples) + " samples on " + name +
                  " needed before any verdict."};
    }
  }
  if (d.srm.mismatch) {
    const std::string test =
        "chi2 = " + format("%.4g", d.srm.chi2) + ", p = " + format("%.2g", d.srm.p_value);
    return {"sample_ratio_mismatch", "",
            "Sample ratio mismatch: the " + d.srm_basis + " per variant do not match the " +
                "configured weights (" + test + "), so the results are not trustworthy."};
  }
  if (verdict v = significant_verdict(in, d); !v.state.empty()) {
    return v;
  }
  if (d.needed && d.have_min >= *d.needed) {
    return {"no_detectable_difference", "",
            "No detectable difference on " + name + ": every variant has at least the " +
                format("%.0f", *d.needed) + " samples needed to detect " + change_text(a) + "."};
  }
  if (d.needed) {
    return {"collecting", "",
            "No significant difference on " + name + " yet: about " +
                format("%.0f", *d.needed - d.have_min) +
                " more samples per variant are needed to detect " + change_text(a) + "."};
  }
  return {"collecting", "",
          "No significant difference on " + name + " yet; the control's baseline does not " +
              "allow estimating the sample size needed."};
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
          {"remaining", d.needed ? whole(std::max(0.0, *d.needed - d.have_min)) : nullptr}};
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

// ---- timeline ----

// Buckets are whole hours (rows are hourly), at most a leap year so the arithmetic cannot overflow.
std::int64_t effective_bucket(std::int64_t seconds) {
  constexpr std::int64_t hour = 3600, most = 366 * 24 * hour;
  return (std::clamp(seconds, hour, most) + hour - 1) / hour * hour;
}

std::int64_t bucket_start(std::int64_t t, std::int64_t bucket) {
  const std::int64_t q = t / bucket - (t % bucket < 0 ? 1 : 0);  // floor, also before 1970
  return q * bucket;
}

json::object timeline_cell(const totals& t) {
  return {{"requests", t.requests},
          {"errors", t.errors},
          {"latency_ms_mean", mean_of(t.latency_ms)},
          {"ttft_ms_mean", mean_of(t.ttft_ms)},
          {"cost_usd", num(t.cost_usd.sum)},
          {"input_tokens", whole(t.input_tokens.sum)},
          {"output_tokens", whole(t.output_tokens.sum)},
          {"feedback_success", whole(t.success)},
          {"feedback_failure", whole(t.failure)}};
}

// ---- prompts ----

const prompt_version_config* find_version(const prompt_config& p, std::string_view version) {
  for (const prompt_version_config& v : p.versions) {
    if (v.version == version) {
      return &v;
    }
  }
  return nullptr;
}

totals version_totals(const prompt_input& in, std::string_view version) {
  const std::string ref = in.cfg->name + "@" + std::string(version);
  totals t;
  for (const variant_hour_stats& r : in.rows) {
    if (r.prompt_version == ref) {
      t.add(r);
    }
  }
  for (const feedback_summary& f : in.feedback) {
    if (f.prompt_version == ref) {
      t.add(f);
    }
  }
  return t;
}

// `v` is null for a version seen in the data but no longer configured.
json::object version_json(const prompt_input& in, const std::string& version,
                          const prompt_version_config* v, const totals& t) {
  const auto hash = in.hashes.find(version);
  json::array variables;
  if (const auto it = in.variables.find(version); it != in.variables.end()) {
    for (const std::string& name : it->second) {
      variables.push_back(json::value(name));
    }
  }
  const json::object feedback = feedback_json(t);
  return {{"version", version},
          {"hash", hash == in.hashes.end() ? json::value(nullptr) : json::value(hash->second)},
          {"mode", v ? json::value(v->replace_system ? "replace" : "prepend") : nullptr},
          {"variables", std::move(variables)},
          {"file", v ? text_or_null(v->file) : nullptr},
          {"calls", t.requests},
          {"errors", t.errors},
          {"error_rate", ratio(as_double(t.errors), as_double(t.requests))},
          {"latency_ms", spread_json(t.latency_ms, t.latency)},
          {"cost_usd", {{"total", num(t.cost_usd.sum)}, {"mean_per_call", mean_of(t.cost_usd)}}},
          {"input_tokens", whole(t.input_tokens.sum)},
          {"output_tokens", whole(t.output_tokens.sum)},
          {"feedback",
           {{"success_rate", feedback.at("success_rate")},
            {"score_mean", feedback.at("score_mean")},
            {"events", feedback.at("events")}}}};
}

// Versions in the data that are no longer configured, in name order.
std::set<std::string> unconfigured_versions(const prompt_input& in) {
  const std::string prefix = in.cfg->name + "@";
  std::set<std::string> out;
  const auto see = [&](const std::string& ref) {
    if (ref.starts_with(prefix) && !find_version(*in.cfg, ref.substr(prefix.size()))) {
      out.insert(ref.substr(prefix.size()));
    }
  };
  for (const variant_hour_stats& r : in.rows) {
    see(r.prompt_version);
  }
  for (const feedback_summary& f : in.feedback) {
    see(f.prompt_version);
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
  o["guardrails"] = guardrails_json(in.guardrails);
  json::array paused;
  for (const std::string& v : in.paused_variants) {
    paused.push_back(json::value(v));
  }
  o["paused_variants"] = std::move(paused);
  o["winner"] = text_or_null(in.winner);
  return o;
}

boost::json::object experiment_timeline(const analysis_input& in, std::int64_t bucket_seconds) {
  const std::int64_t bucket = effective_bucket(bucket_seconds);
  std::vector<std::string> names;  // configured variants first, then others as they appear
  std::set<std::string> seen;
  const auto name = [&](const std::string& v) {
    if (seen.insert(v).second) {
      names.push_back(v);
    }
  };
  if (in.cfg != nullptr) {
    for (const variant_config& v : in.cfg->variants) {
      name(v.name);
    }
  }
  std::map<std::int64_t, std::map<std::string, totals>> buckets;
  for (const variant_hour_stats& r : in.rows) {
    name(r.variant);
    buckets[bucket_start(r.hour, bucket)][r.variant].add(r, false);
  }
  for (const feedback_summary& f : in.feedback) {
    name(f.variant);
    buckets[bucket_start(f.hour, bucket)][f.variant].add(f);
  }
  json::array out;
  const totals none;
  for (const auto& [start, cells] : buckets) {
    json::object variants;
    for (const std::string& v : names) {
      const auto it = cells.find(v);
      variants[v] = timeline_cell(it == cells.end() ? none : it->second);
    }
    out.push_back(json::object{
        {"start", start}, {"start_iso", iso_utc(start)}, {"variants", std::move(variants)}});
  }
  return {{"bucket_seconds", bucket}, {"buckets", std::move(out)}};
}

boost::json::object prompt_report(const prompt_input& in) {
  if (in.cfg == nullptr) {
    return {};
  }
  json::array versions;
  for (const prompt_version_config& v : in.cfg->versions) {
    versions.push_back(version_json(in, v.version, &v, version_totals(in, v.version)));
  }
  for (const std::string& v : unconfigured_versions(in)) {
    versions.push_back(version_json(in, v, nullptr, version_totals(in, v)));
  }
  return {{"name", in.cfg->name}, {"versions", std::move(versions)}};
}

boost::json::object prompt_version_report(const prompt_input& in, std::string_view version) {
  const prompt_version_config* v = in.cfg ? find_version(*in.cfg, version) : nullptr;
  if (v == nullptr) {
    return {};
  }
  json::object o = version_json(in, v->version, v, version_totals(in, v->version));
  o["text"] = v->text;
  return o;
}

boost::json::object prompt_compare(const prompt_input& in, std::string_view a, std::string_view b) {
  const prompt_version_config* va = in.cfg ? find_version(*in.cfg, a) : nullptr;
  const prompt_version_config* vb = in.cfg ? find_version(*in.cfg, b) : nullptr;
  if (va == nullptr || vb == nullptr) {
    return {};
  }
  const totals ta = version_totals(in, a);
  const totals tb = version_totals(in, b);
  constexpr double alpha = 0.05;  // prompts carry no analysis config; the conventional level
  json::object vs;
  for (metric m : {metric::error_rate, metric::success_rate, metric::latency_ms, metric::cost_usd,
                   metric::score}) {
    vs[def_of(m).key] = comparison_json(m, compare(m, ta, tb, alpha), ta, tb, alpha);
  }
  const std::string name = in.cfg->name + "@";
  return {{"a", version_json(in, va->version, va, ta)},
          {"b", version_json(in, vb->version, vb, tb)},
          {"diff", unified_diff(va->text, vb->text, name + va->version, name + vb->version)},
          {"vs", std::move(vs)}};
}

}  // namespace switchyard
