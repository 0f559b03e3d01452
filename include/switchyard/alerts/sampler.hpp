#pragma once

#include "switchyard/alerts/traffic.hpp"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

struct gateway_metrics;

/// Turns the gateway's cumulative metrics into what happened since the previous sample: per
/// traffic series, requests and errors (switchyard_requests_total), latency buckets
/// (switchyard_request_duration_seconds), tokens and cost (switchyard_tokens_total,
/// switchyard_cost_usd_total), and per experiment variant the feedback (switchyard_feedback_total,
/// switchyard_feedback_score). Reads the registry like a scrape (no lock on the request path).
/// Not thread-safe: one caller at a time (the alert engine holds its lock).
///
/// Tokens and cost carry no upstream label: each sample's tokens and cost of (model,
/// experiment, variant, prompt version) go to the upstreams that served those requests in the
/// same interval, by their share of its requests (all of them to one upstream in the usual case
/// of a model served by one upstream).
class metrics_sampler {
 public:
  /// `primary_upstream(model)`: the upstream a `models:` entry routes to first ("" when unknown);
  /// a request answered by another upstream counts as a fallback.
  using upstream_of = std::function<std::string(std::string_view model)>;

  /// The change since the previous call (the first call: since the metrics started).
  traffic_delta sample(const gateway_metrics& m, const upstream_of& primary_upstream);

 private:
  std::map<std::vector<std::string>, double> last_;  // family tag + label values → last value
  std::map<std::vector<std::string>, std::vector<double>> last_hist_;  // cumulative buckets
  std::map<traffic_key, double> cumulative_requests_;  // for attributing tokens without requests
  double delta(std::vector<std::string> key, double now);
};

}  // namespace switchyard
