#include "switchyard/experiments/guardrails.hpp"

#include "switchyard/experiments/sequential.hpp"

#include <cmath>
#include <cstdio>

namespace switchyard {

namespace {

std::string format(const char* spec, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

// An estimate and its standard error, and the total sample behind them.
struct estimate {
  double value = 0, se = 0, n = 0;
};

// Per unit when both arms recorded units, else per request.
estimate ratio_diff(const ratio_moments& c, const ratio_moments& v, double scale,
                    const estimate& per_request) {
  if (!(c.units >= 2 && v.units >= 2 && c.d_sum > 0 && v.d_sum > 0)) {
    return per_request;
  }
  const double se2 = v.variance() / v.units + scale * scale * c.variance() / c.units;
  return {v.ratio() - scale * c.ratio(), std::sqrt(se2), c.units + v.units};
}

std::optional<guardrail_trip> test(const char* reason, const estimate& e, double margin,
                                   const guardrails_config& g, double tuning_n,
                                   const std::string& what) {
  const auto r = stats::sequential_greater(e.value, e.se, margin, e.n, g.alpha, tuning_n);
  if (!r.reject) {
    return std::nullopt;
  }
  return guardrail_trip{reason,
                        what + "; one-sided sequential test z = " + format("%.3g", r.z) +
                            " above its boundary " + format("%.3g", r.boundary) + " at alpha " +
                            format("%.3g", g.alpha) + " (e-value " + format("%.3g", r.e_value) +
                            ")",
                        r.z, r.boundary};
}

std::optional<guardrail_trip> error_rate(const guardrails_config& g, const guardrail_arm& c,
                                         const guardrail_arm& v, double tuning_n) {
  const double pc = c.errors / c.requests, pv = v.errors / v.requests;
  const estimate per_request{pv - pc,
                             std::sqrt(pc * (1 - pc) / c.requests + pv * (1 - pv) / v.requests),
                             c.requests + v.requests};
  const estimate e = ratio_diff(c.error_units, v.error_units, 1, per_request);
  return test("error_rate", e, g.max_error_rate_increase, g, tuning_n,
              "error rate " + format("%.4g", pv) + " vs control " + format("%.4g", pc) +
                  " (allowed increase " + format("%.3g", g.max_error_rate_increase) + ")");
}

std::optional<guardrail_trip> latency_tail(const guardrails_config& g, const guardrail_arm& c,
                                           const guardrail_arm& v, double tuning_n) {
  const double nc = static_cast<double>(c.latency.count());
  const double nv = static_cast<double>(v.latency.count());
  if (nc < 2 || nv < 2) {
    return std::nullopt;
  }
  const double limit = c.latency.quantile(0.95) * (1 + g.max_p95_latency_increase);
  const double share = v.latency.fraction_above(limit);
  // On the arcsine scale, where a share's variance is 1/n whatever the share: the normal
  // approximation of a 5 % tail is skewed at a few hundred requests, the transformed one is not.
  const auto arcsine = [](double p) { return 2 * std::asin(std::sqrt(p)); };
  const estimate e{arcsine(share), std::sqrt(1 / nv + 1 / nc), nc + nv};
  return test("p95_latency", e, arcsine(0.05), g, tuning_n,
              "p95 " + format("%.4g", v.latency.quantile(0.95)) + " ms vs control " +
                  format("%.4g", c.latency.quantile(0.95)) + " ms; " + format("%.3g", 100 * share) +
                  " % of requests above " + format("%.4g", limit) + " ms (allowed 5 %)");
}

std::optional<guardrail_trip> cost(const guardrails_config& g, const guardrail_arm& c,
                                   const guardrail_arm& v, double tuning_n) {
  const double k = 1 + g.max_cost_increase;
  const estimate per_request{v.cost_usd.mean() - k * c.cost_usd.mean(),
                             std::sqrt(v.cost_usd.variance() / v.cost_usd.n +
                                       k * k * c.cost_usd.variance() / c.cost_usd.n),
                             c.cost_usd.n + v.cost_usd.n};
  const estimate e = ratio_diff(c.cost_units, v.cost_units, k, per_request);
  return test("cost", e, 0, g, tuning_n,
              "cost per request " + format("%.4g", v.cost_usd.mean()) + " USD vs control " +
                  format("%.4g", c.cost_usd.mean()) + " USD (allowed increase " +
                  format("%.3g", 100 * g.max_cost_increase) + " %)");
}

}  // namespace

std::optional<guardrail_trip> check_guardrail(const guardrails_config& g,
                                              const guardrail_arm& control,
                                              const guardrail_arm& variant, double tuning_n) {
  if (g.daily_budget_usd > 0 && variant.cost_today > g.daily_budget_usd) {
    return guardrail_trip{"daily_budget",
                          "spent " + format("%.4f", variant.cost_today) + " USD today, budget " +
                              format("%.4f", g.daily_budget_usd) + " USD (a hard limit)",
                          variant.cost_today, g.daily_budget_usd};
  }
  const double min = static_cast<double>(g.min_requests);
  if (!(control.requests >= min && variant.requests >= min && control.requests >= 2 &&
        variant.requests >= 2)) {
    return std::nullopt;
  }
  if (g.max_error_rate_increase >= 0) {
    if (auto t = error_rate(g, control, variant, tuning_n)) {
      return t;
    }
  }
  if (g.max_p95_latency_increase >= 0) {
    if (auto t = latency_tail(g, control, variant, tuning_n)) {
      return t;
    }
  }
  if (g.max_cost_increase >= 0 && control.cost_usd.n >= 2 && variant.cost_usd.n >= 2) {
    if (auto t = cost(g, control, variant, tuning_n)) {
      return t;
    }
  }
  return std::nullopt;
}

}  // namespace switchyard
