#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/metrics/registry.hpp"

#include <cstdint>
#include <unordered_map>

namespace switchyard {

struct shared_state;

/// The gateway's metric set (the names are the contract users build dashboards on).
struct gateway_metrics {
  gateway_metrics(const config& cfg, std::size_t shards, shared_state& shared);

  /// The series one request feeds, resolved once per request (per worker, cached by label set).
  struct request_series {
    metrics::histogram* duration = nullptr;
    metrics::histogram* ttft = nullptr;
    metrics::histogram* inter_token = nullptr;
    metrics::counter* tokens[2][2] = {};  // [prompt|completion][reported|estimated]
    /// type="cache_read" / "cache_write" (reported only; part of the prompt tokens), made when
    /// a request first reports one, so that models without a prompt cache get no such series.
    metrics::counter* cache_tokens[2] = {};
    metrics::counter* cost = nullptr;
    metrics::counter* assignments = nullptr;  // null outside experiments
    std::uint64_t instance = 0;               // the owning gateway_metrics::instance
    std::vector<std::string> labels;          // the six values, to tell hash collisions apart
    /// switchyard_requests_total per outcome seen with these labels (a handful at most).
    struct outcome {
      std::string_view status_class;  // static text from status_class()
      std::string error_type;
      metrics::counter* counter = nullptr;
    };
    std::vector<outcome> outcomes;
    metrics::counter& requests_for(gateway_metrics& m, std::string_view status_class,
                                   std::string_view error_type);
  };

  /// The series for this request's labels (model, upstream, experiment…). Worker thread only.
  request_series& series_for(const access_record& rec);

  /// Everything a finished request contributes. Worker thread only.
  void observe(const access_record& rec);

  metrics::registry registry;
  metrics::family<metrics::counter>& requests;
  metrics::family<metrics::histogram>& duration;
  metrics::family<metrics::histogram>& ttft;
  metrics::family<metrics::histogram>& inter_token;
  metrics::family<metrics::histogram>& overhead;
  metrics::family<metrics::histogram>& upstream_duration;
  metrics::family<metrics::counter>& tokens;
  metrics::family<metrics::counter>& cost;
  metrics::family<metrics::counter>& retries;
  metrics::family<metrics::counter>& fallbacks;
  metrics::family<metrics::counter>& rate_limited;
  metrics::family<metrics::gauge>& inflight;
  metrics::family<metrics::gauge>& active_streams;
  metrics::family<metrics::counter>& assignments;
  metrics::family<metrics::counter>& feedback;
  metrics::family<metrics::histogram>& feedback_score;
  metrics::family<metrics::counter>& guardrail_trips;

  /// Unique in the process, never reused: series_for's thread-local cache is keyed by it, so a
  /// gateway_metrics built where a freed one lived can never find that one's series.
  const std::uint64_t instance;
};

/// "2xx", "4xx", "5xx"… for a status code.
std::string_view status_class(unsigned status) noexcept;

}  // namespace switchyard
