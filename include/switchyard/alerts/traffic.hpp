#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The gateway's recent traffic in memory, for the alert rules and GET /api/v1/traffic: what each
// series (model × upstream × experiment × variant × prompt version) added per time bucket, and
// what each experiment variant got as feedback. Filled by sampling the metrics (sampler.hpp) off
// the request path; pure data structures here.

namespace switchyard {

/// The labels of one traffic series, as the metrics carry them ("none" when absent).
struct traffic_key {
  std::string model, upstream, experiment, variant, prompt_version;
  auto operator<=>(const traffic_key&) const = default;
};

/// What one series added over some time. `latency` holds non-cumulative request counts per
/// latency bucket (the metrics' bounds, then +Inf); empty = no latency observed.
struct traffic_figures {
  double requests = 0, errors = 0, fallbacks = 0, input_tokens = 0, output_tokens = 0, cost_usd = 0;
  std::vector<double> latency;
  traffic_figures& operator+=(const traffic_figures& o);
  bool empty() const noexcept;
};

/// One experiment variant's feedback key.
struct feedback_key {
  std::string experiment, variant;
  auto operator<=>(const feedback_key&) const = default;
};

/// Feedback recorded over some time: judged events (`success`, `failure`) and valued ones.
struct feedback_figures {
  double success = 0, failure = 0, score_sum = 0, score_n = 0;
  feedback_figures& operator+=(const feedback_figures& o) noexcept;
  bool empty() const noexcept;
};

/// Everything that happened over some time (a sample interval, a bucket, a window).
struct traffic_delta {
  std::map<traffic_key, traffic_figures> series;
  std::map<feedback_key, feedback_figures> feedback;
  traffic_delta& operator+=(const traffic_delta& o);
  bool empty() const noexcept { return series.empty() && feedback.empty(); }
};

/// Buckets of `width` seconds aligned to the Unix epoch, the newest `keep / width` kept.
class bucket_ring {
 public:
  /// `width` > 0 and `keep` ≥ `width` (else std::invalid_argument).
  bucket_ring(std::int64_t width, std::int64_t keep);

  /// Adds `d` to the bucket holding `now` and drops the buckets older than `keep`. `now` may go
  /// back (a clock step): it then adds to the newest bucket.
  void add(std::int64_t now, const traffic_delta& d);

  /// The sum of the buckets whose start lies in [bucket_start(from), to].
  traffic_delta sum(std::int64_t from, std::int64_t to) const;

  /// The buckets kept, oldest first: (start, what it holds). Only buckets with data exist.
  const std::deque<std::pair<std::int64_t, traffic_delta>>& buckets() const noexcept {
    return buckets_;
  }

  std::int64_t width() const noexcept { return width_; }
  std::int64_t keep() const noexcept { return keep_; }
  /// The start of the bucket holding `t` (floor, also before 1970).
  std::int64_t bucket_start(std::int64_t t) const noexcept;

 private:
  std::int64_t width_, keep_;
  std::deque<std::pair<std::int64_t, traffic_delta>> buckets_;
};

/// Two rings over the same samples: one-minute buckets for 6 hours, one-hour buckets for 48
/// hours (what windows and GET /api/v1/traffic can reach).
class traffic_history {
 public:
  static constexpr std::int64_t minute = 60, hour = 3600;
  static constexpr std::int64_t fine_keep = 6 * hour, coarse_keep = 48 * hour;

  /// `latency_bounds`: the request-duration histogram's finite bounds (seconds); `started`: the
  /// Unix time from which on the history knows the traffic.
  traffic_history(std::vector<double> latency_bounds, std::int64_t started);

  void add(std::int64_t now, const traffic_delta& d);

  /// What happened in the last `seconds` before `now`: minute buckets up to 6 h (so the window
  /// is rounded up to whole minutes, the current one included), hour buckets beyond.
  traffic_delta window(std::int64_t now, std::int64_t seconds) const;

  const bucket_ring& minutes() const noexcept { return fine_; }
  const bucket_ring& hours() const noexcept { return coarse_; }
  const std::vector<double>& latency_bounds() const noexcept { return bounds_; }
  std::int64_t started() const noexcept { return started_; }

 private:
  std::vector<double> bounds_;
  std::int64_t started_;
  bucket_ring fine_{minute, fine_keep};
  bucket_ring coarse_{hour, coarse_keep};
};

/// The `q` quantile (0 < q < 1) of counts per bucket (`bounds` finite upper bounds, `counts`
/// non-cumulative, one more than `bounds` for +Inf), interpolated linearly inside the bucket
/// like Prometheus's histogram_quantile (the first bucket from 0; an answer in +Inf is the last
/// finite bound). nullopt without observations.
std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<double>& counts);

/// Whether a request with this outcome counts as an error for the alert rules and the traffic
/// API: 5xx answers, and the errors a user of the gateway sees as the service failing (rate
/// limits, timeouts, upstream failures, internal errors) even when the status was 2xx (a stream
/// broken after it started). Client mistakes (invalid_request, auth_error) are not errors.
bool counts_as_error(std::string_view status_class, std::string_view error_type) noexcept;

}  // namespace switchyard
