// The experiments of the configuration: `experiments:` entries, their match, unit, namespace,
// variants (with params), analysis and guardrails, each declared as a section (schema.hpp).
#include "schema.hpp"
#include "yaml_reader.hpp"

#include <algorithm>
#include <charconv>

namespace switchyard::config_detail {

namespace {

void read_params(reader& r, const YAML::Node& node, const std::string& path, variant_config& v) {
  auto params = node["params"];
  if (!params) {
    return;
  }
  if (!params.IsMap()) {
    r.fail(params, path + ".params", "must be a mapping of request field to value");
    return;
  }
  for (const auto& kv : params) {
    auto key = kv.first.as<std::string>();
    static constexpr std::string_view reserved[] = {"model",  "messages",       "prompt",  "input",
                                                    "stream", "stream_options", "metadata"};
    if (std::find(std::begin(reserved), std::end(reserved), key) != std::end(reserved)) {
      r.fail(kv.first, path + ".params." + key,
             "is set by the gateway or the client, not by a variant (use model: or prompt:)");
      continue;
    }
    std::string json;
    yaml_to_json(kv.second, json);
    v.params.emplace_back(key, std::move(json));
  }
}

constexpr applies hot = applies::on_reload;

const section<variant_config>& variant_section() {
  static const section<variant_config> s{
      {
          field<variant_config>("name", hot, SY_AT(name), text_t{}),
          custom<variant_config>(
              "weight", hot, "number ≥ 0",
              [](reader& r, const YAML::Node& map, const std::string& path, variant_config& v) {
                if (map["weight"]) {
                  v.weight = 0;  // given: no longer "share what is left"
                  r.number(map, "weight", path, v.weight);
                }
              }),
          field<variant_config>("prompt", hot, SY_AT(prompt), text_t{}),
          field<variant_config>("model", hot, SY_AT(model), text_t{}),
          custom<variant_config>("params", hot, "mapping of request field to value", read_params),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, variant_config& v) {
        require_name(r, node, path, v.name);
      }};
  return s;
}

void read_unit(reader& r, const YAML::Node& node, const std::string& path, experiment_config& e) {
  r.string(node, "unit", path, e.unit);
  if (e.unit.starts_with("header:") && e.unit.size() > 7) {
    e.unit_type = unit_kind::header;
    e.unit_header = e.unit.substr(7);
    std::transform(e.unit_header.begin(), e.unit_header.end(), e.unit_header.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  } else if (e.unit == "body:user") {
    e.unit_type = unit_kind::body_user;
  } else if (e.unit == "api_key") {
    e.unit_type = unit_kind::api_key;
  } else if (e.unit == "request") {
    e.unit_type = unit_kind::request;
  } else {
    r.fail(node["unit"], path + ".unit",
           "must be header:<name> (e.g. header:x-user-id), body:user, api_key or request");
  }
}

void read_match_header(reader& r, const YAML::Node& node, const std::string& path,
                       experiment_config& e) {
  std::string header;
  r.string(node, "header", path, header);
  if (!header.empty()) {
    // "x-tenant" (present) or "x-tenant=acme" (equal).
    auto eq = header.find('=');
    e.match_header = header.substr(0, eq);
    if (eq != std::string::npos) {
      e.match_header_value = header.substr(eq + 1);
    }
    std::transform(e.match_header.begin(), e.match_header.end(), e.match_header.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  }
}

const char* endpoint_problem(const std::string& v) {
  // count_tokens requests match as `messages` (they count what a Messages request would send).
  return !v.empty() && v != "chat_completions" && v != "completions" && v != "embeddings" &&
                 v != "responses" && v != "messages"
             ? "must be chat_completions, completions, embeddings, responses or messages"
             : nullptr;
}

const char* hash_problem(const std::string& v) {
  return v != "growthbook" && v != "modelab" ? "must be growthbook or modelab" : nullptr;
}

const char* status_problem(const std::string& v) {
  return v != "running" && v != "paused" && v != "concluded"
             ? "must be running, paused or concluded"
             : nullptr;
}

// `match:` fills the experiment's match_* members.
const section<experiment_config>& match_section() {
  static const section<experiment_config> s{
      {
          field<experiment_config>("model", hot, SY_AT(match_model), text_t{}),
          field<experiment_config>("endpoint", hot, SY_AT(match_endpoint),
                                   text_t{endpoint_problem}),
          custom<experiment_config>("header", hot, "name or name=value", read_match_header),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, experiment_config& e) {
        if (e.match_model.empty()) {
          r.fail(node, path + ".model", "is required: the model name clients request");
        }
      }};
  return s;
}

// { name: ns, range: [0, 0.5] }: experiments sharing a namespace with disjoint ranges never see
// the same unit (GrowthBook namespaces).
void read_namespace(reader& r, const YAML::Node& node, const std::string& path,
                    experiment_config& e) {
  auto ns = node["namespace"];
  if (!ns || !r.check_map(ns, path + ".namespace", {"name", "range"})) {
    return;
  }
  r.string(ns, "name", path + ".namespace", e.ns);
  auto range = ns["range"];
  double lo = -1, hi = -1;
  if (range && range.IsSequence() && range.size() == 2) {
    auto a = r.text(range[0], path + ".namespace.range");
    auto b = r.text(range[1], path + ".namespace.range");
    if (a && b) {
      std::from_chars(a->data(), a->data() + a->size(), lo);
      std::from_chars(b->data(), b->data() + b->size(), hi);
    }
  }
  if (e.ns.empty() || lo < 0 || hi > 1 || lo >= hi) {
    r.fail(ns, path + ".namespace", "needs name and range: [lo, hi] with 0 <= lo < hi <= 1");
  } else {
    e.ns_lo = lo;
    e.ns_hi = hi;
  }
}

void read_variants(reader& r, const YAML::Node& node, const std::string& path,
                   experiment_config& e) {
  read_list(r, node, "variants", e.variants,
            [&](reader& rr, const YAML::Node& n, const std::string& p, variant_config& v) {
              variant_section().read(rr, n, path + "." + p, v);
            });
}

void check_experiment(reader& r, const YAML::Node& node, const std::string& path,
                      experiment_config& e) {
  require_name(r, node, path, e.name);
  if (!node["match"]) {
    r.fail(node, path + ".match", "is required, e.g. { model: summarizer }");
  }
  if (!node["seed"]) {
    e.seed = e.name;  // the hashing salt defaults to the name
  }
  if (e.variants.size() < 2) {
    r.fail(node, path + ".variants", "needs at least two variants (the first is control)");
  }
  if (node["rollout_pct"] && e.hash != "modelab") {
    r.fail(node["rollout_pct"], path + ".rollout_pct",
           "is modelab's; use coverage (a fraction) with the GrowthBook hash, or hash: modelab");
  }
}

}  // namespace

const section<experiment_config>& experiment_section() {
  static const section<experiment_config> s{
      {
          field<experiment_config>("name", hot, SY_AT(name), text_t{}),
          nested<experiment_config>(
              "match", [](auto& e) -> auto& { return e; }, match_section()),
          custom<experiment_config>("unit", hot, "header:<name> | body:user | api_key | request",
                                    read_unit),
          field<experiment_config>("seed", hot, SY_AT(seed), text_t{}),
          field<experiment_config>("coverage", hot, SY_AT(coverage), fraction_t{1}),
          field<experiment_config>("hash", hot, SY_AT(hash), text_t{hash_problem}),
          field<experiment_config>("rollout_pct", hot, SY_AT(rollout_pct), fraction_t{100}),
          custom<experiment_config>("namespace", hot, "{ name, range: [lo, hi] }", read_namespace),
          field<experiment_config>("status", hot, SY_AT(status), text_t{status_problem}),
          field<experiment_config>("winner", hot, SY_AT(winner), text_t{}),
          field<experiment_config>("allow_override", hot, SY_AT(allow_override), boolean_t{}),
          custom<experiment_config>("variants", hot, "list", read_variants),
          nested<experiment_config>("analysis", SY_AT(analysis), analysis_section()),
          nested<experiment_config>("guardrails", SY_AT(guardrails), guardrails_section()),
      },
      check_experiment};
  return s;
}

namespace {

void read_experiment(reader& r, const YAML::Node& node, const std::string& path,
                     experiment_config& e) {
  experiment_section().read(r, node, path, e);
}

}  // namespace

void read_experiments(reader& r, const YAML::Node& root, config& c) {
  read_list(r, root, "experiments", c.experiments, read_experiment);
}

}  // namespace switchyard::config_detail
