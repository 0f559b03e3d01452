#include "switchyard/experiments/analysis_series.hpp"

#include "analysis_detail.hpp"

#include "switchyard/experiments/sequential.hpp"

#include <algorithm>
#include <map>

namespace switchyard {

namespace {

using namespace analysis_detail;

constexpr std::int64_t hour = 3600;

std::int64_t effective_bucket(std::int64_t seconds) {
  constexpr std::int64_t most = 366 * 24 * hour;
  return (std::clamp(seconds, hour, most) + hour - 1) / hour * hour;
}

std::int64_t floor_to(std::int64_t t, std::int64_t bucket) {
  const std::int64_t q = t / bucket - (t % bucket < 0 ? 1 : 0);
  return q * bucket;
}

metric primary_of(const std::string& name) {
  for (const metric_def& def : metrics) {
    if (*def.config_name != '\0' && name == def.config_name) {
      return def.id;
    }
  }
  return metric::success_rate;
}

// The phase in effect at `t`: the newest that started at or before it (the first one before any).
std::int64_t phase_at(const std::vector<phase_record>& phases, std::int64_t t) {
  std::int64_t p = phases.empty() ? 1 : phases.front().phase;
  for (const phase_record& r : phases) {
    if (r.start_unix <= t) {
      p = r.phase;
    }
  }
  return p;
}

json::object weights_json(const analysis_input& in, std::int64_t phase) {
  json::object o;
  for (const phase_record& p : in.phases) {
    if (p.phase == phase) {
      for (std::size_t i = 0; i < p.variants.size() && i < p.weights.size(); ++i) {
        o[p.variants[i]] = num(p.weights[i]);
      }
      return o;
    }
  }
  // No phases recorded: the effective weights, in config order.
  for (std::size_t i = 0; i < in.cfg->variants.size() && i < in.weights.size(); ++i) {
    o[in.cfg->variants[i].name] = num(in.weights[i]);
  }
  return o;
}

json::object spread(const moments& m, const latency_sketch& s) {
  const auto q = [&](double p) { return s.empty() ? json::value(nullptr) : num(s.quantile(p)); };
  return {{"mean", mean_of(m)}, {"p50", q(0.5)}, {"p95", q(0.95)}, {"p99", q(0.99)}};
}

double value_of(metric m, const totals& t) {
  const double n = sample_n(m, t);
  if (m == metric::error_rate) {
    return n > 0 ? as_double(t.errors) / n : 0;
  }
  if (m == metric::success_rate) {
    return n > 0 ? t.success / n : 0;
  }
  return moments_of(m, t).mean();
}

json::object cumulative_json(metric m, const totals& ctl, const totals& t, bool is_control,
                             const analysis_config& a, double tuning_n) {
  const double n = sample_n(m, t);
  json::object o{{"n", whole(n)}, {"value", n > 0 ? num(value_of(m, t)) : nullptr}};
  if (is_control) {
    return o;
  }
  stats::comparison c = compare(m, ctl, t, a.alpha);
  if (a.method != "fixed_horizon") {
    c = stats::always_valid(c, sample_n(m, ctl) + n, a.alpha, tuning_n);
  }
  const bool both = n > 0 && sample_n(m, ctl) > 0;
  const bool has_rel = both && c.control != 0;
  o["diff"] = both ? num(c.treatment - c.control) : nullptr;
  o["diff_ci"] = c.valid ? json::value(pair(c.diff_lo, c.diff_hi)) : nullptr;
  o["rel"] = has_rel ? num((c.treatment - c.control) / c.control) : nullptr;
  o["rel_ci"] = c.valid && has_rel ? json::value(pair(c.rel_lo, c.rel_hi)) : nullptr;
  o["p_value"] = c.valid ? num(c.p_value) : nullptr;
  o["significant"] = c.valid && c.p_value < a.alpha;
  return o;
}

struct bucket_data {
  std::map<std::string, totals> cells;  // what happened in the bucket, per variant
  std::int64_t phase = 0;               // newest phase among its rows (0 = none)
  // The rows and feedback of the bucket, for the cumulative sums (added in order).
  std::vector<const variant_hour_stats*> rows;
  std::vector<const feedback_summary*> feedback;
};

}  // namespace

boost::json::object experiment_series(const analysis_input& in, std::int64_t bucket_seconds,
                                      double tuning_n) {
  if (in.cfg == nullptr) {
    return {};
  }
  const experiment_config& cfg = *in.cfg;
  const std::int64_t bucket = effective_bucket(bucket_seconds);
  const metric primary = primary_of(cfg.analysis.primary_metric);
  std::map<std::int64_t, bucket_data> buckets;
  for (const variant_hour_stats& r : in.rows) {
    bucket_data& b = buckets[floor_to(r.hour, bucket)];
    b.cells[r.variant].add(r, true);
    b.phase = std::max(b.phase, r.phase);
    b.rows.push_back(&r);
  }
  for (const feedback_summary& f : in.feedback) {
    bucket_data& b = buckets[floor_to(f.hour, bucket)];
    b.cells[f.variant].add(f);
    b.feedback.push_back(&f);
  }
  std::map<std::int64_t, std::map<std::string, totals>> cumulative;  // per phase, per variant
  json::array out;
  const totals none;
  for (auto& [start, b] : buckets) {
    for (const variant_hour_stats* r : b.rows) {
      cumulative[r->phase][r->variant].add(*r, false);
    }
    for (const feedback_summary* f : b.feedback) {
      cumulative[phase_at(in.phases, f->hour)][f->variant].add(*f);
    }
    const std::int64_t phase = b.phase > 0 ? b.phase : phase_at(in.phases, start);
    const auto& cum = cumulative[phase];
    const auto cum_of = [&](const std::string& v) -> const totals& {
      const auto it = cum.find(v);
      return it == cum.end() ? none : it->second;
    };
    const totals& ctl = cfg.variants.empty() ? none : cum_of(cfg.variants.front().name);
    json::object variants;
    for (std::size_t i = 0; i < cfg.variants.size(); ++i) {
      const std::string& name = cfg.variants[i].name;
      const auto it = b.cells.find(name);
      const totals& t = it == b.cells.end() ? none : it->second;
      variants[name] = json::object{
          {"requests", t.requests},
          {"errors", t.errors},
          {"latency_ms", spread(t.latency_ms, t.latency)},
          {"ttft_ms", spread(t.ttft_ms, t.ttft)},
          {"feedback_success", whole(t.success)},
          {"feedback_failure", whole(t.failure)},
          {"cumulative",
           cumulative_json(primary, ctl, cum_of(name), i == 0, cfg.analysis, tuning_n)}};
    }
    out.push_back(json::object{{"start", start},
                               {"start_iso", iso_utc(start)},
                               {"phase", phase},
                               {"weights", weights_json(in, phase)},
                               {"variants", std::move(variants)}});
  }
  json::array names, phases;
  for (const variant_config& v : cfg.variants) {
    names.push_back(json::value(v.name));
  }
  for (const phase_record& p : in.phases) {
    phases.push_back(json::object{{"phase", p.phase},
                                  {"start_unix", p.start_unix},
                                  {"start", iso_utc(p.start_unix)},
                                  {"reason", p.reason},
                                  {"weights", weights_json(in, p.phase)}});
  }
  return {{"object", "experiment_series"},
          {"experiment", cfg.name},
          {"bucket_seconds", bucket},
          {"metric", cfg.analysis.primary_metric},
          {"metric_key", def_of(primary).key},
          {"higher_is_better", def_of(primary).higher_is_better},
          {"method", cfg.analysis.method == "fixed_horizon" ? "fixed_horizon" : "sequential"},
          {"alpha", num(cfg.analysis.alpha)},
          {"control",
           cfg.variants.empty() ? json::value(nullptr) : json::value(cfg.variants.front().name)},
          {"variants", std::move(names)},
          {"phases", std::move(phases)},
          {"buckets", std::move(out)}};
}

}  // namespace switchyard
