#include "switchyard/experiments/modelab_hash.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace switchyard {
namespace {

// A second implementation, written apart from modelab_hash.cpp the way the Python reads: the
// hex digest as text, parsed by OpenSSL's bignum (int(hex, 16)), reduced mod 10000 by BN.
std::uint32_t reference_bucket(const std::string& flag, const std::string& user) {
  const std::string key = flag + ":" + user;
  unsigned char d[16];
  EVP_Digest(key.data(), key.size(), d, nullptr, EVP_md5(), nullptr);
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (unsigned char b : d) {
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, hex.c_str());
  const auto r = static_cast<std::uint32_t>(BN_mod_word(bn, 10000));
  BN_free(bn);
  return r;
}

int reference_assign(const std::string& flag, const std::string& user, double pct,
                     const std::vector<std::uint64_t>& w) {
  const auto bucket = reference_bucket(flag, user);
  if (static_cast<double>(bucket) >= static_cast<double>(static_cast<long>(pct / 100 * 10000))) {
    return -1;
  }
  std::uint64_t total = 0;
  for (auto x : w) {
    total += x;
  }
  if (total == 0) {
    return 0;
  }
  std::uint64_t point = bucket % total, run = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    run += w[i];
    if (run > point) {
      return static_cast<int>(i);
    }
  }
  return -2;
}

struct fixture_config {
  std::string flag;
  double pct;
  std::vector<std::uint64_t> weights;
};

// As in tests/fixtures/modelab/generate_assignments.py (CONFIGS).
const std::vector<fixture_config>& configs() {
  static const std::vector<fixture_config> c = {
      {"summarizer_tone", 100, {50, 50}},
      {"checkout-flow", 37.5, {1, 2, 7}},
      {"ranker", 33.3, {3, 0, 5, 11}},
      {"all-zero", 80, {0, 0}},
      {"\xc3\xbcn\xc3\xaf"
       "code flag",
       12.34,
       {97, 3}},
  };
  return c;
}

TEST(ModelabHash, ThresholdIsPythonsIntOfTheSameDoubleArithmetic) {
  // Values printed by CPython 3.11: int(p / 100 * 10000).
  EXPECT_EQ(modelab_threshold(33.3), 3329u);  // 3329.9999999999995: not 3330
  EXPECT_EQ(modelab_threshold(99.99), 9998u);
  EXPECT_EQ(modelab_threshold(57.7), 5770u);
  EXPECT_EQ(modelab_threshold(12.34), 1234u);
  EXPECT_EQ(modelab_threshold(0.07), 7u);
  EXPECT_EQ(modelab_threshold(100), 10000u);
  EXPECT_EQ(modelab_threshold(0), 0u);
  EXPECT_EQ(modelab_threshold(-5), 0u);
  EXPECT_EQ(modelab_threshold(250), 10000u);
}

TEST(ModelabHash, VariantByRunningSumOfIntegerWeights) {
  const std::vector<std::uint64_t> w{1, 2, 7};  // total 10: points 0 | 1-2 | 3-9
  EXPECT_EQ(modelab_variant(0, w), 0);
  EXPECT_EQ(modelab_variant(1, w), 1);
  EXPECT_EQ(modelab_variant(2, w), 1);
  EXPECT_EQ(modelab_variant(3, w), 2);
  EXPECT_EQ(modelab_variant(9999, w), 2);  // 9999 % 10 = 9
  EXPECT_EQ(modelab_variant(10, w), 0);
  const std::vector<std::uint64_t> zero_first{0, 5};
  EXPECT_EQ(modelab_variant(3, zero_first), 1);  // a zero weight never matches
  const std::vector<std::uint64_t> zeros{0, 0, 0};
  EXPECT_EQ(modelab_variant(1234, zeros), 0);  // all 0: the first
  EXPECT_EQ(modelab_variant(5, {}), -1);
}

TEST(ModelabHash, KnownBucket) {
  // python3 -c "import hashlib; print(int(hashlib.md5(b'f:u').hexdigest(), 16) % 10000)"
  EXPECT_EQ(modelab_bucket("f", "u"), 8191u);
  EXPECT_LT(modelab_bucket("", ""), 10000u);
}

// 10,000 (config, id) pairs whose variants Python's hashlib computed
// (tests/fixtures/modelab/generate_assignments.py): partial rollouts, uneven and zero weights.
TEST(ModelabHash, MatchesPythonReferenceOnTenThousandIds) {
  std::ifstream in(SWITCHYARD_WIRE_FIXTURES "/../modelab/assignments.tsv");
  ASSERT_TRUE(in) << "fixture missing";
  std::string line;
  std::size_t rows = 0, inside = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string cfg, user, expected;
    std::getline(fields, cfg, '\t');
    std::getline(fields, user, '\t');
    std::getline(fields, expected, '\t');
    const auto& c = configs().at(std::stoul(cfg));
    const int got = modelab_assign(c.flag, user, modelab_threshold(c.pct), c.weights);
    ASSERT_EQ(got, std::stoi(expected)) << "config " << cfg << " user " << user;
    ++rows;
    inside += got >= 0 ? 1 : 0;
  }
  EXPECT_EQ(rows, 10000u);
  EXPECT_GT(inside, 3000u);  // both sides of every rollout were exercised
  EXPECT_LT(inside, 9000u);
}

// 30,000 more ids against the separately written C++ reference (bignum parse of the hex digest).
TEST(ModelabHash, MatchesBignumReference) {
  const std::vector<fixture_config> more = {
      {"exp", 50, {50, 50}}, {"weights", 99.99, {13, 1, 40, 2, 44}}, {"tiny", 0.5, {1, 1}}};
  for (const auto& c : more) {
    for (int i = 0; i < 10000; ++i) {
      const std::string user = "u" + std::to_string(i * 31 + 7);
      ASSERT_EQ(modelab_assign(c.flag, user, modelab_threshold(c.pct), c.weights),
                reference_assign(c.flag, user, c.pct, c.weights))
          << c.flag << " " << user;
    }
  }
}

TEST(ModelabHash, BucketOutReportsTheBucket) {
  std::uint32_t b = 99999;
  const std::vector<std::uint64_t> w{50, 50};
  modelab_assign("flag", "user-1", 0, w, &b);
  EXPECT_EQ(b, modelab_bucket("flag", "user-1"));
}

}  // namespace
}  // namespace switchyard
