#include "switchyard/alerts/rules.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace switchyard {

namespace {

std::string fmt(const char* spec, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

// 0.3125 → "31.2%", 0.05 → "5%".
std::string percent(double x) {
  std::string s = fmt("%.1f", x * 100);
  if (s.ends_with(".0")) {
    s.resize(s.size() - 2);
  }
  return s + "%";
}

std::string count(double x) {
  return fmt("%.0f", x);
}

bool known(std::string_view label) {
  return !label.empty() && label != "none";
}

bool passes(const std::string& filter, std::string_view value) {
  return filter.empty() || filter == value;
}

// The scope value of a traffic series under `rule`, or nullopt when the series has none (a
// request without a prompt version has no prompt_version scope) or fails the filter.
std::optional<alert_scope_value> scope_of(const alert_rule_config& rule, const traffic_key& k) {
  if (!passes(rule.model, k.model) || !passes(rule.upstream, k.upstream) ||
      !passes(rule.prompt_version, k.prompt_version) || !passes(rule.experiment, k.experiment) ||
      !passes(rule.variant, k.variant)) {
    return std::nullopt;
  }
  alert_scope_value s;
  switch (rule.scope_kind) {
    case alert_scope::global:
      break;
    case alert_scope::model:
      if (!known(k.model)) {
        return std::nullopt;
      }
      s.model = k.model;
      break;
    case alert_scope::upstream:
      if (!known(k.upstream)) {
        return std::nullopt;
      }
      s.upstream = k.upstream;
      break;
    case alert_scope::prompt_version:
      if (!known(k.prompt_version)) {
        return std::nullopt;
      }
      s.prompt_version = k.prompt_version;
      break;
    case alert_scope::variant:
      if (!known(k.experiment) || !known(k.variant)) {
        return std::nullopt;
      }
      s.experiment = k.experiment;
      s.variant = k.variant;
      break;
  }
  return s;
}

bool feedback_metric(alert_metric m) {
  return m == alert_metric::feedback_success_rate || m == alert_metric::feedback_score_mean;
}

std::string metric_phrase(alert_metric m) {
  switch (m) {
    case alert_metric::error_rate:
      return "error_rate";
    case alert_metric::p95_latency_ms:
      return "p95 latency";
    case alert_metric::daily_spend_usd:
      return "spend";
    case alert_metric::feedback_success_rate:
      return "feedback success rate";
    case alert_metric::feedback_score_mean:
      return "mean feedback score";
  }
  return "value";
}

std::string value_text(alert_metric m, double x) {
  switch (m) {
    case alert_metric::error_rate:
    case alert_metric::feedback_success_rate:
      return percent(x);
    case alert_metric::p95_latency_ms:
      return fmt("%.0f ms", x);
    case alert_metric::daily_spend_usd:
      return fmt("$%.2f", x);
    case alert_metric::feedback_score_mean:
      return fmt("%.2f", x);
  }
  return fmt("%g", x);
}

}  // namespace

std::string alert_scope_value::key() const {
  std::string out;
  const auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) {
      out += out.empty() ? "" : ",";
      out += name;
      out += '=';
      out += v;
    }
  };
  add("model", model);
  add("upstream", upstream);
  add("prompt_version", prompt_version);
  add("experiment", experiment);
  add("variant", variant);
  return out;
}

std::string alert_scope_value::describe() const {
  if (!variant.empty()) {
    return "for variant " + variant + " of experiment " + experiment;
  }
  if (!experiment.empty()) {
    return "for experiment " + experiment;
  }
  if (!model.empty()) {
    return "for model " + model;
  }
  if (!upstream.empty()) {
    return "for upstream " + upstream;
  }
  if (!prompt_version.empty()) {
    return "for prompt version " + prompt_version;
  }
  return "for the whole gateway";
}

std::string format_window(std::int64_t seconds) {
  if (seconds <= 0) {
    return "0s";
  }
  std::string out;
  const std::int64_t h = seconds / 3600, m = seconds % 3600 / 60, s = seconds % 60;
  if (h > 0) {
    out += std::to_string(h) + "h";
  }
  if (m > 0) {
    out += std::to_string(m) + "m";
  }
  if (s > 0) {
    out += std::to_string(s) + "s";
  }
  return out;
}

std::vector<measurement> measure(const alert_rule_config& rule, const traffic_delta& window,
                                 const std::vector<double>& bounds, const variant_routes& routes) {
  std::vector<measurement> out;
  const double min = static_cast<double>(rule.min_samples);
  if (feedback_metric(rule.kind)) {
    std::map<alert_scope_value, feedback_figures> groups;
    for (const auto& [k, f] : window.feedback) {
      const auto r = routes.find(k);
      const variant_route route = r == routes.end() ? variant_route{} : r->second;
      const traffic_key as_series{route.model.empty() ? "none" : route.model,
                                  route.upstream.empty() ? "none" : route.upstream, k.experiment,
                                  k.variant,
                                  route.prompt_version.empty() ? "none" : route.prompt_version};
      if (auto s = scope_of(rule, as_series)) {
        groups[*s] += f;
      }
    }
    for (const auto& [scope, f] : groups) {
      measurement m{scope, std::nullopt, 0, ""};
      if (rule.kind == alert_metric::feedback_success_rate) {
        m.samples = f.success + f.failure;
        if (m.samples > 0 && m.samples >= min) {
          m.value = f.success / m.samples;
        }
        m.detail = "(" + count(f.success) + " of " + count(m.samples) + " judged events succeeded)";
      } else {
        m.samples = f.score_n;
        if (m.samples > 0 && m.samples >= min) {
          m.value = f.score_sum / m.samples;
        }
        m.detail = "(" + count(m.samples) + " scores)";
      }
      out.push_back(std::move(m));
    }
    return out;
  }
  std::map<alert_scope_value, traffic_figures> groups;
  for (const auto& [k, f] : window.series) {
    if (auto s = scope_of(rule, k)) {
      groups[*s] += f;
    }
  }
  for (const auto& [scope, f] : groups) {
    measurement m{scope, std::nullopt, f.requests, ""};
    switch (rule.kind) {
      case alert_metric::error_rate:
        if (f.requests > 0 && f.requests >= min) {
          m.value = f.errors / f.requests;
        }
        m.detail = "(" + count(f.errors) + " of " + count(f.requests) + " requests)";
        break;
      case alert_metric::p95_latency_ms: {
        double n = 0;
        for (double c : f.latency) {
          n += c;
        }
        m.samples = n;
        if (n > 0 && n >= min) {
          if (auto q = histogram_quantile(0.95, bounds, f.latency)) {
            m.value = *q * 1000;
          }
        }
        m.detail = "(" + count(n) + " requests)";
        break;
      }
      case alert_metric::daily_spend_usd:
        m.value = f.cost_usd;
        m.detail = "(" + count(f.requests) + " requests)";
        break;
      default:
        break;
    }
    out.push_back(std::move(m));
  }
  return out;
}

bool breaches(const alert_rule_config& rule, const measurement& m) noexcept {
  if (!m.value || !std::isfinite(*m.value)) {
    return false;
  }
  return rule.below ? *m.value < rule.threshold : *m.value > rule.threshold;
}

std::string rule_message(const alert_rule_config& rule, const measurement& m) {
  const double v = m.value.value_or(0);
  return metric_phrase(rule.kind) + " " + value_text(rule.kind, v) + " is " +
         (rule.below ? "below " : "above ") + value_text(rule.kind, rule.threshold) +
         " over the last " + format_window(rule.window.count() / 1000) + " " + m.scope.describe() +
         " " + m.detail;
}

std::vector<std::size_t> apply_round(std::vector<alert>& alerts, const std::vector<breach>& now,
                                     const round_facts& facts, std::int64_t at,
                                     std::int64_t& next_id) {
  std::vector<std::size_t> changed;
  std::map<std::pair<std::string, std::string>, std::size_t> active;
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    if (alerts[i].active()) {
      active[{alerts[i].rule, alerts[i].scope.key()}] = i;
    }
  }
  std::set<std::size_t> held;
  for (const breach& b : now) {
    const auto it = active.find({b.rule, b.scope.key()});
    if (it != active.end()) {
      alert& a = alerts[it->second];
      held.insert(it->second);
      const bool same = a.value == b.value && a.message == b.message && a.severity == b.severity &&
                        a.threshold == b.threshold;
      a.value = b.value;
      a.threshold = b.threshold;
      a.message = b.message;
      a.severity = b.severity;
      if (!same) {
        a.updated_at = at;
        changed.push_back(it->second);
      }
      continue;
    }
    alert a;
    a.id = next_id++;
    a.rule = b.rule;
    a.kind = b.kind;
    a.metric = b.metric;
    a.severity = b.severity;
    a.scope = b.scope;
    a.value = b.value;
    a.threshold = b.threshold;
    a.comparison = b.comparison;
    a.window_seconds = b.window_seconds;
    a.message = b.message;
    a.started_at = a.updated_at = at;
    alerts.push_back(std::move(a));
    active[{b.rule, b.scope.key()}] = alerts.size() - 1;
    held.insert(alerts.size() - 1);
    changed.push_back(alerts.size() - 1);
  }
  for (const auto& [k, i] : active) {
    alert& a = alerts[i];
    const bool resolves = !facts.known.contains(a.rule) || facts.evaluated.contains(a.rule) ||
                          facts.cleared.contains(k);
    if (held.contains(i) || !resolves) {
      continue;
    }
    a.state = "resolved";
    a.resolved_at = at;
    a.updated_at = at;
    changed.push_back(i);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  return changed;
}

bool acknowledge(alert& a, std::int64_t at) noexcept {
  if (a.acknowledged_at) {
    return false;
  }
  a.acknowledged_at = at;
  if (a.state == "firing") {
    a.state = "acknowledged";
  }
  a.updated_at = std::max(a.updated_at, at);
  return true;
}

}  // namespace switchyard
