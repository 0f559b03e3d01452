// modelab compatibility (docs/compat-modelab.md): the `compat.modelab` section (its server API)
// and the rules of an experiment with `hash: modelab` (modelab's SDK assignment). `compat:`
// itself is compat_config.cpp's; it nests this section as `modelab`.
#include "schema.hpp"
#include "yaml_reader.hpp"

#include <cmath>

namespace switchyard::config_detail {

namespace {

constexpr applies hot = applies::on_reload;

// Integer weights beyond this are refused: modelab accepts any Python int, but a sum past 2^63
// would overflow here, and a million already splits 10,000 buckets finer than they can show.
constexpr double max_modelab_weight = 1'000'000;

}  // namespace

const section<modelab_config>& modelab_section() {
  static const section<modelab_config> s{
      {
          field<modelab_config>("enabled", hot, SY_AT(enabled), boolean_t{}),
          field<modelab_config>("api_key", hot, SY_AT(api_key), text_t{}),
          field<modelab_config>("max_batch_records", hot, SY_AT(max_batch_records),
                                integer_t{1, 100'000}),
          field<modelab_config>("max_body_bytes", hot, SY_AT(max_body_bytes),
                                integer_t{1024, 64ull << 20}),
          field<modelab_config>("max_string_bytes", hot, SY_AT(max_string_bytes),
                                integer_t{256, 1ull << 20}),
      },
      nullptr};
  return s;
}

void check_modelab_experiment(reader& r, const YAML::Node& node, const std::string& path,
                              experiment_config& e) {
  if (node["namespace"]) {
    r.fail(node["namespace"], path + ".namespace",
           "namespaces are GrowthBook's hashing; not available with hash: modelab");
  }
  if (node["rollout_pct"] && node["coverage"]) {
    r.fail(node["coverage"], path + ".coverage",
           "give rollout_pct (modelab's percentage) or coverage, not both");
  }
  if (e.rollout_pct < 0) {
    // modelab compares against int(rollout_pct / 100 * 10000): keep the percentage as the user
    // thinks of it so the same arithmetic runs (33.3 % is 3329 buckets there, not 3330).
    e.rollout_pct = e.coverage * 100;
  }
  const auto variants = node["variants"];
  for (std::size_t v = 0; v < e.variants.size(); ++v) {
    auto& var = e.variants[v];
    const auto vpath = path + ".variants[" + std::to_string(v) + "].weight";
    if (var.weight < 0) {
      var.weight = 50;  // modelab's default weight
      continue;
    }
    if (var.weight != std::floor(var.weight) || var.weight > max_modelab_weight) {
      r.fail(variants[v]["weight"], vpath,
             "must be an integer in [0, 1000000] with hash: modelab (modelab's weights are "
             "integers, default 50)");
    }
  }
}

}  // namespace switchyard::config_detail
