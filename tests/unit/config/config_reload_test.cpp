// The reload contract as types (boot vs hot parts of the config), the declared schema of each
// section (defaults, ranges, unknown keys) and feedback-key rotation in the snapshot.
#include "switchyard/config/config.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/experiments/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchyard {
namespace {

constexpr std::string_view base = R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1" }
models:
  - { name: m, upstream: up }
)";

result<config> parse(std::string_view extra) {
  return parse_config(std::string(base) + std::string(extra), "/etc/sy");
}

// The line of `extra`'s first line in the parsed text: base has 5 lines (the first is empty).
constexpr int first_extra_line = 6;

std::string error_of(std::string_view extra) {
  auto c = parse(extra);
  return c ? std::string("(valid)") : c.error().message;
}

TEST(config_reload, a_changed_boot_key_is_named_by_its_path) {
  auto a = parse("");
  ASSERT_TRUE(a) << a.error().message;
  for (auto [extra, path] : std::vector<std::pair<std::string, std::string>>{
           {"limits: { max_body_bytes: 1024 }\n", "limits.max_body_bytes"},
           {"timeouts: { idle: 5s }\n", "timeouts.idle"},
           {"retry: { budget_percent: 5 }\n", "retry.budget_percent"},
           {"feedback: { max_event_names: 3 }\n", "feedback.max_event_names"},
           {"log: { level: warn }\n", "log.level"},
           {"listen: 127.0.0.1:1\n", "listen"},
           {"workers: 3\n", "workers"},
           {"stats_flush: 5s\n", "stats_flush"},
           {"rate_limits: [ { concurrent: 2 } ]\n", "rate_limits"},
           {"trace: { path: t.jsonl }\n", "trace.path"},
           {"metrics: { latency_buckets: [0.1, 1] }\n", "metrics.latency_buckets"},
       }) {
    auto b = parse(extra);
    ASSERT_TRUE(b) << extra << b.error().message;
    EXPECT_EQ(boot_difference(*a, *b), path) << extra;
    EXPECT_EQ(restart_required(*a, *b), path.substr(0, path.find('.'))) << extra;
  }
  auto b = parse("");
  b->upstreams[0].breaker.cooldown = std::chrono::seconds(9);
  EXPECT_EQ(boot_difference(*a, *b), "upstreams") << "pools and breakers are built at start";
}

TEST(config_reload, a_changed_hot_key_applies) {
  auto a = parse("");
  ASSERT_TRUE(a) << a.error().message;
  for (const char* extra : {
           "feedback: { signing_key: 0123456789abcdef0123 }\n",
           "retry: { max_attempts: 5, base: 10ms, cap: 1s, deadline: 9s }\n",
           "admin_token: t\napi_token: u\n",
           "prompts: [ { name: p, versions: [ { version: v1, template: hi } ] } ]\n",
       }) {
    auto b = parse(extra);
    ASSERT_TRUE(b) << extra << b.error().message;
    EXPECT_EQ(boot_difference(*a, *b), "") << extra;
    EXPECT_EQ(restart_required(*a, *b), "") << extra;
  }
  auto b = parse("");
  b->models[0].model = "other";  // models route by the boot part's upstream index
  EXPECT_EQ(restart_required(*a, *b), "");
}

TEST(config_reload, the_parts_are_types) {
  auto a = parse("feedback: { signing_key: 0123456789abcdef0123, max_events_per_id: 7 }\n");
  ASSERT_TRUE(a) << a.error().message;
  const hot_config& hot = *a;
  const boot_config& boot = *a;
  EXPECT_EQ(hot.feedback.signing_key, "0123456789abcdef0123");
  EXPECT_EQ(boot.feedback_caps.max_events_per_id, 7u);
  // A hot copy (what the snapshot holds) keeps what requests read.
  hot_config copy = hot;
  EXPECT_NE(copy.find_model("m"), nullptr);
}

TEST(config_reload, keys_declare_whether_a_reload_applies_them) {
  const auto keys = config_keys();
  auto find = [&](std::string_view path) -> const config_key_info* {
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const config_key_info& k) { return k.path == path; });
    return it == keys.end() ? nullptr : &*it;
  };
  for (auto [path, reloadable] : std::vector<std::pair<std::string, bool>>{
           {"listen", false},
           {"workers", false},
           {"admin_token", true},
           {"limits.max_body_bytes", false},
           {"timeouts.drain_grace", false},
           {"retry.max_attempts", true},
           {"retry.budget_percent", false},
           {"feedback.signing_key", true},
           {"feedback.max_events_per_id", false},
           {"log.level", false},
           {"models", true},
           {"experiments", true},
           {"upstreams", false},
           {"metrics.overhead_buckets", false},
           {"upstreams[].max_connections", false},
           {"upstreams[].breaker.cooldown", false},
           {"rate_limits[].concurrent", false},
           {"models[].fallbacks", true},
           {"models[].price.input_per_mtok", true},
           {"prompts[].versions", true},
           {"experiments[].coverage", true},
           {"experiments[].match.model", true},
           {"experiments[].guardrails.alpha", true},
       }) {
    const auto* k = find(path);
    ASSERT_NE(k, nullptr) << path;
    EXPECT_EQ(k->reloadable, reloadable) << path;
  }
  EXPECT_EQ(find("retry.max_attempts")->type, "integer in [1, 20]");
  EXPECT_EQ(find("timeouts.drain_grace")->type, "duration ≥ 0");
}

TEST(config_reload, declared_defaults_apply_when_keys_are_absent) {
  auto c = parse("limits: {}\ntimeouts: {}\nretry: {}\nlog: {}\nfeedback: {}\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->limits, limits_config{});
  EXPECT_EQ(c->timeouts, timeouts_config{});
  EXPECT_EQ(c->retry, retry_config{});
  EXPECT_EQ(c->retry_budget, retry_budget_config{});
  EXPECT_EQ(c->log, log_config{});
  EXPECT_EQ(c->feedback, feedback_config{});
  EXPECT_EQ(c->feedback_caps, feedback_caps_config{});
  EXPECT_EQ(c->models[0].retry, retry_config{}) << "a model inherits the global retry";
}

TEST(config_reload, declared_ranges_and_unknown_keys_name_path_and_line) {
  const auto line = std::to_string(first_extra_line);
  for (auto [extra, expected] : std::vector<std::pair<std::string, std::string>>{
           {"limits: { max_header_bytes: 10 }\n",
            "limits.max_header_bytes: must be an integer in [1024, 1048576] (line " + line + ")"},
           {"timeouts: { idle: 0s }\n",
            "timeouts.idle: must be a positive duration with a unit, like 250ms, 5s or 2m (line " +
                line + ")"},
           {"retry: { budget_percent: 101 }\n",
            "retry.budget_percent: must be at most 100 (line " + line + ")"},
           {"retry: { max_atempts: 2 }\n", "retry.max_atempts: unknown key (line " + line + ")"},
           {"feedback: { signing_key: short }\n",
            "feedback.signing_key: must be at least 16 characters (line " + line + ")"},
           {"feedback: { max_events: 2 }\n",
            "feedback.max_events: unknown key (line " + line + ")"},
           {"log: { level: loud }\n",
            "log.level: must be one of trace, debug, info, warn, error, off (line " + line + ")"},
           {"log: { acess: off }\n", "log.acess: unknown key (line " + line + ")"},
           {"workers: 2000\n", "workers: must be an integer in [0, 1024] (line " + line + ")"},
           {"limits: 3\n", "limits: must be a mapping (line " + line + ")"},
       }) {
    const auto msg = error_of(extra);
    EXPECT_NE(msg.find(expected), std::string::npos)
        << "expected: " << expected << "\ngot: " << msg;
  }
}

TEST(config_reload, a_model_retry_override_refuses_the_gateway_wide_keys) {
  auto msg = error_of(R"(
retry: { max_attempts: 2 }
models_extra: 1
)");
  EXPECT_NE(msg.find("models_extra: unknown key"), std::string::npos) << msg;
  auto c = parse_config(R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models:
  - { name: m, upstream: up, retry: { budget_percent: 3, max_attempts: 7 } }
)");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("models[0].retry.budget_percent: is gateway-wide"),
            std::string::npos)
      << c.error().message;
}

// The snapshot's keys: new ids are signed with the current key, ids of the key a reload replaced
// still verify, anything else is refused.
TEST(config_reload, feedback_ids_verify_with_the_current_or_the_previous_key) {
  const std::string k_old = "old-key-0123456789abcdef";
  const std::string k_new = "new-key-0123456789abcdef";
  auto cfg = parse("");
  ASSERT_TRUE(cfg);
  auto p = build_plan(std::make_shared<const config>(std::move(*cfg)), {}, 1, {},
                      signing_keys{k_new, k_old});
  ASSERT_TRUE(p) << p.error().message;
  const feedback_claims claims{"exp", "control", "", 1700000000, "00000000000000ab", 0};
  EXPECT_TRUE(verify_feedback(**p, sign_feedback_id(claims, k_new)));
  auto old = verify_feedback(**p, sign_feedback_id(claims, k_old));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->variant, "control");
  auto forged = verify_feedback(**p, sign_feedback_id(claims, "another-key-0123456789"));
  ASSERT_FALSE(forged);
  EXPECT_NE(forged.error().message.find("signature does not match"), std::string::npos);

  auto after = build_plan((*p)->cfg, {}, 2, {}, signing_keys{k_new, ""});
  ASSERT_TRUE(after);
  EXPECT_FALSE(verify_feedback(**after, sign_feedback_id(claims, k_old)))
      << "the previous key is accepted until the next reload only";
}

}  // namespace
}  // namespace switchyard
