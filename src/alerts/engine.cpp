#include "switchyard/alerts/engine.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/analysis.hpp"
#include "switchyard/experiments/analysis_gather.hpp"
#include "switchyard/experiments/engine.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/metrics/registry.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace switchyard {

namespace {

namespace json = boost::json;

std::vector<double> latency_bounds(const boot_config& boot) {
  return boot.metrics.latency_buckets.empty() ? metrics::default_latency_buckets()
                                              : boot.metrics.latency_buckets;
}

const char* metric_name(alert_metric m) {
  switch (m) {
    case alert_metric::error_rate:
      return "error_rate";
    case alert_metric::p95_latency_ms:
      return "p95_latency_ms";
    case alert_metric::daily_spend_usd:
      return "daily_spend_usd";
    case alert_metric::feedback_success_rate:
      return "feedback_success_rate";
    case alert_metric::feedback_score_mean:
      return "feedback_score_mean";
  }
  return "error_rate";
}

// Where each experiment variant's requests go (for the feedback rules' scopes).
variant_routes routes_of(const plan& p) {
  variant_routes out;
  for (const experiment_plan& e : p.experiments) {
    for (const variant_plan& v : e.variants) {
      variant_route r;
      if (v.model != nullptr) {
        r.model = v.model->name;
        r.upstream = v.model->upstream;
      }
      if (v.prompt != nullptr) {
        r.prompt_version = v.prompt->ref;
      }
      out[feedback_key{e.cfg->name, v.name}] = std::move(r);
    }
  }
  return out;
}

std::string share_list(const json::array& xs, bool percent) {
  std::string out;
  for (const auto& x : xs) {
    out += out.empty() ? "" : " / ";
    const double v = x.is_number() ? x.to_number<double>() : 0;
    char buf[32];
    std::snprintf(buf, sizeof buf, percent ? "%.0f%%" : "%.0f", percent ? v * 100 : v);
    out += buf;
  }
  return out;
}

}  // namespace

result<std::unique_ptr<alert_engine>> alert_engine::open(const boot_config& boot,
                                                         const config_snapshot& snapshot,
                                                         experiment_engine* experiments,
                                                         const gateway_metrics* metrics) {
  std::error_code ec;
  std::filesystem::create_directories(boot.data_dir, ec);  // an error shows in the open below
  auto store = alert_store::open((std::filesystem::path(boot.data_dir) / "alerts.db").string());
  if (!store) {
    return store.error();
  }
  auto kept = (*store)->load();
  if (!kept) {
    return kept.error();
  }
  return std::unique_ptr<alert_engine>(
      new alert_engine(boot, snapshot, experiments, metrics, std::move(*store), std::move(*kept)));
}

alert_engine::alert_engine(const boot_config& boot, const config_snapshot& snapshot,
                           experiment_engine* experiments, const gateway_metrics* metrics,
                           std::unique_ptr<alert_store> store, std::vector<alert> kept)
    : snapshot_(snapshot),
      experiments_(experiments),
      metrics_(metrics),
      store_(std::move(store)),
      history_(latency_bounds(boot), unix_seconds()),
      alerts_(std::move(kept)) {
  for (const alert& a : alerts_) {
    next_id_ = std::max(next_id_, a.id + 1);
  }
}

alert_engine::~alert_engine() {
  stop();
}

void alert_engine::start() {
  std::lock_guard lock(stop_mutex_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] {
    name_thread("sy-alerts");
    for (;;) {
      const auto p = snapshot_.current();
      const auto interval = p ? p->cfg->alerts.evaluation_interval : duration{30'000};
      {
        std::unique_lock wait_lock(stop_mutex_);
        if (stop_cv_.wait_for(wait_lock, interval, [this] { return stopping_; })) {
          return;
        }
      }
      try {
        evaluate_now();
      } catch (const std::exception& e) {
        spdlog::error("alerts: an evaluation round failed: {}", e.what());
      }
    }
  });
}

void alert_engine::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void alert_engine::sample_locked(std::int64_t now) {
  if (metrics_ == nullptr) {
    return;
  }
  const auto p = snapshot_.current();
  const auto primary = [&](std::string_view model) -> std::string {
    const model_config* m = p ? p->cfg->find_model(model) : nullptr;
    return m ? m->upstream : std::string();
  };
  history_.add(now, sampler_.sample(*metrics_, primary));
}

void alert_engine::sample_now() {
  std::lock_guard lock(mutex_);
  sample_locked(unix_seconds());
}

std::vector<breach> alert_engine::experiment_breaches(const plan& p, const alerts_config& a) {
  std::vector<breach> out;
  for (const experiment_plan& e : p.experiments) {
    if (e.status == "concluded") {
      continue;  // decided: its split no longer matters, its guardrails no longer act
    }
    const analysis_input in = gather_analysis(*experiments_, e, false);
    const std::string& name = e.cfg->name;
    const json::object report = experiment_report(in);
    if (const auto* srm = report.if_contains("srm"); srm && srm->is_object()) {
      const auto& s = srm->as_object();
      const auto& pv = s.at("p_value");
      if (pv.is_number() && pv.to_number<double>() < a.srm_p_value) {
        const double pval = pv.to_number<double>();
        char p_text[32], t_text[32];
        std::snprintf(p_text, sizeof p_text, "%.2g", pval);
        std::snprintf(t_text, sizeof t_text, "%g", a.srm_p_value);
        breach b;
        b.rule = "srm";
        b.kind = "srm";
        b.metric = "srm_p_value";
        b.severity = a.srm_severity;
        b.scope.experiment = name;
        b.value = pval;
        b.threshold = a.srm_p_value;
        b.comparison = "below";
        b.message = "Sample ratio mismatch in experiment " + name + ": p = " + p_text + " < " +
                    t_text + " (observed " + share_list(s.at("observed").as_array(), false) + " " +
                    std::string(s.at("basis").as_string()) + ", expected " +
                    share_list(s.at("expected_share").as_array(), true) + ")";
        out.push_back(std::move(b));
      }
    }
    // A variant paused by a guardrail: alert until it runs again (resume clears the pauses).
    for (const std::string& v : in.paused_variants) {
      const guardrail_event* last = nullptr;
      for (const guardrail_event& g : in.guardrails) {
        if (g.variant == v) {
          last = &g;
        }
      }
      if (last == nullptr) {
        continue;
      }
      breach b;
      b.rule = "guardrail";
      b.kind = "guardrail";
      b.metric = "guardrail_trip";
      b.severity = a.guardrail_severity;
      b.scope.experiment = name;
      b.scope.variant = v;
      b.message = "Guardrail paused variant " + v + " of experiment " + name + ": " + last->reason +
                  (last->detail.empty() ? "" : " (" + last->detail + ")");
      out.push_back(std::move(b));
    }
  }
  return out;
}

void alert_engine::evaluate_now() {
  std::lock_guard round(round_mutex_);
  const auto p = snapshot_.current();
  if (!p) {
    return;
  }
  const alerts_config& a = p->cfg->alerts;
  const std::int64_t now = unix_seconds();
  std::vector<breach> breaches_now;
  round_facts facts;
  facts.known = {"srm", "guardrail"};
  {
    std::lock_guard lock(mutex_);
    sample_locked(now);
    const variant_routes routes = routes_of(*p);
    for (const alert_rule_config& rule : a.rules) {
      facts.known.insert(rule.name);
      const std::int64_t seconds = rule.window.count() / 1000;
      // Scopes without data resolve only once the history spans the window (not right after a
      // restart, when the window's traffic is unknown).
      if (now - history_.started() >= seconds) {
        facts.evaluated.insert(rule.name);
      }
      const traffic_delta window = history_.window(now, seconds);
      for (const measurement& m : measure(rule, window, history_.latency_bounds(), routes)) {
        if (!breaches(rule, m)) {
          if (m.value) {
            facts.cleared.emplace(rule.name, m.scope.key());
          }
          continue;
        }
        breach b;
        b.rule = rule.name;
        b.kind = "rule";
        b.metric = metric_name(rule.kind);
        b.severity = rule.severity;
        b.scope = m.scope;
        b.value = m.value;
        b.threshold = rule.threshold;
        b.comparison = rule.below ? "below" : "above";
        b.window_seconds = rule.window.count() / 1000;
        b.message = rule_message(rule, m);
        breaches_now.push_back(std::move(b));
      }
    }
  }
  if (experiments_ != nullptr) {
    auto more = experiment_breaches(*p, a);
    breaches_now.insert(breaches_now.end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
    facts.evaluated.insert("srm");
    facts.evaluated.insert("guardrail");
  }
  std::lock_guard lock(mutex_);
  const auto changed = apply_round(alerts_, breaches_now, facts, now, next_id_);
  for (std::size_t i : changed) {
    const alert& x = alerts_[i];
    if (x.started_at == now && x.state == "firing" && x.updated_at == now && !x.resolved_at) {
      spdlog::warn("alert {} firing: {} [{}]", x.id, x.message, x.severity);
    } else if (x.state == "resolved" && x.resolved_at == now) {
      spdlog::info("alert {} resolved: {}", x.id, x.rule);
    }
    if (auto r = store_->save(x); !r) {
      spdlog::error("alerts: {}", r.error().message);
    }
  }
  last_evaluation_ = now;
  if (++rounds_ % 100 == 0 || alerts_.size() > max_history + 1000) {
    if (auto r = store_->prune(max_history); !r) {
      spdlog::error("alerts: {}", r.error().message);
    }
    // The same in memory: the oldest resolved ones beyond max_history.
    std::size_t resolved = 0;
    for (const alert& x : alerts_) {
      resolved += x.state == "resolved" ? 1u : 0u;
    }
    for (auto it = alerts_.begin(); resolved > max_history && it != alerts_.end();) {
      if (it->state == "resolved") {
        it = alerts_.erase(it);
        --resolved;
      } else {
        ++it;
      }
    }
  }
}

alert_engine::listing alert_engine::list(std::string_view state, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  listing out;
  for (const alert& a : alerts_) {
    (a.state == "firing"         ? out.firing
     : a.state == "acknowledged" ? out.acknowledged
                                 : out.resolved)++;
  }
  const auto wanted = [&](const alert& a) {
    if (state == "all") {
      return true;
    }
    if (state == "active") {
      return a.state == "firing";
    }
    return a.state == state;
  };
  std::vector<const alert*> picked;
  for (const alert& a : alerts_) {
    if (wanted(a)) {
      picked.push_back(&a);
    }
  }
  std::sort(picked.begin(), picked.end(), [](const alert* x, const alert* y) {
    return x->started_at != y->started_at ? x->started_at > y->started_at : x->id > y->id;
  });
  for (std::size_t i = 0; i < picked.size() && i < limit; ++i) {
    out.alerts.push_back(*picked[i]);
  }
  return out;
}

result<alert> alert_engine::acknowledge(std::int64_t id) {
  std::lock_guard lock(mutex_);
  for (alert& a : alerts_) {
    if (a.id != id) {
      continue;
    }
    const alert before = a;
    if (switchyard::acknowledge(a, unix_seconds())) {
      if (auto r = store_->save(a); !r) {
        a = before;  // not kept: the next try acknowledges it again
        spdlog::error("alerts: {}", r.error().message);
        return make_error(errc::internal, "The acknowledgement could not be stored; try again.");
      }
      spdlog::info("alert {} acknowledged by the admin API", a.id);
    }
    return a;
  }
  return make_error(errc::not_found, "No alert with id " + std::to_string(id) + ".");
}

std::optional<std::int64_t> alert_engine::last_evaluation() const {
  std::lock_guard lock(mutex_);
  return last_evaluation_;
}

}  // namespace switchyard
