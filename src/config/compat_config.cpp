// `compat:`: one sub-section per system whose clients Switchyard serves unchanged
// (docs/compat-prompt-versioner.md). A sibling (`compat.modelab`) adds its struct member to
// compat_config (config.hpp), its section function in its own file, and one `nested<>` line to
// compat_section() below.
#include "schema.hpp"

namespace switchyard::config_detail {

namespace {

constexpr applies hot = applies::on_reload;

const section<prompt_versioner_compat_config>& prompt_versioner_section() {
  static const section<prompt_versioner_compat_config> s{
      {
          field<prompt_versioner_compat_config>("enabled", hot, SY_AT(enabled), boolean_t{}),
          field<prompt_versioner_compat_config>(
              "min_calls_for_ab_test", hot, SY_AT(min_calls_for_ab_test), integer_t{1, 1u << 30}),
          field<prompt_versioner_compat_config>("max_ab_test_versions", hot,
                                                SY_AT(max_ab_test_versions), integer_t{1, 1000}),
          field<prompt_versioner_compat_config>("score_min", hot, SY_AT(score_min), number_t{}),
          field<prompt_versioner_compat_config>("score_max", hot, SY_AT(score_max), number_t{}),
          field<prompt_versioner_compat_config>("require_admin_token", hot,
                                                SY_AT(require_admin_token), boolean_t{}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path,
         prompt_versioner_compat_config& c) {
        if (c.score_max <= c.score_min) {
          r.fail(node, reader::join(path, "score_max"),
                 "must be greater than score_min (feedback scores map from [score_min, score_max] "
                 "onto [0, 1])");
        }
      }};
  return s;
}

const section<compat_config>& compat_section() {
  static const section<compat_config> s{
      {
          nested<compat_config>("prompt_versioner", SY_AT(prompt_versioner),
                                prompt_versioner_section()),
          nested<compat_config>("modelab", SY_AT(modelab), modelab_section()),
          // Siblings: one nested<compat_config>("<system>", SY_AT(<system>), <section>()) each.
      },
      nullptr};
  return s;
}

}  // namespace

key<config> compat_key() {
  return nested<config>("compat", SY_AT(compat), compat_section());
}

}  // namespace switchyard::config_detail
