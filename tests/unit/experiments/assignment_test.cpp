#include "switchyard/experiments/assignment.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace switchyard {
namespace {

// GrowthBook packages/sdk-js/test/cases.json, "hash": [seed, value, version, expected].
struct hash_case {
  const char* seed;
  const char* value;
  int version;
  std::optional<double> expected;
};

TEST(assignment, gb_hash_matches_every_growthbook_vector) {
  const std::vector<hash_case> cases = {
      {"", "a", 1, 0.22},
      {"", "b", 1, 0.077},
      {"b", "a", 1, 0.946},
      {"ef", "d", 1, 0.652},
      {"asdf", "8952klfjas09ujk", 1, 0.549},
      {"", "123", 1, 0.011},
      {"", "___)((*\":&", 1, 0.563},
      {"seed", "a", 2, 0.0505},
      {"seed", "b", 2, 0.2696},
      {"foo", "ab", 2, 0.2575},
      {"foo", "def", 2, 0.2019},
      {"89123klj", "8952klfjas09ujkasdf", 2, 0.124},
      {"90850943850283058242805", "123", 2, 0.7516},
      {"()**(%$##$%#$#", "___)((*\":&", 2, 0.0128},
      {"abc", "def", 99, std::nullopt},
  };
  ASSERT_EQ(cases.size(), 15u);
  for (const auto& c : cases) {
    const auto got = gb_hash(c.seed, c.value, c.version);
    ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.seed << " / " << c.value;
    if (got) {
      // Both sides are (integer / 10^k) in double, so they are bit-identical.
      EXPECT_EQ(*got, *c.expected) << c.seed << " / " << c.value;
    }
  }
}

TEST(assignment, gb_hash_feature_and_sticky_bucket_values) {
  EXPECT_EQ(gb_hash("feature", "123", 1), 0.863);
  EXPECT_EQ(gb_hash("feature", "456", 1), 0.178);
  EXPECT_EQ(gb_hash("feature", "fds", 1), 0.514);
  EXPECT_EQ(gb_hash("feature", "123", 2), 0.5231);
  EXPECT_EQ(gb_hash("feature-exp", "d123", 2), 0.6468);
  EXPECT_EQ(gb_hash("feature-exp", "i123", 2), 0.9943);
  EXPECT_EQ(gb_hash("x", "y", 0), std::nullopt);
  EXPECT_EQ(gb_hash("x", "y", 3), std::nullopt);
}

// Expected values computed with Python over UTF-16 code units, as JS charCodeAt sees them:
//   def fnv(units):
//       h = 0x811c9dc5
//       for u in units: h = ((h ^ u) * 0x01000193) & 0xffffffff
//       return h
//   def u16(s):
//       b = s.encode('utf-16-le'); return [b[i] | b[i+1] << 8 for i in range(0, len(b), 2)]
//   fnv(u16("é")) == 1812687940; fnv(u16("😀")) == 3409036472  (units D83D DE00)
//   fnv([0x1F600]) == 105948959  (code-point hashing, as Python's ord() SDK does: differs)
//   (fnv(u16("é" + "")) % 1000) / 1000 == 0.94        -> hash("", "é", 1)
//   (fnv(u16(str(fnv(u16("seed😀"))))) % 10000) / 10000 == 0.4346 -> hash("seed", "😀", 2)
//   v1 of "a😀b" with seed "" == 0.209; v2 of "日本" with seed "seed" == 0.9652
TEST(assignment, gb_hash_non_ascii_hashes_utf16_code_units_like_js) {
  EXPECT_EQ(fnv1a32_utf16(""), 0x811c9dc5u);
  EXPECT_EQ(fnv1a32_utf16("\xC3\xA9"), 1812687940u);          // é
  EXPECT_EQ(fnv1a32_utf16("\xF0\x9F\x98\x80"), 3409036472u);  // 😀, a surrogate pair
  EXPECT_NE(fnv1a32_utf16("\xF0\x9F\x98\x80"), 105948959u);   // not the code point
  EXPECT_EQ(gb_hash("", "\xC3\xA9", 1), 0.94);
  EXPECT_EQ(gb_hash("seed", "\xF0\x9F\x98\x80", 2), 0.4346);
  EXPECT_EQ(gb_hash("",
                    "a\xF0\x9F\x98\x80"
                    "b",
                    1),
            0.209);
  EXPECT_EQ(gb_hash("seed", "\xE6\x97\xA5\xE6\x9C\xAC", 2), 0.9652);  // 日本
}

// Python: fnv([0x61, 0xFF, 0x62]) == 479324945, fnv([0xC0, 0xAF]) == 546970192,
// fnv([0xE2, 0x82]) == 502257573, fnv([0xED, 0xA0, 0x80]) == 1973925784.
TEST(assignment, gb_hash_invalid_utf8_bytes_count_as_one_unit_each) {
  EXPECT_EQ(fnv1a32_utf16("a\xFF"
                          "b"),
            479324945u);
  EXPECT_EQ(fnv1a32_utf16("a\xFF"
                          "b"),
            fnv1a32_utf16("a\xC3\xBF"
                          "b"));                          // same unit as ÿ
  EXPECT_EQ(fnv1a32_utf16("\xC0\xAF"), 546970192u);       // overlong '/'
  EXPECT_EQ(fnv1a32_utf16("\xE2\x82"), 502257573u);       // truncated €
  EXPECT_EQ(fnv1a32_utf16("\xED\xA0\x80"), 1973925784u);  // an encoded surrogate
  // Seed and value are separate strings: a sequence split between them is two invalid bytes, not
  // é. Python: (fnv(u16(str(fnv([0xC3, 0xA9])))) % 10000) / 10000 == 0.6427.
  EXPECT_EQ(gb_hash("\xC3", "\xA9", 2), 0.6427);
  EXPECT_EQ(gb_hash("", "\xC3\xA9", 2), 0.8917);
}

void expect_ranges(const std::vector<bucket_range>& got,
                   const std::vector<std::array<double, 2>>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].lo, expected[i][0], 1e-9) << i;
    EXPECT_NEAR(got[i].hi, expected[i][1], 1e-9) << i;
  }
}

TEST(assignment, bucket_ranges_growthbook_samples) {
  const std::vector<double> uneven = {0.2, 0.3, 0.5};
  expect_ranges(bucket_ranges(3, 0.2, uneven), {{0, 0.04}, {0.2, 0.26}, {0.5, 0.6}});
  const std::vector<double> below = {0.4, 0.1};
  expect_ranges(bucket_ranges(2, 1, below), {{0, 0.5}, {0.5, 1}});
  const std::vector<double> almost = {0.4, 0.5999};
  expect_ranges(bucket_ranges(2, 1, almost), {{0, 0.4}, {0.4, 0.9999}});
  expect_ranges(bucket_ranges(2, -0.2, {}), {{0, 0}, {0.5, 0.5}});
}

TEST(assignment, bucket_ranges_clamps_coverage_and_falls_back_to_equal_weights) {
  expect_ranges(bucket_ranges(2, 1.5, {}), {{0, 0.5}, {0.5, 1}});
  expect_ranges(bucket_ranges(2, std::numeric_limits<double>::quiet_NaN(), {}),
                {{0, 0}, {0.5, 0.5}});
  const std::vector<double> wrong_count = {0.5, 0.25, 0.25};
  expect_ranges(bucket_ranges(2, 1, wrong_count), {{0, 0.5}, {0.5, 1}});
  const std::vector<double> unnormalised = {1, 3};  // the caller must normalise
  expect_ranges(bucket_ranges(2, 1, unnormalised), {{0, 0.5}, {0.5, 1}});
  const std::vector<double> nan = {std::numeric_limits<double>::quiet_NaN(), 1};
  expect_ranges(bucket_ranges(2, 1, nan), {{0, 0.5}, {0.5, 1}});
  EXPECT_TRUE(bucket_ranges(0, 1, {}).empty());
}

TEST(assignment, equal_weights_growthbook_samples) {
  EXPECT_TRUE(equal_weights(0).empty());
  EXPECT_EQ(equal_weights(1), std::vector<double>({1.0}));
  EXPECT_EQ(equal_weights(2), std::vector<double>({0.5, 0.5}));
  const auto three = equal_weights(3);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_NEAR(three[0], 0.33333333, 1e-8);
}

TEST(assignment, choose_variation_growthbook_samples) {
  const std::vector<bucket_range> even = {{0, 0.5}, {0.5, 1}};
  const std::vector<bucket_range> reduced = {{0, 0.25}, {0.5, 0.75}};
  const std::vector<bucket_range> zero = {{0, 0.5}, {0.5, 0.5}, {0.5, 1}};
  EXPECT_EQ(choose_variation(0.5, even), 1);
  EXPECT_EQ(choose_variation(0.4, reduced), -1);
  EXPECT_EQ(choose_variation(0.25, reduced), -1);
  EXPECT_EQ(choose_variation(0.5, zero), 2);
  EXPECT_EQ(choose_variation(0.5, {}), -1);
}

TEST(assignment, in_namespace_growthbook_samples) {
  EXPECT_FALSE(in_namespace("1", "namespace1", 0, 0.4));
  EXPECT_TRUE(in_namespace("1", "namespace1", 0.4, 1));
  EXPECT_TRUE(in_namespace("3", "namespace2", 0, 0.4));
  EXPECT_FALSE(in_namespace("4", "namespace2", 0.4, 1));
  // The bucket values behind them.
  EXPECT_EQ(gb_hash("__namespace1", "1", 1), 0.68);
  EXPECT_EQ(gb_hash("__namespace2", "3", 1), 0.335);
  EXPECT_EQ(gb_hash("__namespace2", "4", 1), 0.09);
}

// GrowthBook `run` for key "my-test", ids "1".."9": inline experiments default to hash version 1.
std::vector<int> run_v1(std::size_t variations, double coverage, std::span<const double> weights) {
  const auto ranges = bucket_ranges(variations, coverage, weights);
  std::vector<int> out;
  for (int id = 1; id <= 9; ++id) {
    out.push_back(choose_variation(*gb_hash("my-test", std::to_string(id), 1), ranges));
  }
  return out;
}

TEST(assignment, run_growthbook_my_test_samples) {
  EXPECT_EQ(run_v1(2, 1, {}), std::vector<int>({1, 0, 0, 1, 1, 1, 0, 1, 0}));
  const std::vector<double> skewed = {0.1, 0.9};
  EXPECT_EQ(run_v1(2, 1, skewed), std::vector<int>({1, 1, 0, 1, 1, 1, 0, 1, 1}));
  EXPECT_EQ(run_v1(2, 0.4, {}), std::vector<int>({-1, 0, 0, -1, 1, -1, 0, 1, -1}));
  EXPECT_EQ(run_v1(3, 1, {}), std::vector<int>({2, 0, 0, 2, 1, 2, 0, 1, 0}));
}

TEST(assignment, assign_unit_growthbook_seed_and_hash_version_2) {
  // "Uses seed and hash version": seed "foo", version 2, ranges [[0,0.5],[0.5,1]], id "1" → 1.
  const std::vector<bucket_range> ranges = {{0, 0.5}, {0.5, 1.0}};
  const auto r = assign_unit("foo", "1", ranges);
  EXPECT_EQ(r.variant, 1);
  EXPECT_EQ(r.bucket, 0.5844);  // Python: (fnv(u16(str(fnv(u16("foo1"))))) % 10000) / 10000
  EXPECT_EQ(assign_unit("foo", "1", ranges), assign_unit("foo", "1", ranges));  // deterministic
}

TEST(assignment, assign_unit_excluded_by_namespace_empty_id_or_coverage) {
  const auto ranges = bucket_ranges(2, 1, {});
  // "Experiment namespace - fail": hash("__namespace", "1", 1) = 0.921, not in [0, 0.1).
  EXPECT_EQ(gb_hash("__namespace", "1", 1), 0.921);
  const auto out = assign_unit("my-test", "1", ranges, std::tuple{"namespace", 0.0, 0.1});
  EXPECT_EQ(out.variant, -1);
  EXPECT_EQ(out.bucket, 0);
  const auto in = assign_unit("my-test", "1", ranges, std::tuple{"namespace", 0.0, 1.0});
  EXPECT_NE(in.variant, -1);
  EXPECT_EQ(assign_unit("my-test", "", ranges).variant, -1);
  // Zero coverage: hashed, but outside every range.
  const auto none = assign_unit("foo", "1", bucket_ranges(2, 0, {}));
  EXPECT_EQ(none.variant, -1);
  EXPECT_EQ(none.bucket, 0.5844);
}

// Shares of 100,000 units "u0".."u99999" per variant.
std::vector<double> shares(std::span<const double> weights) {
  constexpr int units = 100'000;
  const auto ranges = bucket_ranges(weights.size(), 1, weights);
  std::vector<double> counts(weights.size(), 0);
  for (int i = 0; i < units; ++i) {
    const int v = assign_unit("exp-seed", "u" + std::to_string(i), ranges).variant;
    EXPECT_GE(v, 0);
    if (v >= 0) {
      counts[static_cast<std::size_t>(v)] += 1;
    }
  }
  for (double& c : counts) {
    c /= units;
  }
  return counts;
}

TEST(assignment, assign_unit_splits_units_within_one_percent_of_the_weights) {
  const std::vector<double> halves = {0.5, 0.5};
  const auto got2 = shares(halves);
  for (std::size_t i = 0; i < halves.size(); ++i) {
    EXPECT_NEAR(got2[i], halves[i], 0.01) << i;
  }
  const std::vector<double> three = {0.2, 0.3, 0.5};
  const auto got3 = shares(three);
  for (std::size_t i = 0; i < three.size(); ++i) {
    EXPECT_NEAR(got3[i], three[i], 0.01) << i;
  }
}

// Python: FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) over b"exp\x1fuser-1".
TEST(assignment, unit_fingerprint_is_fnv1a_64_over_seed_separator_id) {
  EXPECT_EQ(unit_fingerprint("exp", "user-1"), 0xa7ae4da9611abe04ull);
  EXPECT_NE(unit_fingerprint("ab", "c"), unit_fingerprint("a", "bc"));
  EXPECT_NE(unit_fingerprint("exp", "user-1"), unit_fingerprint("exp2", "user-1"));
}

}  // namespace
}  // namespace switchyard
