#include "switchyard/alerts/sampler.hpp"

#include "switchyard/metrics/gateway_metrics.hpp"

#include <array>

namespace switchyard {

namespace {

// The model, experiment, variant and prompt version of a series: what tokens and cost are keyed
// by (they have no upstream label).
using usage_key = std::array<std::string, 4>;

usage_key usage_of(const traffic_key& k) {
  return {k.model, k.experiment, k.variant, k.prompt_version};
}

}  // namespace

double metrics_sampler::delta(std::vector<std::string> key, double now) {
  double& last = last_[std::move(key)];
  const double d = now - last;
  last = now;
  return d > 0 ? d : 0;  // counters never go down; a reset would only lose a sample
}

traffic_delta metrics_sampler::sample(const gateway_metrics& m,
                                      const upstream_of& primary_upstream) {
  traffic_delta out;
  // requests_total: endpoint, model, upstream, experiment, variant, prompt_version,
  // status_class, error_type. Endpoint "none" = answered by the gateway itself (API, probes).
  m.requests.visit([&](std::span<const std::string> l, const metrics::counter& c) {
    if (l.size() != 8 || l[0] == "none") {
      return;
    }
    std::vector<std::string> key{"r"};
    key.insert(key.end(), l.begin(), l.end());
    const double d = delta(std::move(key), c.value());
    if (d <= 0) {
      return;
    }
    const traffic_key k{l[1], l[2], l[3], l[4], l[5]};
    traffic_figures& f = out.series[k];
    f.requests += d;
    if (counts_as_error(l[6], l[7])) {
      f.errors += d;
    }
    const std::string primary = primary_upstream(l[1]);
    if (!primary.empty() && l[2] != "none" && l[2] != primary) {
      f.fallbacks += d;
    }
    cumulative_requests_[k] += d;
  });
  // request_duration_seconds: endpoint + the five series labels.
  m.duration.visit([&](std::span<const std::string> l, const metrics::histogram& h) {
    if (l.size() != 6 || l[0] == "none") {
      return;
    }
    const auto snap = h.collect();
    std::vector<std::string> key(l.begin(), l.end());
    std::vector<double>& last = last_hist_[key];
    last.resize(snap.cumulative.size(), 0);
    std::vector<double> counts(snap.cumulative.size(), 0);
    double below = 0, any = 0;
    for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
      const double now = static_cast<double>(snap.cumulative[i]);
      const double cum = now - last[i] > 0 ? now - last[i] : 0;
      counts[i] = cum - below > 0 ? cum - below : 0;
      below = cum;
      any += counts[i];
      last[i] = now;
    }
    if (any > 0) {
      traffic_figures f;
      f.latency = std::move(counts);
      out.series[traffic_key{l[1], l[2], l[3], l[4], l[5]}] += f;
    }
  });
  // Tokens and cost per usage key, then to the series that served them.
  std::map<usage_key, traffic_figures> usage;
  m.tokens.visit([&](std::span<const std::string> l, const metrics::counter& c) {
    // type, model, experiment, variant, prompt_version, source; cache_* are part of prompt.
    if (l.size() != 6 || (l[0] != "prompt" && l[0] != "completion")) {
      return;
    }
    std::vector<std::string> key{"t"};
    key.insert(key.end(), l.begin(), l.end());
    const double d = delta(std::move(key), c.value());
    if (d > 0) {
      auto& f = usage[{l[1], l[2], l[3], l[4]}];
      (l[0] == "prompt" ? f.input_tokens : f.output_tokens) += d;
    }
  });
  m.cost.visit([&](std::span<const std::string> l, const metrics::counter& c) {
    if (l.size() != 4) {
      return;
    }
    std::vector<std::string> key{"c"};
    key.insert(key.end(), l.begin(), l.end());
    if (const double d = delta(std::move(key), c.value()); d > 0) {
      usage[{l[0], l[1], l[2], l[3]}].cost_usd += d;
    }
  });
  for (const auto& [u, f] : usage) {
    // Shares by this interval's requests, else by all requests seen, else upstream "none".
    std::vector<std::pair<traffic_key, double>> shares;
    double total = 0;
    const auto collect = [&](const auto& counts, auto requests_of) {
      for (const auto& [k, v] : counts) {
        if (const double n = requests_of(v); n > 0 && usage_of(k) == u) {
          shares.emplace_back(k, n);
          total += n;
        }
      }
    };
    collect(out.series, [](const traffic_figures& s) { return s.requests; });
    if (total == 0) {
      collect(cumulative_requests_, [](double n) { return n; });
    }
    if (total == 0) {
      shares.emplace_back(traffic_key{u[0], "none", u[1], u[2], u[3]}, 1);
      total = 1;
    }
    for (const auto& [k, n] : shares) {
      traffic_figures& s = out.series[k];
      s.input_tokens += f.input_tokens * n / total;
      s.output_tokens += f.output_tokens * n / total;
      s.cost_usd += f.cost_usd * n / total;
    }
  }
  // Feedback: events per (experiment, variant, event); values per (experiment, variant).
  m.feedback.visit([&](std::span<const std::string> l, const metrics::counter& c) {
    if (l.size() != 3 || (l[2] != "success" && l[2] != "failure")) {
      return;
    }
    std::vector<std::string> key{"f"};
    key.insert(key.end(), l.begin(), l.end());
    if (const double d = delta(std::move(key), c.value()); d > 0) {
      auto& f = out.feedback[feedback_key{l[0], l[1]}];
      (l[2] == "success" ? f.success : f.failure) += d;
    }
  });
  m.feedback_score.visit([&](std::span<const std::string> l, const metrics::histogram& h) {
    if (l.size() != 2) {
      return;
    }
    const auto snap = h.collect();
    const double n = delta({"sn", l[0], l[1]}, static_cast<double>(snap.count));
    // Scores may be negative: the sum's change is taken as it is.
    double& last_sum = last_[{"ss", l[0], l[1]}];
    const double sum = snap.sum - last_sum;
    last_sum = snap.sum;
    if (n > 0) {
      auto& f = out.feedback[feedback_key{l[0], l[1]}];
      f.score_n += n;
      f.score_sum += sum;
    }
  });
  return out;
}

}  // namespace switchyard
