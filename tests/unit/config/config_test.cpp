#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

std::optional<std::string> fake_env(const char* name) {
  if (std::string_view(name) == "KEY") {
    return "sk-from-env";
  }
  return std::nullopt;
}

result<config> parse(std::string_view yaml) {
  return parse_config(yaml, "/etc/sy", fake_env);
}

constexpr std::string_view minimal = R"(
upstreams:
  - { name: up, base_url: "https://api.example.com/v1/", api_key: "${KEY}" }
models:
  - { name: gpt-4o-mini, upstream: up }
)";

TEST(config, minimal_file_gets_defaults_and_derived_fields) {
  auto c = parse(minimal);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->timeouts.connect, std::chrono::seconds(5));
  EXPECT_EQ(c->limits.max_body_bytes, 32u * 1024 * 1024);
  const auto& up = c->upstreams.at(0);
  EXPECT_TRUE(up.tls);
  EXPECT_EQ(up.host, "api.example.com");
  EXPECT_EQ(up.port, "443");
  EXPECT_EQ(up.path_prefix, "/v1");
  EXPECT_EQ(up.api_key, "sk-from-env");
  EXPECT_TRUE(up.tls_verify);
  ASSERT_NE(c->find_model("gpt-4o-mini"), nullptr);
  EXPECT_EQ(c->find_model("gpt-4o-mini")->model, "gpt-4o-mini");
  EXPECT_EQ(c->find_model("nope"), nullptr);
}

TEST(config, full_file) {
  auto c = parse(R"(
listen: 127.0.0.1:0
workers: 3
limits: { max_body_bytes: 1000, max_header_bytes: 4096 }
timeouts: { idle: 2s, connect: 250ms, first_byte: 1m, stream_idle: 1m30s, drain: 1h }
upstreams:
  - name: local
    base_url: http://127.0.0.1:9000
    api_key: "${UNSET:-fallback}"
    tls_verify: false
    pass_authorization: true
    max_connections: 8
    headers: { X-Tenant: blue }
models:
  - { name: a, upstream: local, model: b, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
log: { level: warn, access: off }
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 0);
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->timeouts.connect, std::chrono::milliseconds(250));
  EXPECT_EQ(c->timeouts.first_byte, std::chrono::minutes(1));
  EXPECT_EQ(c->timeouts.stream_idle, std::chrono::seconds(90));
  const auto& up = c->upstreams.at(0);
  EXPECT_FALSE(up.tls);
  EXPECT_EQ(up.port, "9000");
  EXPECT_EQ(up.path_prefix, "");
  EXPECT_EQ(up.api_key, "fallback");
  EXPECT_FALSE(up.tls_verify);
  EXPECT_TRUE(up.pass_authorization);
  ASSERT_EQ(up.headers.size(), 1u);
  EXPECT_EQ(up.headers[0].second, "blue");
  EXPECT_EQ(c->models.at(0).model, "b");
  EXPECT_DOUBLE_EQ(c->models.at(0).price.output_per_mtok, 0.6);
  EXPECT_EQ(c->log.access, "off");
}

struct bad_config {
  std::string yaml;
  std::string message;  // the error must contain this, key path and line included
};

class config_errors : public ::testing::TestWithParam<bad_config> {};

TEST_P(config_errors, name_the_key_path_and_line) {
  auto c = parse(GetParam().yaml);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find(GetParam().message), std::string::npos)
      << "got: " << c.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    cases, config_errors,
    ::testing::Values(
        bad_config{"listen: [1\n", "invalid YAML"},
        bad_config{"upstreams: []\nmodels: []\nlistenn: 1\n", "listenn: unknown key (line 3)"},
        bad_config{"listen: nowhere\n", "listen: must be host:port"},
        bad_config{std::string(minimal) + "timeouts: { connect: 5 }\n",
                   "timeouts.connect: must be a positive duration with a unit, like 250ms, 5s "
                   "or 2m (line 6)"},
        bad_config{std::string(minimal) + "workers: -1\n", "workers: must be an integer"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "https://x/v1", api_key: "${MISSING}" }
models: [ { name: m, upstream: up } ]
)",
                   "upstreams[0].api_key: environment variable MISSING is not set (use "
                   "${MISSING:-default} to make it optional) (line 3)"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "ftp://x" }
models: [ { name: m, upstream: up } ]
)",
                   "upstreams[0].base_url: must be an http:// or https:// URL"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "http://x", max_connections: 0 }
models: [ { name: m, upstream: up } ]
)",
                   "upstreams[0].max_connections: must be an integer in [1, 100000] (line 3)"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "http://x" }
models:
  - { name: m, upstream: up }
  - { name: n, upstream: elsewhere }
)",
                   "models[1].upstream: no upstream named elsewhere (line 6)"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "http://x", tls_verify: maybe }
models: [ { name: m, upstream: up, pricee: 1 } ]
)",
                   "models[0].pricee: unknown key (line 4)"},
        bad_config{R"(
upstreams:
  - { name: up, base_url: "http://x" }
models: [ { name: m, upstream: up }, { name: m, upstream: up } ]
)",
                   "models[1].name: duplicate model name m"},
        bad_config{"log: { level: loud }\n", "log.level: must be one of"},
        bad_config{"workers: 1\n", "upstreams: at least one upstream is required"}));

TEST(config, every_error_is_reported_at_once) {
  auto c = parse(R"(
upstreams:
  - { name: up, base_url: "http://x", tls_verify: maybe }
models: [ { name: m, upstream: up, pricee: 1 } ]
)");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("upstreams[0].tls_verify: must be true or false (line 3)"),
            std::string::npos);
  EXPECT_NE(c.error().message.find("models[0].pricee: unknown key (line 4)"), std::string::npos);
}

TEST(config, duration_parses_units_and_compounds) {
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("5s"), std::chrono::milliseconds(5000));
  EXPECT_EQ(parse_duration("2m"), std::chrono::milliseconds(120000));
  EXPECT_EQ(parse_duration("1h"), std::chrono::milliseconds(3600000));
  EXPECT_EQ(parse_duration("1m30s"), std::chrono::milliseconds(90000));
  EXPECT_EQ(parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration("-1s"));
}

}  // namespace
}  // namespace switchyard

namespace switchyard {
namespace {

TEST(config, resilience_keys) {
  auto c = parse(R"(
retry: { max_attempts: 4, base: 100ms, cap: 2s, budget_percent: 10, budget_min: 2 }
upstreams:
  - { name: a, base_url: "http://a", breaker: { consecutive_failures: 3, cooldown: 1s } }
  - { name: b, base_url: "http://b" }
models:
  - name: m
    upstream: a
    model: m-a
    fallbacks: [ { upstream: b }, { upstream: b, model: other } ]
    retry: { max_attempts: 2 }
  - { name: n, upstream: b }
rate_limits:
  - { scope: [api_key, model], requests_per_minute: 600, tokens_per_minute: 200000 }
  - { scope: user, user_header: x-tenant, concurrent: 4, model: n }
  - { requests: 10, period: 1s }
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->retry.max_attempts, 4u);
  EXPECT_EQ(c->retry.cap, std::chrono::seconds(2));
  const auto& m = *c->find_model("m");
  EXPECT_EQ(m.retry.max_attempts, 2u);
  EXPECT_EQ(m.retry.base, std::chrono::milliseconds(100)) << "inherits the global keys";
  ASSERT_EQ(m.fallbacks.size(), 2u);
  EXPECT_EQ(m.fallbacks[0].model, "m-a") << "defaults to the primary's upstream model";
  EXPECT_EQ(m.fallbacks[0].upstream_index, 1u);
  EXPECT_EQ(m.fallbacks[1].model, "other");
  EXPECT_EQ(c->find_model("n")->retry.max_attempts, 4u);
  EXPECT_EQ(c->upstreams[0].breaker.consecutive_failures, 3u);
  ASSERT_EQ(c->rate_limits.size(), 3u);
  EXPECT_EQ(c->rate_limits[0].scope,
            (std::vector<rate_scope>{rate_scope::api_key, rate_scope::model}));
  EXPECT_EQ(c->rate_limits[0].requests, 600u);
  EXPECT_EQ(c->rate_limits[0].period, std::chrono::minutes(1));
  EXPECT_EQ(c->rate_limits[1].user_header, "x-tenant");
  EXPECT_EQ(c->rate_limits[1].concurrent, 4u);
  EXPECT_TRUE(c->rate_limits[2].scope.empty());
  EXPECT_EQ(c->rate_limits[2].period, std::chrono::seconds(1));
}

TEST(config, resilience_errors) {
  auto c = parse(R"(
retry: { max_attempts: 0, base: 2s, cap: 1s }
upstreams: [ { name: a, base_url: "http://a", breaker: { failure_rate: 2 } } ]
models:
  - { name: m, upstream: a, fallbacks: [ { upstream: z } ], retry: { budget_min: 1 } }
rate_limits:
  - { scope: tenant, requests_per_minute: 1 }
  - { scope: global }
  - { model: nope, concurrent: 1 }
)");
  ASSERT_FALSE(c.has_value());
  const auto& msg = c.error().message;
  for (const char* expected :
       {"retry.max_attempts: must be an integer in [1, 20] (line 2)", "retry.cap: must be ≥ base",
        "upstreams[0].breaker.failure_rate: must be at most 1 (line 3)",
        "models[0].fallbacks[0].upstream: no upstream named z (line 5)",
        "models[0].retry.budget_min: is gateway-wide", "rate_limits[0].scope: must be global",
        "rate_limits[1]: needs requests_per_minute", "rate_limits[2].model: no model named nope"}) {
    EXPECT_NE(msg.find(expected), std::string::npos) << expected << "\n--- got:\n" << msg;
  }
}

}  // namespace
}  // namespace switchyard

namespace switchyard {
namespace {

TEST(config, ip_literal_base_urls_keep_their_host) {
  auto c = parse(R"(
upstreams:
  - { name: v4, base_url: "http://10.1.2.3:8000/v1" }
  - { name: v6, base_url: "https://[::1]/v1" }
models: [ { name: m, upstream: v4 } ]
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->upstreams[0].host, "10.1.2.3");
  EXPECT_EQ(c->upstreams[0].port, "8000");
  EXPECT_EQ(c->upstreams[1].host, "::1");
  EXPECT_EQ(c->upstreams[1].port, "443");
}

}  // namespace
}  // namespace switchyard
