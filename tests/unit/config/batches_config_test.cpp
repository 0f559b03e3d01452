#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

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

TEST(batches_config, named_defaults_without_the_section) {
  auto c = parse_config(base);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->batches.concurrency, 8u);
  EXPECT_EQ(c->batches.line_timeout.count(), 600'000);
  EXPECT_EQ(c->batches.max_attempts, 3u);
  EXPECT_EQ(c->batches.max_lines, 50'000u);
}

TEST(batches_config, reads_every_key) {
  auto c = parse_config(base + R"(batches:
  concurrency: 2
  line_timeout: 30s
  max_attempts: 5
  retry_base: 100ms
  retry_cap: 2s
  max_lines: 10
  max_line_bytes: 4096
  max_response_bytes: 65536
  poll_interval: 250ms
)");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->batches.concurrency, 2u);
  EXPECT_EQ(c->batches.line_timeout.count(), 30'000);
  EXPECT_EQ(c->batches.retry_cap.count(), 2'000);
  EXPECT_EQ(c->batches.max_line_bytes, 4096u);
  EXPECT_EQ(c->batches.poll_interval.count(), 250);
}

TEST(batches_config, errors_name_the_key_path) {
  EXPECT_NE(error_of("batches: { concurrency: 0 }\n").find("batches.concurrency"),
            std::string::npos);
  EXPECT_NE(error_of("batches: { max_attempts: 99 }\n").find("batches.max_attempts"),
            std::string::npos);
  EXPECT_NE(error_of("batches: { retry_base: 5s, retry_cap: 1s }\n").find("batches.retry_cap"),
            std::string::npos);
  EXPECT_NE(error_of("batches: { concurency: 3 }\n").find("concurency"), std::string::npos);
  EXPECT_NE(error_of("batches: { line_timeout: soon }\n").find("batches.line_timeout"),
            std::string::npos);
}

TEST(batches_config, is_a_boot_section) {
  auto a = parse_config(base);
  auto b = parse_config(base + "batches: { concurrency: 3 }\n");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(boot_difference(*a, *b), "batches.concurrency");
}

}  // namespace
}  // namespace switchyard
