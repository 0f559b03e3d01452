#include "switchyard/http/api_auth.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

config with_tokens(std::string admin, std::string reader) {
  config c;
  c.admin_token = std::move(admin);
  c.api_token = std::move(reader);
  return c;
}

TEST(api_auth, same_secret_compares_whole_values) {
  EXPECT_TRUE(same_secret("s3cret", "s3cret"));
  EXPECT_FALSE(same_secret("s3cret", "s3cre"));
  EXPECT_FALSE(same_secret("s3cre", "s3cret"));
  EXPECT_FALSE(same_secret("", "x"));
  EXPECT_TRUE(same_secret("", ""));
}

TEST(api_auth, bearer_is_case_insensitive_and_needs_a_token) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Basic abc"), "");
}

TEST(api_auth, admin_routes) {
  EXPECT_TRUE(admin_denied("Bearer a", with_tokens("", "")));  // disabled without a token
  EXPECT_FALSE(admin_denied("Bearer a", with_tokens("a", "")));
  EXPECT_TRUE(admin_denied("Bearer b", with_tokens("a", "b"))) << "the read token is not admin";
  EXPECT_EQ(admin_denied("", with_tokens("a", ""))->code, errc::unauthorized);
}

TEST(api_auth, read_api) {
  EXPECT_FALSE(reader_denied("", with_tokens("a", ""))) << "public without api_token";
  EXPECT_TRUE(reader_denied("", with_tokens("a", "r")));
  EXPECT_FALSE(reader_denied("Bearer r", with_tokens("a", "r")));
  EXPECT_FALSE(reader_denied("Bearer a", with_tokens("a", "r"))) << "the admin token reads too";
  EXPECT_TRUE(reader_denied("Bearer a", with_tokens("", "r")));
  EXPECT_TRUE(reader_denied("Bearer x", with_tokens("a", "r")));
}

}  // namespace
}  // namespace switchyard
