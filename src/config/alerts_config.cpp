// The `alerts:` section (docs/alerts.md): the evaluation interval, the always-on rules' tuning
// (SRM, guardrails) and the configured rules, with their cross-references to models, upstreams,
// prompt versions and experiments checked against the rest of the file.
#include "schema.hpp"
#include "yaml_reader.hpp"

#include <algorithm>
#include <set>

namespace switchyard::config_detail {

namespace {

constexpr applies hot = applies::on_reload;

// The longest window a rule may have: what the in-memory traffic ring keeps (48 h).
constexpr std::int64_t max_window_ms = 48LL * 3600 * 1000;

const char* metric_problem(const std::string& v) {
  return v != "error_rate" && v != "p95_latency_ms" && v != "daily_spend_usd" &&
                 v != "feedback_success_rate" && v != "feedback_score_mean"
             ? "must be error_rate, p95_latency_ms, daily_spend_usd, feedback_success_rate or "
               "feedback_score_mean"
             : nullptr;
}

const char* scope_problem(const std::string& v) {
  return v != "global" && v != "model" && v != "upstream" && v != "prompt_version" && v != "variant"
             ? "must be global, model, upstream, prompt_version or variant"
             : nullptr;
}

const char* severity_problem(const std::string& v) {
  return v != "info" && v != "warning" && v != "critical" ? "must be info, warning or critical"
                                                          : nullptr;
}

alert_metric metric_of(const std::string& v) {
  if (v == "p95_latency_ms") {
    return alert_metric::p95_latency_ms;
  }
  if (v == "daily_spend_usd") {
    return alert_metric::daily_spend_usd;
  }
  if (v == "feedback_success_rate") {
    return alert_metric::feedback_success_rate;
  }
  if (v == "feedback_score_mean") {
    return alert_metric::feedback_score_mean;
  }
  return alert_metric::error_rate;
}

alert_scope scope_of(const std::string& v) {
  if (v == "model") {
    return alert_scope::model;
  }
  if (v == "upstream") {
    return alert_scope::upstream;
  }
  if (v == "prompt_version") {
    return alert_scope::prompt_version;
  }
  if (v == "variant") {
    return alert_scope::variant;
  }
  return alert_scope::global;
}

// `above: x` or `below: x`, exactly one.
void read_comparison(reader& r, const YAML::Node& map, const std::string& path,
                     alert_rule_config& a) {
  const bool above = static_cast<bool>(map["above"]);
  const bool below = static_cast<bool>(map["below"]);
  if (above == below) {
    r.fail(map, path, "needs exactly one of above: <threshold> or below: <threshold>");
    return;
  }
  a.below = below;
  r.number(map, below ? "below" : "above", path, a.threshold);
}

const section<alert_rule_config>& rule_section() {
  static const section<alert_rule_config> s{
      {
          field<alert_rule_config>("name", hot, SY_AT(name), text_t{}),
          field<alert_rule_config>("metric", hot, SY_AT(metric), text_t{metric_problem}),
          field<alert_rule_config>("scope", hot, SY_AT(scope), text_t{scope_problem}),
          custom<alert_rule_config>("above", hot, "number ≥ 0", read_comparison),
          custom<alert_rule_config>("below", hot, "number ≥ 0",
                                    [](reader&, const YAML::Node&, const std::string&,
                                       alert_rule_config&) {}),  // read with `above`
          field<alert_rule_config>("window", hot, SY_AT(window), duration_t{}),
          field<alert_rule_config>("min_samples", hot, SY_AT(min_samples),
                                   integer_t{0, 1ull << 40}),
          field<alert_rule_config>("severity", hot, SY_AT(severity), text_t{severity_problem}),
          field<alert_rule_config>("model", hot, SY_AT(model), text_t{}),
          field<alert_rule_config>("upstream", hot, SY_AT(upstream), text_t{}),
          field<alert_rule_config>("prompt_version", hot, SY_AT(prompt_version), text_t{}),
          field<alert_rule_config>("experiment", hot, SY_AT(experiment), text_t{}),
          field<alert_rule_config>("variant", hot, SY_AT(variant), text_t{}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, alert_rule_config& a) {
        require_name(r, node, path, a.name);
        if (!node["metric"]) {
          r.fail(node, path + ".metric",
                 "is required: error_rate, p95_latency_ms, daily_spend_usd, "
                 "feedback_success_rate or feedback_score_mean");
        }
        a.kind = metric_of(a.metric);
        a.scope_kind = scope_of(a.scope);
        if (a.kind == alert_metric::daily_spend_usd && !node["window"]) {
          a.window = duration{24LL * 3600 * 1000};
        }
        if (a.window.count() > max_window_ms) {
          r.fail(node["window"], path + ".window", "must be at most 48h (what the gateway keeps)");
        }
        const bool rate =
            a.kind == alert_metric::error_rate || a.kind == alert_metric::feedback_success_rate;
        if (rate && a.threshold > 1) {
          r.fail(node[a.below ? "below" : "above"], path + (a.below ? ".below" : ".above"),
                 "is a rate: must be in [0, 1] (0.05 = 5%)");
        }
        if (!a.variant.empty() && a.experiment.empty()) {
          r.fail(node["variant"], path + ".variant",
                 "needs experiment: (variants are per experiment)");
        }
      }};
  return s;
}

const section<alerts_config>& alerts_section() {
  static const section<alerts_config> srm{
      {
          field<alerts_config>("p_value", hot, SY_AT(srm_p_value), fraction_t{1}),
          field<alerts_config>("severity", hot, SY_AT(srm_severity), text_t{severity_problem}),
      },
      nullptr};
  static const section<alerts_config> guardrails{
      {
          field<alerts_config>("severity", hot, SY_AT(guardrail_severity),
                               text_t{severity_problem}),
      },
      nullptr};
  static const section<alerts_config> s{
      {
          field<alerts_config>("evaluation_interval", hot, SY_AT(evaluation_interval),
                               duration_t{}),
          nested<alerts_config>(
              "srm", [](auto& a) -> auto& { return a; }, srm),
          nested<alerts_config>(
              "guardrails", [](auto& a) -> auto& { return a; }, guardrails),
          list_of(custom<alerts_config>("rules", hot, "list",
                                        [](reader& r, const YAML::Node& map,
                                           const std::string& path, alerts_config& a) {
                                          auto list = map["rules"];
                                          if (!list) {
                                            return;
                                          }
                                          if (!list.IsSequence()) {
                                            r.fail(list, path + ".rules", "must be a list");
                                            return;
                                          }
                                          for (std::size_t i = 0; i < list.size(); ++i) {
                                            alert_rule_config rule;
                                            rule_section().read(
                                                r, list[i],
                                                path + ".rules[" + std::to_string(i) + "]", rule);
                                            a.rules.push_back(std::move(rule));
                                          }
                                        }),
                  rule_section()),
      },
      nullptr};
  return s;
}

// The filters name things that exist; rule names are unique and not the always-on ones'.
void link_alerts(reader& r, const YAML::Node& node, config& c) {
  std::set<std::string> names;
  const auto rules = node["rules"];
  for (std::size_t i = 0; i < c.alerts.rules.size(); ++i) {
    const alert_rule_config& a = c.alerts.rules[i];
    const std::string path = "alerts.rules[" + std::to_string(i) + "]";
    const YAML::Node n = rules && rules.IsSequence() && i < rules.size() ? rules[i] : node;
    const auto at = [&](const char* key) { return n.IsMap() && n[key] ? n[key] : n; };
    if (a.name == "srm" || a.name == "guardrail") {
      r.fail(at("name"), path + ".name", "is the name of an always-on rule; pick another");
    } else if (!a.name.empty() && !names.insert(a.name).second) {
      r.fail(at("name"), path + ".name", "repeats the name of another rule");
    }
    if (!a.model.empty() && !c.find_model(a.model)) {
      r.fail(at("model"), path + ".model", "is not a name under models:");
    }
    if (!a.upstream.empty() &&
        std::none_of(c.upstreams.begin(), c.upstreams.end(),
                     [&](const upstream_config& u) { return u.name == a.upstream; })) {
      r.fail(at("upstream"), path + ".upstream", "is not a name under upstreams:");
    }
    if (!a.prompt_version.empty() && !c.find_prompt(a.prompt_version)) {
      r.fail(at("prompt_version"), path + ".prompt_version",
             "is not a prompt version under prompts: (write name@version)");
    }
    const experiment_config* e = a.experiment.empty() ? nullptr : c.find_experiment(a.experiment);
    if (!a.experiment.empty() && e == nullptr) {
      r.fail(at("experiment"), path + ".experiment", "is not a name under experiments:");
    }
    if (e != nullptr && !a.variant.empty() &&
        std::none_of(e->variants.begin(), e->variants.end(),
                     [&](const variant_config& v) { return v.name == a.variant; })) {
      r.fail(at("variant"), path + ".variant", "is not a variant of experiment " + a.experiment);
    }
  }
}

}  // namespace

key<config> alerts_key() {
  key<config> k =
      custom<config>("alerts", hot, "section",
                     [](reader& r, const YAML::Node& root, const std::string&, config& c) {
                       if (auto n = root["alerts"]) {
                         alerts_section().read(r, n, "alerts", c.alerts);
                         link_alerts(r, n, c);
                       }
                     });
  k.children = alerts_section().describe("");
  return k;
}

}  // namespace switchyard::config_detail
