#include "switchyard/http/alerts_api.hpp"

#include "switchyard/alerts/alert_json.hpp"
#include "switchyard/alerts/engine.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/analysis_gather.hpp"
#include "switchyard/experiments/analysis_series.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/sequential.hpp"
#include "switchyard/http/api.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace switchyard {

namespace {

namespace json = boost::json;

// A whole number in [lo, hi] from the query, or `fallback` when absent; an error names the key.
result<std::int64_t> integer_param(const local_call& c, const char* key, std::int64_t fallback,
                                   std::int64_t lo, std::int64_t hi) {
  const auto text = c.route.query(key);
  if (!text) {
    return fallback;
  }
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || ptr != text->data() + text->size() || v < lo || v > hi) {
    return make_error(errc::invalid_request,
                      std::string(key) + " must be a whole number from " + std::to_string(lo) +
                          " to " + std::to_string(hi),
                      key);
  }
  return v;
}

result<alert_engine*> engine_of(const local_call& c) {
  if (c.w.shared.alerts == nullptr) {
    return make_error(errc::internal, "The alert engine is not running.");
  }
  return c.w.shared.alerts;
}

}  // namespace

result<string_response> list_alerts(const local_call& c) {
  auto engine = engine_of(c);
  if (!engine) {
    return engine.error();
  }
  const std::string state = c.route.query("state").value_or("active");
  if (state != "active" && state != "acknowledged" && state != "resolved" && state != "all") {
    return make_error(errc::invalid_request, "state must be active, acknowledged, resolved or all",
                      "state");
  }
  auto limit = integer_param(c, "limit", 100, 1, 1000);
  if (!limit) {
    return limit.error();
  }
  const auto l = (*engine)->list(state, static_cast<std::size_t>(*limit));
  json::array data;
  for (const alert& a : l.alerts) {
    data.push_back(alert_json(a));
  }
  return json_answer(
      c, json::object{
             {"object", "list"},
             {"data", std::move(data)},
             {"counts",
              {{"firing", l.firing}, {"acknowledged", l.acknowledged}, {"resolved", l.resolved}}}});
}

result<string_response> acknowledge_alert(const local_call& c) {
  auto engine = engine_of(c);
  if (!engine) {
    return engine.error();
  }
  const std::string text = c.route.param("id");
  std::int64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || ptr != text.data() + text.size() || id < 1) {
    return make_error(errc::not_found, "No alert with id `" + text + "`.");
  }
  auto a = (*engine)->acknowledge(id);
  if (!a) {
    return a.error();
  }
  return json_answer(c, alert_json(*a));
}

result<string_response> alerts_config_route(const local_call& c) {
  auto engine = engine_of(c);
  if (!engine) {
    return engine.error();
  }
  const auto p = c.w.shared.snapshot->current();
  return json_answer(c, alerts_config_json(p->cfg->alerts, (*engine)->last_evaluation()));
}

result<string_response> traffic_route(const local_call& c) {
  auto engine = engine_of(c);
  if (!engine) {
    return engine.error();
  }
  auto hours = integer_param(c, "hours", 6, 1, 48);
  if (!hours) {
    return hours.error();
  }
  std::int64_t bucket = *hours <= 3 ? 300 : 3600;
  if (const auto b = c.route.query("bucket")) {
    if (*b == "1m") {
      bucket = 60;
    } else if (*b == "5m") {
      bucket = 300;
    } else if (*b == "15m") {
      bucket = 900;
    } else if (*b == "1h") {
      bucket = 3600;
    } else {
      return make_error(errc::invalid_request, "bucket must be 1m, 5m, 15m or 1h", "bucket");
    }
    if (bucket < 3600 && *hours > 6) {
      return make_error(errc::invalid_request,
                        "buckets shorter than 1h reach back 6 hours at most: use hours <= 6 or "
                        "bucket=1h",
                        "bucket");
    }
  }
  (*engine)->sample_now();
  const std::int64_t now = unix_seconds();
  return json_answer(c, (*engine)->with_history([&](const traffic_history& h) {
    return traffic_json(h, now, *hours, bucket);
  }));
}

result<string_response> experiment_series_route(const local_call& c) {
  auto& experiments = *c.w.shared.experiments;
  auto p = experiments.current();
  (void)experiments.flush();
  const std::string name = c.route.param("name");
  const experiment_plan* e = p->find(name);
  if (e == nullptr) {
    return make_error(errc::not_found, "No experiment named `" + name + "`.");
  }
  std::int64_t bucket = 3600;
  if (auto text = c.route.query("bucket").value_or(""); !text.empty()) {
    auto d = parse_duration(text);
    if (!d || d->count() % 3'600'000 != 0 || d->count() == 0) {
      return make_error(errc::invalid_request, "bucket must be whole hours, like 1h or 24h",
                        "bucket");
    }
    bucket = d->count() / 1000;
  }
  // The report's sequential tuning, so that the last point's interval is tuned like the report.
  analysis_input now = gather_analysis(experiments, *e, false);
  analysis_input hourly = gather_analysis(experiments, *e, true);
  if (auto failed = now.store_error ? now.store_error : hourly.store_error) {
    return *failed;  // a store that cannot be read is a 503, never a series of zeros
  }
  const json::object report = experiment_report(now);
  double tuning_n = stats::default_tuning_n;
  if (const auto* a = report.if_contains("analysis"); a && a->is_object()) {
    if (const auto* t = a->as_object().if_contains("tuning_n"); t && t->is_number()) {
      tuning_n = t->to_number<double>();
    }
  }
  json::object out = experiment_series(hourly, bucket, tuning_n);
  if (c.w.shared.alerts != nullptr) {
    c.w.shared.alerts->sample_now();
    out["health"] = c.w.shared.alerts->with_history(
        [&](const traffic_history& h) { return variant_health_json(h, *e->cfg); });
  } else {
    out["health"] = nullptr;
  }
  return json_answer(c, out);
}

}  // namespace switchyard
