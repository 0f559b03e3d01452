#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchyard {
namespace {

const std::string base = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: small, upstream: up } ]
)";

std::string error_of(const std::string& extra) {
  auto c = parse_config(base + extra);
  return c ? "" : c.error().message;
}

TEST(compat_config, defaults_without_the_section) {
  auto c = parse_config(base);
  ASSERT_TRUE(c) << c.error().message;
  const auto& pv = c->compat.prompt_versioner;
  EXPECT_FALSE(pv.enabled);
  EXPECT_EQ(pv.min_calls_for_ab_test, 30u);
  EXPECT_EQ(pv.max_ab_test_versions, 10u);
  EXPECT_EQ(pv.score_min, 1);
  EXPECT_EQ(pv.score_max, 5);
  EXPECT_TRUE(pv.require_admin_token);
}

TEST(compat_config, reads_prompt_versioner) {
  auto c = parse_config(base + R"(
compat:
  prompt_versioner: { enabled: true, min_calls_for_ab_test: 5, max_ab_test_versions: 3,
                      score_min: 0, score_max: 10, require_admin_token: false }
)");
  ASSERT_TRUE(c) << c.error().message;
  const auto& pv = c->compat.prompt_versioner;
  EXPECT_TRUE(pv.enabled);
  EXPECT_EQ(pv.min_calls_for_ab_test, 5u);
  EXPECT_EQ(pv.max_ab_test_versions, 3u);
  EXPECT_EQ(pv.score_max, 10);
  EXPECT_FALSE(pv.require_admin_token);
}

TEST(compat_config, errors_name_the_key_path) {
  EXPECT_NE(error_of("compat: { prompt_versioner: { enabld: true } }")
                .find("compat.prompt_versioner.enabld: unknown key"),
            std::string::npos)
      << error_of("compat: { prompt_versioner: { enabld: true } }");
  EXPECT_NE(error_of("compat: { prompt_versionr: {} }").find("compat.prompt_versionr: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("compat: { prompt_versioner: { max_ab_test_versions: 0 } }")
                .find("compat.prompt_versioner.max_ab_test_versions"),
            std::string::npos);
  EXPECT_NE(error_of("compat: { prompt_versioner: { score_min: 5, score_max: 5 } }")
                .find("compat.prompt_versioner.score_max: must be greater than score_min"),
            std::string::npos);
}

TEST(compat_config, keys_are_declared_and_reloadable) {
  const auto keys = config_keys();
  for (const char* path :
       {"compat.prompt_versioner.enabled", "compat.prompt_versioner.min_calls_for_ab_test"}) {
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const config_key_info& k) { return k.path == path; });
    ASSERT_NE(it, keys.end()) << path;
    EXPECT_TRUE(it->reloadable) << path;
  }
}

}  // namespace
}  // namespace switchyard
