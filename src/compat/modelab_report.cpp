#include "switchyard/compat/modelab_report.hpp"

#include "switchyard/experiments/sequential.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace switchyard {

namespace {

namespace json = boost::json;

json::value ratio(double num, double den) {
  return den > 0 ? json::value(num / den) : json::value(nullptr);
}

json::value success_rate(const modelab_variant_stats& v) {
  return ratio(static_cast<double>(v.success), static_cast<double>(v.success + v.failure));
}

json::object comparison_json(const stats::comparison& c, double alpha) {
  return json::object{{"control", c.control},
                      {"treatment", c.treatment},
                      {"diff", c.diff},
                      {"diff_ci", json::array{c.diff_lo, c.diff_hi}},
                      {"rel", c.rel},
                      {"rel_ci", json::array{c.rel_lo, c.rel_hi}},
                      {"p_value", c.p_value},
                      {"p_adjusted", c.p_adjusted},
                      {"significant", c.valid && c.p_adjusted < alpha},
                      {"valid", c.valid}};
}

// The tests behind the Switchyard block, one per non-control variant: always-valid (sequential)
// versions of the fixed-horizon tests, so the dashboard may be refreshed after every flush.
struct variant_tests {
  std::size_t index = 0;
  stats::comparison success, errors, latency;
};

std::vector<variant_tests> run_tests(const modelab_flag_stats& f, std::size_t control,
                                     double alpha) {
  const auto& c = f.variants[control];
  std::vector<variant_tests> out;
  for (std::size_t i = 0; i < f.variants.size(); ++i) {
    if (i == control) {
      continue;
    }
    const auto& t = f.variants[i];
    variant_tests r;
    r.index = i;
    const double nc = static_cast<double>(c.success + c.failure);
    const double nt = static_cast<double>(t.success + t.failure);
    r.success =
        stats::always_valid(stats::two_proportion(static_cast<double>(c.success), nc,
                                                  static_cast<double>(t.success), nt, alpha),
                            nc + nt, alpha, stats::default_tuning_n);
    const double ec = static_cast<double>(c.executions), et = static_cast<double>(t.executions);
    r.errors = stats::always_valid(stats::two_proportion(static_cast<double>(c.errors), ec,
                                                         static_cast<double>(t.errors), et, alpha),
                                   ec + et, alpha, stats::default_tuning_n);
    r.latency =
        stats::always_valid(stats::welch(c.latency_ms, t.latency_ms, alpha),
                            c.latency_ms.n + t.latency_ms.n, alpha, stats::default_tuning_n);
    out.push_back(r);
  }
  // Holm over the variants, per metric (the verdict reads success_rate's).
  const auto adjust = [&](stats::comparison variant_tests::*m) {
    std::vector<double> p;
    std::vector<std::size_t> at;
    for (std::size_t k = 0; k < out.size(); ++k) {
      if ((out[k].*m).valid) {
        p.push_back((out[k].*m).p_value);
        at.push_back(k);
      }
    }
    const auto adj = stats::holm(p);
    for (std::size_t k = 0; k < at.size(); ++k) {
      (out[at[k]].*m).p_adjusted = adj[k];
    }
  };
  adjust(&variant_tests::success);
  adjust(&variant_tests::errors);
  adjust(&variant_tests::latency);
  return out;
}

json::object srm_json(const modelab_flag_stats& f, const modelab_analysis_options& opt,
                      bool& mismatch) {
  mismatch = false;
  if (opt.weights.empty()) {
    return json::object{{"checked", false},
                        {"reason",
                         "the designed weights are unknown: configure an experiment with hash: "
                         "modelab whose seed is this flag to check the sample ratio"}};
  }
  std::vector<double> observed, weights;
  json::object obs, share;
  double total_w = 0;
  for (const auto& [name, w] : opt.weights) {
    total_w += w;
  }
  for (const auto& [name, w] : opt.weights) {
    double users = 0;
    for (const auto& v : f.variants) {
      if (v.variant == name) {
        users = static_cast<double>(v.users);
      }
    }
    observed.push_back(users);
    weights.push_back(w);
    obs[name] = users;
    share[name] = total_w > 0 ? w / total_w : 0;
  }
  const auto r = stats::sample_ratio_mismatch(observed, weights);
  mismatch = r.mismatch;
  return json::object{{"checked", true},         {"basis", "unique_users"}, {"observed", obs},
                      {"expected_share", share}, {"chi2", r.chi2},          {"df", r.df},
                      {"p_value", r.p_value},    {"mismatch", r.mismatch}};
}

json::object verdict_json(const modelab_flag_stats& f, std::size_t control,
                          const std::vector<variant_tests>& tests,
                          const modelab_analysis_options& opt, bool mismatch) {
  json::object v{{"metric", "success_rate"}};
  for (const auto& x : f.variants) {
    if (x.success + x.failure < opt.min_samples) {
      v["state"] = "collecting";
      v["summary"] = "Collecting: variant " + x.variant + " has " +
                     std::to_string(x.success + x.failure) + " success/failure events of the " +
                     std::to_string(opt.min_samples) + " needed.";
      return v;
    }
  }
  if (mismatch) {
    v["state"] = "sample_ratio_mismatch";
    v["summary"] =
        "The users per variant do not match the designed weights; results are not trustworthy.";
    return v;
  }
  const variant_tests* better = nullptr;
  const variant_tests* worse = nullptr;
  for (const auto& t : tests) {
    if (!t.success.valid || !(t.success.p_adjusted < opt.alpha)) {
      continue;
    }
    if (t.success.diff > 0 && (!better || t.success.diff > better->success.diff)) {
      better = &t;
    } else if (t.success.diff < 0 && (!worse || t.success.diff < worse->success.diff)) {
      worse = &t;
    }
  }
  const variant_tests* pick = better ? better : worse;
  if (pick) {
    const auto& name = f.variants[pick->index].variant;
    v["state"] = better ? "variant_better" : "variant_worse";
    v["variant"] = name;
    char text[200];
    std::snprintf(text, sizeof text, "%s's success rate is %+.1f points against %s (%s).",
                  name.c_str(), pick->success.diff * 100, f.variants[control].variant.c_str(),
                  "always-valid interval excludes 0");
    v["summary"] = text;
    return v;
  }
  v["state"] = "collecting";
  v["summary"] =
      "No variant differs from control on success rate yet; the always-valid intervals stay "
      "valid however often this is read.";
  return v;
}

}  // namespace

std::string modelab_iso_utc(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const auto days = floor<std::chrono::days>(sys_seconds{seconds{unix_seconds}});
  const year_month_day ymd{days};
  const auto rest = unix_seconds - duration_cast<seconds>(days.time_since_epoch()).count();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60),
                static_cast<int>(rest % 60));
  return buf;
}

std::size_t modelab_control(const modelab_flag_stats& f) {
  for (std::size_t i = 0; i < f.variants.size(); ++i) {
    if (f.variants[i].variant == "control") {
      return i;
    }
  }
  return 0;  // variants come sorted by name
}

json::object modelab_variant_json(const modelab_variant_stats& v) {
  json::object custom;
  for (const auto& [name, n] : v.custom) {
    custom[name] = n;
  }
  const auto tokens = static_cast<double>(v.token_executions);
  return json::object{
      {"variant_name", v.variant},
      {"assignments", v.assignments},
      {"unique_users", v.users},
      {"executions", v.executions},
      {"errors", v.errors},
      {"error_rate", ratio(static_cast<double>(v.errors), static_cast<double>(v.executions))},
      {"success_count", v.success},
      {"failure_count", v.failure},
      {"success_rate", success_rate(v)},
      {"avg_latency_ms", ratio(v.latency_ms.sum, v.latency_ms.n)},
      {"avg_cost", ratio(v.cost.sum, v.cost.n)},
      {"total_cost", v.cost.sum},
      {"total_input_tokens", v.input_tokens},
      {"total_output_tokens", v.output_tokens},
      {"avg_input_tokens", ratio(static_cast<double>(v.input_tokens), tokens)},
      {"avg_output_tokens", ratio(static_cast<double>(v.output_tokens), tokens)},
      {"custom_events", std::move(custom)},
  };
}

json::object modelab_flag_json(const modelab_flag_stats& f, const modelab_analysis_options& opt) {
  json::array variants;
  for (const auto& v : f.variants) {
    variants.push_back(modelab_variant_json(v));
  }
  json::object sy{{"method", "sequential"},
                  {"alpha", opt.alpha},
                  {"tuning_n", stats::default_tuning_n},
                  {"unit_of_analysis", "event"}};
  if (f.variants.empty()) {
    sy["control"] = nullptr;
    sy["comparisons"] = json::array{};
    sy["verdict"] = json::object{{"state", "collecting"},
                                 {"metric", "success_rate"},
                                 {"summary", "No assignments have been ingested for this flag."}};
  } else {
    const auto control = modelab_control(f);
    const auto tests = run_tests(f, control, opt.alpha);
    json::array comparisons;
    for (const auto& t : tests) {
      comparisons.push_back(json::object{{"variant", f.variants[t.index].variant},
                                         {"success_rate", comparison_json(t.success, opt.alpha)},
                                         {"error_rate", comparison_json(t.errors, opt.alpha)},
                                         {"latency_ms", comparison_json(t.latency, opt.alpha)}});
    }
    bool mismatch = false;
    sy["control"] = f.variants[control].variant;
    sy["comparisons"] = std::move(comparisons);
    sy["srm"] = srm_json(f, opt, mismatch);
    sy["verdict"] = verdict_json(f, control, tests, opt, mismatch);
  }
  return json::object{
      {"flag_name", f.flag},
      {"first_assigned_at",
       f.variants.empty() ? json::value() : json::value(modelab_iso_utc(f.first_unix))},
      {"last_assigned_at",
       f.variants.empty() ? json::value() : json::value(modelab_iso_utc(f.last_unix))},
      {"variants", std::move(variants)},
      {"switchyard", std::move(sy)},
  };
}

json::object modelab_flag_summary_json(const modelab_flag_stats& f,
                                       const modelab_analysis_options& opt) {
  modelab_variant_stats all;
  json::array names;
  for (const auto& v : f.variants) {
    names.push_back(json::value(v.variant));
    all.assignments += v.assignments;
    all.users += v.users;  // a user is in one variant of a flag (the SDK's assignment)
    all.executions += v.executions;
    all.success += v.success;
    all.failure += v.failure;
    all.latency_ms += v.latency_ms;
    all.cost += v.cost;
  }
  auto report = modelab_flag_json(f, opt);
  return json::object{
      {"flag_name", f.flag},
      {"name", f.flag},
      {"variants", std::move(names)},
      {"assignments", all.assignments},
      {"unique_users", all.users},
      {"executions", all.executions},
      {"success_rate", success_rate(all)},
      {"avg_latency_ms", ratio(all.latency_ms.sum, all.latency_ms.n)},
      {"total_cost", all.cost.sum},
      {"first_assigned_at", report["first_assigned_at"]},
      {"last_assigned_at", report["last_assigned_at"]},
      {"verdict", report["switchyard"].as_object()["verdict"].as_object()["state"]},
  };
}

json::object modelab_experiment_json(const modelab_flag_stats& f,
                                     const modelab_analysis_options& opt) {
  auto report = modelab_flag_json(f, opt);
  json::array variants;
  for (const auto& v : f.variants) {
    json::value weight = nullptr;
    for (const auto& [name, w] : opt.weights) {
      if (name == v.variant) {
        weight = w;
      }
    }
    variants.push_back(json::object{{"name", v.variant},
                                    {"weight", weight},
                                    {"prompt", nullptr},
                                    {"model", nullptr},
                                    {"units", v.users},
                                    {"requests", v.executions},
                                    {"paused", false}});
  }
  return json::object{{"name", f.flag},
                      {"source", "modelab"},
                      {"status", "running"},
                      {"match", nullptr},
                      {"unit", "user_id"},
                      {"variants", std::move(variants)},
                      {"verdict", report["switchyard"].as_object()["verdict"]}};
}

json::object modelab_timeline_json(std::string_view flag,
                                   const std::vector<modelab_timeline_bucket>& buckets,
                                   std::int64_t bucket_seconds) {
  json::array out;
  for (const auto& b : buckets) {
    json::object variants;
    for (const auto& v : b.variants) {
      variants[v.variant] = json::object{
          {"assignments", v.assignments},
          {"executions", v.executions},
          {"errors", v.errors},
          {"success_count", v.success},
          {"failure_count", v.failure},
          {"success_rate", success_rate(v)},
          {"avg_latency_ms", ratio(v.latency_ms.sum, v.latency_ms.n)},
          {"total_cost", v.cost.sum},
          {"total_input_tokens", v.input_tokens},
          {"total_output_tokens", v.output_tokens},
      };
    }
    out.push_back(json::object{{"start", b.start_unix},
                               {"start_iso", modelab_iso_utc(b.start_unix)},
                               {"variants", std::move(variants)}});
  }
  return json::object{
      {"flag_name", flag}, {"bucket_seconds", bucket_seconds}, {"buckets", std::move(out)}};
}

}  // namespace switchyard
