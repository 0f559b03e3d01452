#include "switchyard/compat/prompt_versioner_stats.hpp"

#include <algorithm>

namespace switchyard {

void pv_totals::add(const variant_hour_stats& r) {
  calls += r.requests;
  errors += r.errors;
  latency_ms_sum += r.latency_ms.sum;
  latency_n += r.latency_ms.n;
  cost_sum += r.cost_usd.sum;
  if (r.requests > 0 && (first_hour == 0 || r.hour < first_hour)) {
    first_hour = r.hour;
  }
}

void pv_totals::add(const feedback_summary& f) {
  if (f.event == "success") {
    successes += f.count;
  } else if (f.event == "failure") {
    failures += f.count;
  }
  score.n += f.value.n;
  score.sum += f.value.sum;
  score.sum_sq += f.value.sum_sq;
}

pv_totals& pv_totals::operator+=(const pv_totals& o) {
  calls += o.calls;
  errors += o.errors;
  latency_ms_sum += o.latency_ms_sum;
  latency_n += o.latency_n;
  cost_sum += o.cost_sum;
  successes += o.successes;
  failures += o.failures;
  score.n += o.score.n;
  score.sum += o.score.sum;
  score.sum_sq += o.score.sum_sq;
  if (o.first_hour != 0 && (first_hour == 0 || o.first_hour < first_hour)) {
    first_hour = o.first_hour;
  }
  return *this;
}

std::optional<double> pv_quality(const pv_totals& t, double score_min, double score_max) {
  if (const auto judged = t.successes + t.failures; judged > 0) {
    return static_cast<double>(t.successes) / static_cast<double>(judged);
  }
  if (t.score.n > 0 && score_max > score_min) {
    return std::clamp((t.score.mean() - score_min) / (score_max - score_min), 0.0, 1.0);
  }
  return std::nullopt;
}

std::optional<double> pv_latency_ms(const pv_totals& t) {
  if (t.latency_n <= 0) {
    return std::nullopt;
  }
  return t.latency_ms_sum / t.latency_n;
}

std::optional<double> pv_cost(const pv_totals& t) {
  if (t.calls == 0) {
    return std::nullopt;
  }
  return t.cost_sum / static_cast<double>(t.calls);
}

std::map<std::string, pv_totals> pv_version_totals(std::string_view name,
                                                   const std::vector<variant_hour_stats>& rows,
                                                   const std::vector<feedback_summary>& feedback) {
  const std::string prefix = std::string(name) + "@";
  std::map<std::string, pv_totals> out;
  for (const auto& r : rows) {
    if (r.prompt_version.starts_with(prefix)) {
      out[r.prompt_version.substr(prefix.size())].add(r);
    }
  }
  for (const auto& f : feedback) {
    if (f.prompt_version.starts_with(prefix)) {
      out[f.prompt_version.substr(prefix.size())].add(f);
    }
  }
  return out;
}

std::vector<pv_ab_candidate> pv_ab_eligible(std::vector<pv_ab_candidate> all,
                                            std::uint64_t min_calls, std::size_t max_versions,
                                            double score_min, double score_max) {
  std::erase_if(all, [&](const pv_ab_candidate& c) {
    return c.totals.calls < min_calls || !pv_quality(c.totals, score_min, score_max) ||
           !pv_latency_ms(c.totals);
  });
  std::sort(all.begin(), all.end(), [](const pv_ab_candidate& a, const pv_ab_candidate& b) {
    return a.timestamp != b.timestamp ? a.timestamp > b.timestamp : a.version > b.version;
  });
  if (all.size() > max_versions) {
    all.resize(max_versions);
  }
  return all;
}

}  // namespace switchyard
