#include "switchyard/experiments/latency_sketch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace switchyard {
namespace {

latency_sketch uniform(int from, int to) {
  latency_sketch s;
  for (int ms = from; ms <= to; ++ms) {
    s.add(ms);
  }
  return s;
}

TEST(latency_sketch, empty_sketch_answers_zero) {
  latency_sketch s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.quantile(0.5), 0);
  EXPECT_EQ(s.fraction_above(10), 0);
}

TEST(latency_sketch, quantiles_of_uniform_1_to_10000_within_2_percent) {
  const latency_sketch s = uniform(1, 10000);
  EXPECT_EQ(s.count(), 10000u);
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99}) {
    const double truth = q * 10000;
    EXPECT_NEAR(s.quantile(q), truth, truth * 0.02) << q;
  }
  EXPECT_NEAR(s.quantile(0), 1, 0.02);
  EXPECT_NEAR(s.quantile(1), 10000, 200);
}

TEST(latency_sketch, relative_error_is_at_most_one_percent) {
  // A single value is answered by its bucket's representative.
  for (double v : {0.02, 0.5, 3.0, 17.0, 250.0, 1234.5, 60000.0, 9.9e6, 1e7}) {
    latency_sketch s;
    s.add(v);
    EXPECT_NEAR(s.quantile(0.5), v, v * 0.01) << v;
  }
}

TEST(latency_sketch, q_is_clamped) {
  const latency_sketch s = uniform(1, 100);
  EXPECT_EQ(s.quantile(-3), s.quantile(0));
  EXPECT_EQ(s.quantile(7), s.quantile(1));
  EXPECT_EQ(s.quantile(std::nan("")), s.quantile(0));
}

TEST(latency_sketch, negative_and_nan_are_ignored_out_of_range_values_are_clamped) {
  latency_sketch s;
  s.add(-1);
  s.add(std::nan(""));
  EXPECT_TRUE(s.empty());
  s.add(0);
  s.add(1e-9);
  s.add(1e12);
  s.add(std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.count(), 4u);
  EXPECT_NEAR(s.quantile(0), 0.01, 0.0002);  // the first bucket
  EXPECT_NEAR(s.quantile(1), 1e7, 1e5);      // the last bucket
}

TEST(latency_sketch, merge_of_two_halves_equals_sketch_of_all) {
  latency_sketch a = uniform(1, 5000);
  const latency_sketch b = uniform(5001, 10000);
  a.merge(b);
  const latency_sketch all = uniform(1, 10000);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.serialize(), all.serialize());
  EXPECT_EQ(a.quantile(0.95), all.quantile(0.95));

  latency_sketch fresh;
  fresh.merge(latency_sketch{});
  EXPECT_TRUE(fresh.empty());
  fresh.merge(all);
  EXPECT_EQ(fresh.serialize(), all.serialize());
}

TEST(latency_sketch, fraction_above) {
  const latency_sketch s = uniform(1, 1000);
  EXPECT_NEAR(s.fraction_above(900), 0.1, 0.01);
  EXPECT_NEAR(s.fraction_above(500), 0.5, 0.01);
  EXPECT_EQ(s.fraction_above(2000), 0);
  EXPECT_EQ(s.fraction_above(-1), 1);
  EXPECT_EQ(s.fraction_above(std::nan("")), 0);
}

TEST(latency_sketch, serialize_round_trip) {
  latency_sketch s = uniform(1, 10000);
  s.add(0);
  s.add(1e9);
  const std::string bytes = s.serialize();
  EXPECT_LT(bytes.size(), 4000u);  // sparse: well under the dense 4 KiB
  const auto back = latency_sketch::deserialize(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->count(), s.count());
  EXPECT_EQ(back->serialize(), bytes);
  for (double q : {0.0, 0.5, 0.95, 1.0}) {
    EXPECT_EQ(back->quantile(q), s.quantile(q));
  }

  const auto empty = latency_sketch::deserialize(latency_sketch{}.serialize());
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(latency_sketch{}.serialize().size(), 2u);
}

TEST(latency_sketch, every_truncation_is_an_error) {
  latency_sketch s = uniform(1, 300);
  s.add(1e6);  // a large bucket index, i.e. a multi-byte gap
  const std::string bytes = s.serialize();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(latency_sketch::deserialize(bytes.substr(0, n))) << n;
  }
  EXPECT_FALSE(latency_sketch::deserialize(bytes + '\0'));  // trailing bytes
}

TEST(latency_sketch, garbage_is_an_error) {
  using namespace std::string_literals;
  EXPECT_FALSE(latency_sketch::deserialize("\x02\x00"s));              // unknown version
  EXPECT_FALSE(latency_sketch::deserialize("\x01\x01\x00\x00"s));      // zero count
  EXPECT_FALSE(latency_sketch::deserialize("\x01\x01\x98\x08\x01"s));  // index 1048: out of range
  EXPECT_FALSE(latency_sketch::deserialize("\x01\x81\x00"s));          // over-long varint
  EXPECT_FALSE(latency_sketch::deserialize("\x01\xff\xff\xff\xff\x7f"s));
  const auto r = latency_sketch::deserialize("hello");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_NE(r.error().message.find("latency sketch"), std::string::npos);
  // The last bucket (index 1047) is valid.
  EXPECT_TRUE(latency_sketch::deserialize("\x01\x01\x97\x08\x01"s));
}

TEST(latency_sketch, random_bytes_never_crash) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> len(0, 40);
  std::uniform_int_distribution<int> byte(0, 255);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : bytes) {
      c = static_cast<char>(byte(rng));
    }
    if (i % 2 == 0 && !bytes.empty()) {
      bytes[0] = '\x01';  // get past the version check half of the time
    }
    const auto r = latency_sketch::deserialize(bytes);
    if (r) {
      ++accepted;
      EXPECT_EQ(r->serialize(), bytes);  // whatever is accepted is canonical
      EXPECT_GE(r->quantile(0.5), 0);
    }
  }
  EXPECT_LT(accepted, 5000);
}

}  // namespace
}  // namespace switchyard
