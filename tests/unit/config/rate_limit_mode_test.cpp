// `rate_limits[].mode` against the store: leased by default with redis, local with sqlite,
// where leased and exact are errors with their key path; batch_reserve and fallback_margin.
#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

result<config> parse(const std::string& tail) {
  return parse_config(R"(
upstreams:
  - { name: up, base_url: "https://api.example.com/v1/" }
models:
  - { name: m, upstream: up }
)" + tail,
                      "/etc/sy", [](const char*) { return std::optional<std::string>(); });
}

constexpr const char* redis = "store: { type: redis, url: \"redis://r:6379/0\" }\n";

TEST(rate_limit_mode, defaults_to_leased_with_redis_and_local_with_sqlite) {
  auto r = parse(std::string(redis) + "rate_limits:\n  - { requests_per_minute: 60 }\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rate_limits[0].mode, rate_limit_mode::leased);
  EXPECT_DOUBLE_EQ(r->rate_limits[0].batch_reserve, 0.2);
  EXPECT_DOUBLE_EQ(r->rate_limits[0].fallback_margin, 0.1);
  auto s = parse("rate_limits:\n  - { requests_per_minute: 60 }\n");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->rate_limits[0].mode, rate_limit_mode::local);
}

TEST(rate_limit_mode, reads_every_mode_and_the_shares) {
  auto r = parse(std::string(redis) +
                 "rate_limits:\n"
                 "  - { requests_per_minute: 60, mode: exact, batch_reserve: 0.3 }\n"
                 "  - { tokens_per_minute: 1000, mode: local }\n"
                 "  - { requests_per_minute: 6, mode: leased, fallback_margin: 0.25 }\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rate_limits[0].mode, rate_limit_mode::exact);
  EXPECT_DOUBLE_EQ(r->rate_limits[0].batch_reserve, 0.3);
  EXPECT_EQ(r->rate_limits[1].mode, rate_limit_mode::local);
  EXPECT_EQ(r->rate_limits[2].mode, rate_limit_mode::leased);
  EXPECT_DOUBLE_EQ(r->rate_limits[2].fallback_margin, 0.25);
}

TEST(rate_limit_mode, shared_modes_need_a_redis_store) {
  for (const char* mode : {"leased", "exact"}) {
    auto r = parse(std::string("rate_limits:\n  - { requests_per_minute: 60 }\n"
                               "  - { requests_per_minute: 60, mode: ") +
                   mode + " }\n");
    ASSERT_FALSE(r) << mode;
    EXPECT_NE(r.error().message.find("rate_limits[1].mode"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("store.type: redis"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(parse("rate_limits:\n  - { requests_per_minute: 60, mode: local }\n"));
}

TEST(rate_limit_mode, bad_values_name_their_key) {
  auto m = parse(std::string(redis) + "rate_limits:\n  - { requests_per_minute: 6, mode: fast }\n");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("rate_limits[0].mode: must be leased, exact or local"),
            std::string::npos)
      << m.error().message;
  auto b = parse("rate_limits:\n  - { requests_per_minute: 6, batch_reserve: 1.5 }\n");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("rate_limits[0].batch_reserve"), std::string::npos)
      << b.error().message;
  auto f = parse("rate_limits:\n  - { requests_per_minute: 6, fallback_margin: -0.1 }\n");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("rate_limits[0].fallback_margin"), std::string::npos)
      << f.error().message;
  auto c = parse(std::string(redis) + "rate_limits:\n  - { concurrent: 4, mode: exact }\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("rate_limits[0].mode"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace switchyard
