#include "switchyard/metrics/gateway_metrics.hpp"

#include "switchyard/core/version.hpp"
#include "switchyard/metrics/exposition.hpp"
#include "switchyard/metrics/process_metrics.hpp"
#include "switchyard/runtime/worker.hpp"

#include <atomic>
#include <chrono>

namespace switchyard {

std::string_view status_class(unsigned status) noexcept {
  static constexpr std::string_view classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return status >= 100 && status < 600 ? classes[status / 100 - 1] : "other";
}

namespace {

std::atomic<std::uint64_t> next_instance{1};

using label_list = std::vector<std::string>;

const label_list request_labels{"endpoint",   "model",   "upstream",
                                "experiment", "variant", "prompt_version"};

std::vector<double> or_default(const std::vector<double>& given, std::vector<double> fallback) {
  return given.empty() ? fallback : given;
}

label_list with(label_list base, std::initializer_list<std::string> more) {
  base.insert(base.end(), more);
  return base;
}

std::string_view or_none(std::string_view v) {
  return v.empty() ? "none" : v;
}

// The model that served the request (a variant may route elsewhere than the name asked for);
// unknown names collapse to "other" so clients cannot grow the label set.
std::string_view model_label(const access_record& rec) {
  if (!rec.routed_model.empty()) {
    return rec.routed_model;
  }
  return rec.model_known ? std::string_view(rec.model) : "other";
}

}  // namespace

gateway_metrics::gateway_metrics(const config& cfg, std::size_t shards, shared_state& shared)
    : registry(shards),
      requests(registry.add_counter("switchyard_requests_total", "Requests answered, by outcome.",
                                    with(request_labels, {"status_class", "error_type"}))),
      duration(registry.add_histogram(
          "switchyard_request_duration_seconds", "Whole request, client view.", request_labels,
          or_default(cfg.metrics.latency_buckets, metrics::default_latency_buckets()))),
      ttft(registry.add_histogram(
          "switchyard_time_to_first_token_seconds", "Request start to first content event.",
          request_labels,
          or_default(cfg.metrics.latency_buckets, metrics::default_latency_buckets()))),
      inter_token(registry.add_histogram("switchyard_inter_token_seconds",
                                         "Gap between content events of a stream.", request_labels,
                                         metrics::exponential_buckets(0.001, 2, 14))),
      overhead(registry.add_histogram(
          "switchyard_gateway_overhead_seconds",
          "Time in the gateway: the request's duration less upstream attempts and retry waits.",
          {"endpoint"},
          or_default(cfg.metrics.overhead_buckets, metrics::default_overhead_buckets()))),
      upstream_duration(registry.add_histogram(
          "switchyard_upstream_duration_seconds", "Time inside upstream attempts per request.",
          {"upstream", "status_class"},
          or_default(cfg.metrics.latency_buckets, metrics::default_latency_buckets()))),
      tokens(registry.add_counter(
          "switchyard_tokens_total", "Tokens, from the upstream's usage or estimated.",
          {"type", "model", "experiment", "variant", "prompt_version", "source"})),
      cost(registry.add_counter("switchyard_cost_usd_total", "Cost in USD from configured prices.",
                                {"model", "experiment", "variant", "prompt_version"})),
      retries(registry.add_counter("switchyard_retries_total", "Upstream retries, by reason.",
                                   {"upstream", "reason"})),
      fallbacks(registry.add_counter("switchyard_fallbacks_total",
                                     "Requests moved to a fallback target.", {"from", "to"})),
      rate_limited(registry.add_counter("switchyard_rate_limited_total",
                                        "Requests refused by a rate limit.", {"scope"})),
      inflight(
          registry.add_gauge("switchyard_inflight_requests", "Proxied requests in flight.", {})),
      active_streams(
          registry.add_gauge("switchyard_active_streams", "SSE streams being relayed.", {})),
      assignments(registry.add_counter("switchyard_experiment_assignments_total",
                                       "Requests assigned to a variant (randomised).",
                                       {"experiment", "variant"})),
      feedback(registry.add_counter("switchyard_feedback_total", "Feedback events recorded.",
                                    {"experiment", "variant", "event"}, 1000)),
      feedback_score(
          registry.add_histogram("switchyard_feedback_score", "Feedback values (e.g. 1-5 scores).",
                                 {"experiment", "variant"}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})),
      guardrail_trips(registry.add_counter("switchyard_guardrail_trips_total",
                                           "Variants paused by a guardrail.",
                                           {"experiment", "variant", "reason"})),
      instance(next_instance.fetch_add(1, std::memory_order_relaxed)) {
  std::vector<std::string> names;
  for (const auto& u : cfg.upstreams) {
    names.push_back(u.name);
  }
  registry.add_callback("switchyard_circuit_open", "1 while an upstream is ejected.", "gauge",
                        [&shared, names](std::string& out, bool) {
                          auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         steady_clock::now().time_since_epoch())
                                         .count();
                          for (std::size_t i = 0; i < names.size(); ++i) {
                            bool open = shared.breakers[i]->current(now) == breaker_state::open;
                            metrics::append_sample(out, "switchyard_circuit_open",
                                                   {{"upstream", names[i]}}, open ? 1 : 0);
                          }
                        });
  registry.add_callback(
      "switchyard_build_info", "Build version.", "gauge", [](std::string& out, bool) {
        metrics::append_sample(out, "switchyard_build_info", {{"version", version_string}}, 1);
      });
  (void)metrics::add_process_metrics(registry);  // /proc missing: no process_* series
}

gateway_metrics::request_series& gateway_metrics::series_for(const access_record& rec) {
  const std::string_view model = model_label(rec);
  const std::string_view labels[] = {or_none(rec.endpoint), model,
                                     or_none(rec.upstream), or_none(rec.experiment),
                                     or_none(rec.variant),  or_none(rec.prompt_version)};
  // FNV-1a over the label values: no allocation to find an existing label set.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ (instance * 0x9e3779b97f4a7c15ULL);
  for (auto v : labels) {
    for (char ch : v) {
      h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    }
    h = (h ^ 0x1f) * 0x100000001b3ULL;
  }
  thread_local std::unordered_map<std::uint64_t, request_series> cache;
  auto it = cache.find(h);
  if (it != cache.end() && it->second.instance == instance &&
      std::equal(std::begin(labels), std::end(labels), it->second.labels.begin())) {
    return it->second;
  }
  request_series s;
  s.instance = instance;
  s.labels.assign(std::begin(labels), std::end(labels));
  s.duration = &duration.with(labels);
  s.ttft = &ttft.with(labels);
  s.inter_token = &inter_token.with(labels);
  static constexpr std::string_view types[] = {"prompt", "completion"};
  static constexpr std::string_view sources[] = {"reported", "estimated"};
  for (int t = 0; t < 2; ++t) {
    for (int src = 0; src < 2; ++src) {
      s.tokens[t][src] =
          &tokens.with({types[t], labels[1], labels[3], labels[4], labels[5], sources[src]});
    }
  }
  s.cost = &cost.with({labels[1], labels[3], labels[4], labels[5]});
  if (!rec.experiment.empty()) {
    s.assignments = &assignments.with({labels[3], labels[4]});
  }
  return cache.insert_or_assign(h, std::move(s)).first->second;
}

metrics::counter& gateway_metrics::request_series::requests_for(gateway_metrics& m,
                                                                std::string_view status_class,
                                                                std::string_view error_type) {
  for (const auto& o : outcomes) {
    if (o.status_class == status_class && o.error_type == error_type) {
      return *o.counter;
    }
  }
  const std::string_view values[] = {labels[0], labels[1], labels[2],    labels[3],
                                     labels[4], labels[5], status_class, error_type};
  auto& c = m.requests.with(values);
  outcomes.push_back({status_class, std::string(error_type), &c});
  return c;
}

void gateway_metrics::observe(const access_record& rec) {
  const std::string_view error = rec.error.empty() ? "none" : rec.error;
  if (rec.endpoint.empty()) {  // answered by the gateway itself (health, API, 404…)
    requests
        .with({"none", model_label(rec), or_none(rec.upstream), or_none(rec.experiment),
               or_none(rec.variant), or_none(rec.prompt_version), status_class(rec.status), error})
        .inc();
    return;
  }
  auto& s = series_for(rec);
  s.requests_for(*this, status_class(rec.status), error).inc();
  const double seconds = rec.duration_ms / 1000;
  s.duration->observe(seconds);
  if (rec.ttft_ms >= 0) {
    s.ttft->observe(rec.ttft_ms / 1000);
  }
  if (rec.usage) {
    const int src = rec.usage_estimated ? 1 : 0;
    s.tokens[0][src]->inc(static_cast<double>(rec.usage->prompt_tokens));
    s.tokens[1][src]->inc(static_cast<double>(rec.usage->completion_tokens));
    // Prompt-cache reads and writes (Anthropic's cache_read/cache_creation_input_tokens): a
    // subset of the prompt tokens, priced differently, so counted apart as well.
    const std::int64_t cache[2] = {rec.usage->cache_read_tokens, rec.usage->cache_write_tokens};
    static constexpr std::string_view cache_types[] = {"cache_read", "cache_write"};
    for (int k = 0; k < 2; ++k) {
      if (cache[k] <= 0) {
        continue;
      }
      if (!s.cache_tokens[k]) {
        const auto& l = s.labels;
        s.cache_tokens[k] = &tokens.with({cache_types[k], l[1], l[3], l[4], l[5], "reported"});
      }
      s.cache_tokens[k]->inc(static_cast<double>(cache[k]));
    }
  }
  if (rec.cost_usd > 0) {
    s.cost->inc(rec.cost_usd);
  }
  if (s.assignments && rec.assignment == "assigned") {
    s.assignments->inc();
  }
  if (!rec.upstream.empty() && rec.attempts > 0) {
    overhead.with({rec.endpoint}).observe(std::max(0.0, rec.duration_ms - rec.upstream_ms) / 1000);
    upstream_duration.with({rec.upstream, status_class(rec.status)})
        .observe(rec.upstream_ms / 1000);
  }
}

}  // namespace switchyard
