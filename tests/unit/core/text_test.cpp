// core/text, core/fnv, core/random, core/scoped_count: the small helpers every module shares.
#include "switchyard/core/fnv.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/core/scoped_count.hpp"
#include "switchyard/core/text.hpp"

#include <gtest/gtest.h>

#include <set>

namespace switchyard {
namespace {

TEST(text, core_text_trim_strips_http_whitespace_only) {
  EXPECT_EQ(trim("  a b\t"), "a b");
  EXPECT_EQ(trim("\t\t"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("\r\nx"), "\r\nx");  // CR and LF are framing, not OWS
}

TEST(text, core_text_bearer_token_reads_the_scheme_case_insensitively) {
  EXPECT_EQ(bearer_token("Bearer sk-1"), "sk-1");
  EXPECT_EQ(bearer_token("bEaReR sk-1 "), "sk-1");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearersk"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(text, core_text_iequals_ascii_folds_ascii_only) {
  EXPECT_TRUE(iequals_ascii("Content-Type", "content-type"));
  EXPECT_FALSE(iequals_ascii("a", "ab"));
  EXPECT_FALSE(iequals_ascii("\xc3\x89", "\xc3\xa9"));  // É vs é: not ASCII
}

TEST(text, core_text_same_secret_compares_whole_values) {
  EXPECT_TRUE(same_secret("s3cret", "s3cret"));
  EXPECT_FALSE(same_secret("s3cret", "s3cre"));
  EXPECT_FALSE(same_secret("", "x"));
}

TEST(text, core_fnv_matches_the_published_fnv1a64_vectors) {
  // Vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv): "" and "a".
  fnv1a64 empty;
  EXPECT_EQ(empty.value(), 0xcbf29ce484222325ULL);
  fnv1a64 a;
  a.bytes("a");
  EXPECT_EQ(a.value(), 0xaf63dc4c8601ec8cULL);
  fnv1a64 foobar;
  foobar.bytes("foobar");
  EXPECT_EQ(foobar.value(), 0x85944171f73967e8ULL);
}

TEST(text, core_fnv_text_is_length_prefixed) {
  fnv1a64 x, y;
  x.text("ab");
  x.text("c");
  y.text("a");
  y.text("bc");
  EXPECT_NE(x.value(), y.value());
  EXPECT_NE(mix64(1), mix64(2));
}

TEST(text, core_random_random01_is_in_the_unit_interval_and_spread) {
  std::set<int> deciles;
  for (int i = 0; i < 10'000; ++i) {
    double u = random01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    deciles.insert(static_cast<int>(u * 10));
  }
  EXPECT_EQ(deciles.size(), 10U);
  EXPECT_NE(random_u64(), random_u64());
}

struct counter {
  long n = 0;
  void add(long k) { n += k; }
  void sub(long k) { n -= k; }
};

TEST(text, core_scoped_count_holds_for_its_lifetime_and_moves) {
  counter c;
  {
    scoped_count<counter> a(c, 3);
    EXPECT_EQ(c.n, 3);
    scoped_count<counter> b(std::move(a));
    EXPECT_EQ(c.n, 3);
  }
  EXPECT_EQ(c.n, 0);
}

}  // namespace
}  // namespace switchyard
