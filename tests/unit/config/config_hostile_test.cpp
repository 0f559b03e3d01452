// Config keys of issue 10 (drain grace, buffered bytes, rate-limit overflow, log rotation,
// feedback caps, admin listener, api token) and regression cases the config fuzzer found.
#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

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

TEST(config_hostile, defaults) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->timeouts.drain_grace, std::chrono::seconds(5));
  EXPECT_EQ(c->limits.max_buffered_bytes, 512ull << 20);
  EXPECT_EQ(c->log.access_max_bytes, 100ull << 20);
  EXPECT_EQ(c->log.max_files, 5u);
  EXPECT_EQ(c->feedback_caps.max_events_per_id, 32u);
  EXPECT_EQ(c->feedback_caps.max_event_names, 64u);
  EXPECT_TRUE(c->admin_listen_host.empty());
  EXPECT_TRUE(c->api_token.empty());
}

TEST(config_hostile, keys_are_read) {
  auto c = parse(R"(
admin_listen: 127.0.0.1:9091
api_token: reader
timeouts: { drain: 20s, drain_grace: 3s }
limits: { max_buffered_bytes: 1048576 }
log: { access: /var/log/a.log, access_max_bytes: 65536, max_files: 3 }
feedback: { max_events_per_id: 2, max_event_names: 9 }
rate_limits:
  - { scope: api_key, requests_per_minute: 10, on_overflow: allow }
  - { scope: user, requests_per_minute: 10 }
)");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->admin_listen_host, "127.0.0.1");
  EXPECT_EQ(c->admin_listen_port, 9091);
  EXPECT_EQ(c->api_token, "reader");
  EXPECT_EQ(c->timeouts.drain_grace, std::chrono::seconds(3));
  EXPECT_EQ(c->limits.max_buffered_bytes, 1048576u);
  EXPECT_EQ(c->log.access_max_bytes, 65536u);
  EXPECT_EQ(c->log.max_files, 3u);
  EXPECT_EQ(c->feedback_caps.max_events_per_id, 2u);
  EXPECT_EQ(c->feedback_caps.max_event_names, 9u);
  ASSERT_EQ(c->rate_limits.size(), 2u);
  EXPECT_FALSE(c->rate_limits[0].deny_on_overflow);
  EXPECT_TRUE(c->rate_limits[1].deny_on_overflow);
}

TEST(config_hostile, bad_values_name_their_key) {
  for (auto [extra, key] : std::vector<std::pair<std::string, std::string>>{
           {"timeouts: { drain: 2s, drain_grace: 5s }\n", "timeouts.drain_grace"},
           {"rate_limits: [ { requests_per_minute: 1, on_overflow: maybe } ]\n",
            "rate_limits[0].on_overflow"},
           {"admin_listen: nowhere\n", "admin_listen"},
           {"log: { max_files: 0 }\n", "log.max_files"},
       }) {
    auto c = parse(extra);
    ASSERT_FALSE(c) << extra;
    EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
  }
}

TEST(config_hostile, caps_and_listeners_need_a_restart_tokens_do_not) {
  auto a = parse("");
  auto b = parse("feedback: { max_events_per_id: 2 }\n");
  auto c = parse("admin_listen: 127.0.0.1:9091\n");
  auto d = parse("api_token: t\n");
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(restart_required(*a, *b), "feedback");
  EXPECT_EQ(restart_required(*a, *c), "admin_listen");
  EXPECT_EQ(restart_required(*a, *d), "") << "api_token is read per request from the snapshot";
}

// config_fuzz: a models entry that is a scalar made the per-model retry lookup throw
// YAML::BadSubscript out of parse_config (a crash of --check-config and of a reload).
TEST(config_hostile, fuzz_regression_scalar_model_entry) {
  auto c = parse_config(R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1" }
models:
  - just-a-name
  - { name: m, upstream: up, retry: { max_attempts: 2 } }
)");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("models[0]"), std::string::npos) << c.error().message;
}

// config_fuzz: a huge duration overflowed the cast to milliseconds (UB); inf and nan too.
TEST(config_hostile, fuzz_regression_huge_durations) {
  EXPECT_FALSE(parse_duration("777777777777777777777777777777777777777777777777710s"));
  EXPECT_FALSE(parse_duration("infs"));
  EXPECT_FALSE(parse_duration("nanms"));
  EXPECT_FALSE(parse_duration("367d"));
  EXPECT_EQ(parse_duration("8760h"), std::chrono::hours(8760));
  auto c = parse("timeouts: { drain: 7777777777777777777777777777777777777777777s }\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("timeouts.drain"), std::string::npos);
}

}  // namespace
}  // namespace switchyard
