#include "switchyard/experiments/engine.hpp"

#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/experiments/sqlite_store.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace switchyard {

double cost_usd(const price_config& price, double input_tokens, double output_tokens) noexcept {
  return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6;
}

std::size_t experiment_engine::cell_hash::operator()(const cell_key& k) const noexcept {
  auto h = std::hash<const void*>{}(k.variant);
  h ^= std::hash<std::uint64_t>{}(k.generation) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<std::int64_t>{}(k.hour) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

namespace {

std::string merge_sketches(std::string_view a, std::string_view b) {
  auto x = latency_sketch::deserialize(a);
  auto y = latency_sketch::deserialize(b);
  if (!x) {
    return std::string(y ? b : std::string_view{});
  }
  if (y) {
    x->merge(*y);
  }
  return x->serialize();
}

// The configured key, or one generated once and kept next to the store, so ids stay valid
// across restarts (replicas that share feedback must share the key: set feedback.signing_key).
result<std::string> load_feedback_key(const config& cfg) {
  if (!cfg.feedback.signing_key.empty()) {
    return cfg.feedback.signing_key;
  }
  const auto path = cfg.data_dir + "/feedback.key";
  if (std::ifstream in(path); in) {
    std::string key;
    std::getline(in, key);
    if (key.size() >= 16) {
      return key;
    }
  }
  std::string key = generate_feedback_key();
  std::ofstream out(path, std::ios::trunc);
  if (!out || !(out << key << '\n')) {
    return make_error(errc::internal, "cannot write the feedback key to " + path);
  }
  out.close();
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return key;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

result<std::unique_ptr<experiment_engine>> experiment_engine::open(
    std::shared_ptr<const config> cfg, std::string config_path, std::size_t shards) {
  std::unique_ptr<experiment_engine> e(new experiment_engine());
  e->config_path_ = std::move(config_path);
  auto store = open_sqlite_store(cfg->data_dir, merge_sketches);
  if (!store) {
    return store.error();
  }
  e->store_ = std::move(*store);
  auto key = load_feedback_key(*cfg);
  if (!key) {
    return key.error();
  }
  e->feedback_key_ = std::move(*key);
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) {
    e->shards_.push_back(std::make_unique<shard>());
  }
  if (auto r = e->rebuild(std::move(cfg)); !r) {
    return r.error();
  }
  return e;
}

experiment_engine::~experiment_engine() {
  stop();
}

result<void> experiment_engine::rebuild(std::shared_ptr<const config> cfg) {
  auto controls = store_->load_controls();
  if (!controls) {
    return controls.error();
  }
  auto p = build_plan(std::move(cfg), *controls, ++generation_);
  if (!p) {
    return p.error();
  }
  plan_.store(std::move(*p), std::memory_order_release);
  return {};
}

void experiment_engine::record(std::size_t shard_index, const plan& p, const assignment& a,
                               const experiment_outcome& o) {
  auto& s = *shards_[std::min(shard_index, shards_.size() - 1)];
  const std::int64_t hour = o.unix_seconds / 3600 * 3600;
  std::lock_guard lock(s.mutex);
  auto [it, created] = s.cells.try_emplace(cell_key{p.generation, a.variant, hour});
  cell& c = it->second;
  if (created) {
    c.sums.experiment = a.experiment->cfg->name;
    c.sums.variant = a.variant->name;
    c.sums.prompt_version = a.variant->prompt ? a.variant->prompt->ref : "";
    c.sums.hour = hour;
  }
  ++c.sums.requests;
  c.sums.errors += o.error ? 1 : 0;
  c.sums.latency_ms.add(o.latency_ms);
  c.latency.add(o.latency_ms);
  if (o.ttft_ms >= 0) {
    c.sums.ttft_ms.add(o.ttft_ms);
    c.ttft.add(o.ttft_ms);
  }
  c.sums.input_tokens.add(o.input_tokens);
  c.sums.output_tokens.add(o.output_tokens);
  c.sums.cost_usd.add(o.cost_usd);
  if (a.unit_fingerprint != 0 && (c.units.empty() || c.units.back() != a.unit_fingerprint)) {
    c.units.push_back(a.unit_fingerprint);
  }
}

result<void> experiment_engine::flush() {
  std::lock_guard flush_lock(flush_mutex_);
  std::vector<variant_hour_stats> rows;
  std::vector<unit_record> units;
  for (auto& s : shards_) {
    std::unordered_map<cell_key, cell, cell_hash> taken;
    {
      std::lock_guard lock(s->mutex);
      taken.swap(s->cells);
    }
    for (auto& [key, c] : taken) {
      c.sums.latency_sketch = c.latency.serialize();
      c.sums.ttft_sketch = c.ttft.serialize();
      std::sort(c.units.begin(), c.units.end());
      c.units.erase(std::unique(c.units.begin(), c.units.end()), c.units.end());
      for (auto u : c.units) {
        units.push_back({c.sums.experiment, c.sums.variant, u, c.sums.hour});
      }
      rows.push_back(std::move(c.sums));
    }
  }
  if (rows.empty()) {
    return {};
  }
  return store_->write_batch(rows, units);
}

void experiment_engine::start() {
  const auto interval = current()->cfg->stats_flush;
  flusher_ = std::thread([this, interval] {
    std::unique_lock lock(stop_mutex_);
    while (!stopping_) {
      stop_cv_.wait_for(lock, interval, [this] { return stopping_; });
      lock.unlock();
      if (auto r = flush(); !r) {
        spdlog::error("experiment statistics flush failed: {}", r.error().message);
      }
      check_guardrails();
      lock.lock();
    }
  });
}

void experiment_engine::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) {
    flusher_.join();
  }
  if (store_) {
    if (auto r = flush(); !r) {
      spdlog::error("final experiment statistics flush failed: {}", r.error().message);
    }
  }
}

result<void> experiment_engine::reload() {
  std::lock_guard lock(admin_mutex_);
  if (config_path_.empty()) {
    return make_error(errc::invalid_request, "this gateway was not started from a config file");
  }
  auto next = load_config_file(config_path_);
  if (!next) {
    return next.error();
  }
  auto cur = current()->cfg;
  if (auto key = restart_required(*cur, *next); !key.empty()) {
    return make_error(errc::invalid_request,
                      "`" + key + "` changed: that needs a restart; the running config is kept");
  }
  return rebuild(std::make_shared<const config>(std::move(*next)));
}

experiment_control experiment_engine::control(std::string_view name) {
  auto all = store_->load_controls();
  if (all) {
    for (auto& c : *all) {
      if (c.experiment == name) {
        return c;
      }
    }
  }
  experiment_control c;
  c.experiment = std::string(name);
  return c;
}

result<void> experiment_engine::apply_control(const experiment_control& c) {
  std::lock_guard lock(admin_mutex_);
  if (auto r = store_->save_control(c); !r) {
    return r;
  }
  return rebuild(current()->cfg);
}

void experiment_engine::check_guardrails() {
  auto p = current();
  const std::int64_t now = unix_now();
  const std::int64_t day = now / 86400 * 86400;
  for (const auto& e : p->experiments) {
    const auto& g = e.cfg->guardrails;
    if (e.status != "running" || (g.max_error_rate_increase < 0 && g.max_p95_latency_increase < 0 &&
                                  g.daily_budget_usd <= 0)) {
      continue;
    }
    auto rows = store_->read_stats(e.cfg->name, 0, now + 3600);
    if (!rows) {
      continue;
    }
    struct totals {
      double requests = 0, errors = 0, cost_today = 0;
      latency_sketch latency;
    };
    std::vector<totals> t(e.variants.size());
    for (const auto& r : *rows) {
      for (std::size_t i = 0; i < e.variants.size(); ++i) {
        if (e.variants[i].name == r.variant) {
          t[i].requests += static_cast<double>(r.requests);
          t[i].errors += static_cast<double>(r.errors);
          if (r.hour >= day) {
            t[i].cost_today += r.cost_usd.sum;
          }
          if (auto s = latency_sketch::deserialize(r.latency_sketch)) {
            t[i].latency.merge(*s);
          }
        }
      }
    }
    const double z = stats::z_quantile(1 - g.alpha);
    for (std::size_t i = 1; i < e.variants.size(); ++i) {
      if (e.variants[i].paused) {
        continue;
      }
      std::string reason, detail;
      const auto& c = t[0];
      const auto& v = t[i];
      const bool enough = c.requests >= static_cast<double>(g.min_requests) &&
                          v.requests >= static_cast<double>(g.min_requests);
      if (g.daily_budget_usd > 0 && v.cost_today > g.daily_budget_usd) {
        reason = "daily_budget";
        detail = "spent " + std::to_string(v.cost_today) + " USD today, budget " +
                 std::to_string(g.daily_budget_usd);
      } else if (enough && g.max_error_rate_increase >= 0) {
        // One-sided: is the variant's error rate above control's by more than the margin?
        double pc = c.errors / c.requests, pv = v.errors / v.requests;
        double se = std::sqrt(pc * (1 - pc) / c.requests + pv * (1 - pv) / v.requests);
        double stat = se > 0 ? (pv - pc - g.max_error_rate_increase) / se : 0;
        if (stat > z) {
          reason = "error_rate";
          detail = "error rate " + std::to_string(pv) + " vs control " + std::to_string(pc);
        }
      }
      if (reason.empty() && enough && g.max_p95_latency_increase >= 0) {
        // Under "p95 at most control's p95 × (1 + margin)", at most 5 % of the variant's
        // requests are slower than that; significantly more means it is worse.
        double limit = c.latency.quantile(0.95) * (1 + g.max_p95_latency_increase);
        double share = v.latency.fraction_above(limit);
        double se = std::sqrt(0.05 * 0.95 / v.requests);
        if ((share - 0.05) / se > z) {
          reason = "p95_latency";
          detail = "p95 " + std::to_string(v.latency.quantile(0.95)) + " ms vs control " +
                   std::to_string(c.latency.quantile(0.95)) + " ms";
        }
      }
      if (reason.empty()) {
        continue;
      }
      auto ctl = control(e.cfg->name);
      ctl.paused_variants.push_back(e.variants[i].name);
      ctl.updated_unix = now;
      spdlog::warn("guardrail: experiment {} variant {} paused ({}: {})", e.cfg->name,
                   e.variants[i].name, reason, detail);
      (void)store_->add_guardrail_event({e.cfg->name, e.variants[i].name, reason, detail, now});
      if (auto r = apply_control(ctl); !r) {
        spdlog::error("guardrail: cannot pause {}: {}", e.variants[i].name, r.error().message);
      }
      if (on_guardrail) {
        on_guardrail(e.cfg->name, e.variants[i].name, reason);
      }
    }
  }
}

}  // namespace switchyard
