#include "switchyard/alerts/traffic.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

traffic_delta requests(const std::string& model, double n, double errors = 0) {
  traffic_delta d;
  auto& f = d.series[traffic_key{model, "up", "none", "none", "none"}];
  f.requests = n;
  f.errors = errors;
  return d;
}

double total_requests(const traffic_delta& d) {
  double n = 0;
  for (const auto& [k, f] : d.series) {
    n += f.requests;
  }
  return n;
}

TEST(traffic, ring_adds_into_the_bucket_holding_now_and_drops_old_ones) {
  bucket_ring ring(60, 180);
  ring.add(1000, requests("m", 1));  // bucket 960
  ring.add(1010, requests("m", 2));  // same bucket
  ring.add(1030, requests("m", 4));  // bucket 1020
  ASSERT_EQ(ring.buckets().size(), 2u);
  EXPECT_EQ(ring.buckets().front().first, 960);
  EXPECT_DOUBLE_EQ(total_requests(ring.buckets().front().second), 3);
  ring.add(1150, requests("m", 8));  // bucket 1140: 960 is 180 s older, dropped
  ASSERT_EQ(ring.buckets().size(), 2u);
  EXPECT_EQ(ring.buckets().front().first, 1020);
  EXPECT_DOUBLE_EQ(total_requests(ring.sum(0, 2000)), 12);
  EXPECT_DOUBLE_EQ(total_requests(ring.sum(1100, 2000)), 8);
}

TEST(traffic, ring_keeps_order_when_the_clock_goes_back) {
  bucket_ring ring(60, 600);
  ring.add(1000, requests("m", 1));
  ring.add(900, requests("m", 1));
  ASSERT_EQ(ring.buckets().size(), 1u);
  EXPECT_DOUBLE_EQ(total_requests(ring.buckets().back().second), 2);
}

TEST(traffic, empty_deltas_make_no_bucket) {
  bucket_ring ring(60, 600);
  ring.add(1000, traffic_delta{});
  EXPECT_TRUE(ring.buckets().empty());
}

TEST(traffic, window_covers_whole_minutes_back_from_now) {
  traffic_history h({0.1, 1}, 0);
  h.add(10'000, requests("m", 1));  // minute 9960
  h.add(10'100, requests("m", 2));  // minute 10080
  h.add(10'300, requests("m", 4));  // minute 10260
  EXPECT_DOUBLE_EQ(total_requests(h.window(10'300, 60)), 4);
  EXPECT_DOUBLE_EQ(total_requests(h.window(10'300, 240)), 6);
  EXPECT_DOUBLE_EQ(total_requests(h.window(10'300, 600)), 7);
  // Beyond 6 h the hour ring answers (the three samples share hour 7200).
  EXPECT_DOUBLE_EQ(total_requests(h.window(10'300, 24 * 3600)), 7);
}

TEST(traffic, figures_add_latency_buckets_of_any_length) {
  traffic_figures a, b;
  a.latency = {1, 2};
  b.latency = {1, 1, 5};
  a += b;
  EXPECT_EQ(a.latency, (std::vector<double>{2, 3, 5}));
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(traffic_figures{}.empty());
}

TEST(traffic, histogram_quantile_interpolates_like_prometheus) {
  const std::vector<double> bounds{1, 2, 4};
  // 10 in (0,1], 10 in (1,2], none above.
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.5, bounds, {10, 10, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.75, bounds, {10, 10, 0, 0}), 1.5);
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.95, bounds, {0, 0, 20, 0}), 2 + 2 * 0.95);
  // In +Inf: the highest finite bound.
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.95, bounds, {1, 0, 0, 19}), 4.0);
  EXPECT_FALSE(histogram_quantile(0.95, bounds, {0, 0, 0, 0}));
  EXPECT_FALSE(histogram_quantile(0.95, bounds, {}));
}

TEST(traffic, errors_are_server_side_failures_not_client_mistakes) {
  EXPECT_TRUE(counts_as_error("5xx", "upstream_error"));
  EXPECT_TRUE(counts_as_error("4xx", "rate_limit"));
  EXPECT_TRUE(counts_as_error("2xx", "timeout")) << "a stream broken after it started";
  EXPECT_FALSE(counts_as_error("4xx", "invalid_request"));
  EXPECT_FALSE(counts_as_error("4xx", "auth_error"));
  EXPECT_FALSE(counts_as_error("2xx", "none"));
  EXPECT_FALSE(counts_as_error("4xx", "client_closed"));
}

}  // namespace
}  // namespace switchyard
