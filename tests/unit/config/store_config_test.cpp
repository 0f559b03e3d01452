// The `store:` section: defaults, a Redis store, and the errors --check-config prints.
#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

std::optional<std::string> env(const char* name) {
  if (std::string_view(name) == "REDIS_URL") {
    return "redis://:pw@redis:6380/1";
  }
  return std::nullopt;
}

result<config> parse(const std::string& store) {
  return parse_config(R"(
upstreams:
  - { name: up, base_url: "https://api.example.com/v1/" }
models:
  - { name: m, upstream: up }
)" + store,
                      "/etc/sy", env);
}

TEST(store_config, defaults_to_sqlite) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->store.type, "sqlite");
  EXPECT_EQ(c->store.key_prefix, "switchyard:");
  EXPECT_EQ(c->store.flush_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->store.buffer_max_bytes, 64u << 20);
}

TEST(store_config, reads_a_redis_store_with_the_url_from_the_environment) {
  auto c = parse(
      "store: { type: redis, url: \"${REDIS_URL}\", key_prefix: \"a:\", timeout: 20ms, "
      "flush_timeout: 1s, buffer_max_bytes: 1024, expected_replicas: 4 }\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->store.type, "redis");
  EXPECT_EQ(c->store.url, "redis://:pw@redis:6380/1");
  EXPECT_EQ(c->store.timeout, std::chrono::milliseconds(20));
  EXPECT_EQ(c->store.expected_replicas, 4u);
}

TEST(store_config, errors_name_the_key_and_never_echo_the_password) {
  auto missing = parse("store: { type: redis }\n");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("store.url: is required when type is redis"),
            std::string::npos)
      << missing.error().message;
  auto bad = parse("store: { type: redis, url: \"redis://:hunter2@h:0\" }\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("store.url: redis url: the port"), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos);
  auto type = parse("store: { type: postgres }\n");
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message.find("store.type: must be sqlite or redis"), std::string::npos)
      << type.error().message;
  EXPECT_FALSE(parse("store: { type: redis, url: \"redis://h\", expected_replicas: 0 }\n"));
}

}  // namespace
}  // namespace switchyard
