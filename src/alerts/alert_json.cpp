#include "switchyard/alerts/alert_json.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <map>

namespace switchyard {

namespace {

namespace json = boost::json;

json::value num(double x) {
  return std::isfinite(x) ? json::value(x) : json::value(nullptr);
}

// Counts print as integers; a fraction (tokens attributed by shares) as a double.
json::value whole(double x) {
  constexpr double exact = 9007199254740992.0;
  if (x >= 0 && x <= exact && x == std::floor(x)) {
    return static_cast<std::uint64_t>(x);
  }
  return num(x);
}

json::value opt(const std::optional<double>& x) {
  return x ? num(*x) : json::value(nullptr);
}

json::value opt(const std::optional<std::int64_t>& x) {
  return x ? json::value(*x) : json::value(nullptr);
}

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

const char* metric_name(const alert_rule_config& r) {
  return r.metric.empty() ? "error_rate" : r.metric.c_str();
}

json::object rule_json(const alert_rule_config& r) {
  json::object filter;
  const auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) {
      filter[k] = v;
    }
  };
  put("model", r.model);
  put("upstream", r.upstream);
  put("prompt_version", r.prompt_version);
  put("experiment", r.experiment);
  put("variant", r.variant);
  const bool spend = r.kind == alert_metric::daily_spend_usd;
  return {{"name", r.name},
          {"kind", "rule"},
          {"metric", metric_name(r)},
          {"comparison", r.below ? "below" : "above"},
          {"threshold", num(r.threshold)},
          {"window_seconds", r.window.count() / 1000},
          {"scope", r.scope},
          {"filter", std::move(filter)},
          {"min_samples", spend ? std::uint64_t{0} : r.min_samples},
          {"severity", r.severity},
          {"always_on", false}};
}

// One name's figures per output bucket.
struct row {
  std::vector<traffic_figures> buckets;
  traffic_figures total;
};

json::object totals_json(const traffic_figures& f) {
  return {{"requests", whole(f.requests)},
          {"errors", whole(f.errors)},
          {"input_tokens", whole(f.input_tokens)},
          {"output_tokens", whole(f.output_tokens)},
          {"tokens", whole(f.input_tokens + f.output_tokens)},
          {"cost_usd", num(f.cost_usd)}};
}

json::object row_json(const char* key, const std::string& name, const row& r,
                      const std::vector<bool>& known) {
  json::object o{{key, name}, {"totals", totals_json(r.total)}};
  const auto series = [&](const char* field, auto get, bool count) {
    json::array a;
    for (std::size_t i = 0; i < r.buckets.size(); ++i) {
      const double v = get(r.buckets[i]);
      a.push_back(!known[i] ? json::value(nullptr) : count ? whole(v) : num(v));
    }
    o[field] = std::move(a);
  };
  series(
      "requests", [](const traffic_figures& f) { return f.requests; }, true);
  series(
      "errors", [](const traffic_figures& f) { return f.errors; }, true);
  series(
      "input_tokens", [](const traffic_figures& f) { return f.input_tokens; }, true);
  series(
      "output_tokens", [](const traffic_figures& f) { return f.output_tokens; }, true);
  series(
      "tokens", [](const traffic_figures& f) { return f.input_tokens + f.output_tokens; }, true);
  series(
      "cost_usd", [](const traffic_figures& f) { return f.cost_usd; }, false);
  return o;
}

std::int64_t floor_to(std::int64_t t, std::int64_t width) {
  const std::int64_t q = t / width - (t % width < 0 ? 1 : 0);
  return q * width;
}

}  // namespace

json::object scope_json(const alert_scope_value& s) {
  json::object o;
  const auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) {
      o[k] = v;
    }
  };
  put("model", s.model);
  put("upstream", s.upstream);
  put("prompt_version", s.prompt_version);
  put("experiment", s.experiment);
  put("variant", s.variant);
  return o;
}

boost::json::object alert_json(const alert& a) {
  return {{"id", a.id},
          {"rule", a.rule},
          {"kind", a.kind},
          {"metric", a.metric},
          {"severity", a.severity},
          {"state", a.state},
          {"scope", scope_json(a.scope)},
          {"value", opt(a.value)},
          {"threshold", opt(a.threshold)},
          {"comparison", text_or_null(a.comparison)},
          {"window_seconds", opt(a.window_seconds)},
          {"message", a.message},
          {"started_at", a.started_at},
          {"updated_at", a.updated_at},
          {"resolved_at", opt(a.resolved_at)},
          {"acknowledged_at", opt(a.acknowledged_at)}};
}

boost::json::object alerts_config_json(const alerts_config& a,
                                       std::optional<std::int64_t> last_evaluation) {
  json::array rules;
  for (const alert_rule_config& r : a.rules) {
    rules.push_back(rule_json(r));
  }
  rules.push_back(json::object{{"name", "srm"},
                               {"kind", "srm"},
                               {"metric", "srm_p_value"},
                               {"comparison", "below"},
                               {"threshold", num(a.srm_p_value)},
                               {"window_seconds", nullptr},
                               {"scope", "experiment"},
                               {"filter", json::object{}},
                               {"min_samples", 0},
                               {"severity", a.srm_severity},
                               {"always_on", true}});
  rules.push_back(json::object{{"name", "guardrail"},
                               {"kind", "guardrail"},
                               {"metric", "guardrail_trip"},
                               {"comparison", nullptr},
                               {"threshold", nullptr},
                               {"window_seconds", nullptr},
                               {"scope", "variant"},
                               {"filter", json::object{}},
                               {"min_samples", 0},
                               {"severity", a.guardrail_severity},
                               {"always_on", true}});
  const double interval = static_cast<double>(a.evaluation_interval.count()) / 1000;
  return {{"object", "alerts_config"},
          {"evaluation_interval_seconds", num(interval)},
          {"last_evaluation_at", opt(last_evaluation)},
          {"rules", std::move(rules)}};
}

boost::json::object traffic_json(const traffic_history& h, std::int64_t now, std::int64_t hours,
                                 std::int64_t bucket_seconds) {
  const bucket_ring& ring = bucket_seconds < traffic_history::hour ? h.minutes() : h.hours();
  const std::int64_t last = floor_to(now, bucket_seconds);
  const std::int64_t count = std::max<std::int64_t>(1, hours * 3600 / bucket_seconds);
  const std::int64_t first = last - (count - 1) * bucket_seconds;
  json::array starts;
  std::vector<bool> known;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t s = first + i * bucket_seconds;
    starts.push_back(s);
    known.push_back(s + bucket_seconds > h.started());  // the bucket reaches past the start
  }
  std::map<std::string, row> models, upstreams;
  traffic_figures total;
  const auto slot = [&](std::map<std::string, row>& m, const std::string& name) -> row& {
    row& r = m[name];
    r.buckets.resize(static_cast<std::size_t>(count));
    return r;
  };
  for (const auto& [start, d] : ring.buckets()) {
    const std::int64_t target = floor_to(start, bucket_seconds);
    if (target < first || target > last) {
      continue;
    }
    const auto i = static_cast<std::size_t>((target - first) / bucket_seconds);
    for (const auto& [k, f] : d.series) {
      traffic_figures plain = f;
      plain.latency.clear();  // not served here
      row& m = slot(models, k.model);
      m.buckets[i] += plain;
      m.total += plain;
      row& u = slot(upstreams, k.upstream);
      u.buckets[i] += plain;
      u.total += plain;
      total += plain;
    }
  }
  json::array model_list, upstream_list;
  for (const auto& [name, r] : models) {
    if (!r.total.empty()) {
      model_list.push_back(row_json("model", name, r, known));
    }
  }
  for (const auto& [name, r] : upstreams) {
    if (!r.total.empty()) {
      upstream_list.push_back(row_json("upstream", name, r, known));
    }
  }
  return {{"object", "traffic"},
          {"hours", hours},
          {"bucket_seconds", bucket_seconds},
          {"from", first},
          {"to", now},
          {"since", h.started()},
          {"buckets", std::move(starts)},
          {"totals", totals_json(total)},
          {"models", std::move(model_list)},
          {"upstreams", std::move(upstream_list)}};
}

boost::json::object variant_health_json(const traffic_history& h, const experiment_config& e) {
  std::map<std::string, traffic_figures> per;
  for (const auto& [start, d] : h.hours().buckets()) {
    for (const auto& [k, f] : d.series) {
      if (k.experiment == e.name) {
        per[k.variant].requests += f.requests;
        per[k.variant].fallbacks += f.fallbacks;
      }
    }
  }
  json::object variants;
  for (const variant_config& v : e.variants) {
    const traffic_figures& f = per[v.name];
    variants[v.name] = json::object{
        {"requests", whole(f.requests)},
        {"fallbacks", whole(f.fallbacks)},
        {"fallback_rate", f.requests > 0 ? num(f.fallbacks / f.requests) : json::value(nullptr)}};
  }
  return {{"since", h.started()}, {"variants", std::move(variants)}};
}

}  // namespace switchyard
