#include "switchyard/experiments/engine.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/experiments/guardrails.hpp"
#include "switchyard/experiments/sequential.hpp"
#include "switchyard/experiments/sqlite_store.hpp"
#include "switchyard/experiments/statistics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <utility>

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

// The key generated once and kept next to the store, so ids stay valid across restarts
// (replicas that share feedback must share the key: set feedback.signing_key).
result<std::string> load_or_create_key(const std::string& data_dir) {
  const auto path = data_dir + "/feedback.key";
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
    const config& cfg, config_snapshot& snapshot, std::size_t shards,
    std::unique_ptr<experiment_store> shared) {
  std::unique_ptr<experiment_engine> e(new experiment_engine(snapshot));
  e->data_dir_ = cfg.data_dir;
  e->stats_flush_ = cfg.stats_flush;
  if (shared) {
    e->store_ = std::move(shared);
  } else {
    auto store = open_sqlite_store(cfg.data_dir, merge_sketches);
    if (!store) {
      return store.error();
    }
    e->store_ = std::move(*store);
  }
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) {
    e->shards_.push_back(std::make_unique<shard>());
  }
  std::lock_guard lock(e->admin_mutex_);
  const auto hot = std::make_shared<const hot_config>(static_cast<const hot_config&>(cfg));
  auto key = e->resolve_key(*hot);
  if (!key) {
    return key.error();
  }
  if (auto r = e->rebuild(hot, {std::move(*key), ""}); !r) {
    return r.error();
  }
  return e;
}

experiment_engine::~experiment_engine() {
  stop();
}

result<std::string> experiment_engine::resolve_key(const hot_config& cfg) {
  if (!cfg.feedback.signing_key.empty()) {
    return cfg.feedback.signing_key;
  }
  return load_or_create_key(data_dir_);
}

result<void> experiment_engine::rebuild(std::shared_ptr<const hot_config> cfg, signing_keys keys,
                                        bool remote) {
  auto controls = store_->load_controls();
  if (!controls) {
    return controls.error();
  }
  // Built once to learn each experiment's effective variants, weights and status, then again
  // with the phases those start (a plan is immutable once published).
  auto draft = build_plan(cfg, *controls, generation_ + 1);
  if (!draft) {
    return draft.error();
  }
  const auto before = snapshot_.current();
  std::map<std::string, std::int64_t> phases;
  for (const auto& e : (*draft)->experiments) {
    auto history = store_->phases(e.cfg->name);
    if (!history) {
      return history.error();
    }
    const experiment_plan* old = before ? before->find(e.cfg->name) : nullptr;
    // A change another replica made started its phase there (remote): adopted, not repeated.
    bool resumed = !remote && old && old->status != "running" && e.status == "running";
    // A paused variant running again gets its units back from control: a new phase too.
    for (std::size_t i = 0; old && i < e.variants.size() && i < old->variants.size(); ++i) {
      resumed = resumed || (!remote && old->variants[i].paused && !e.variants[i].paused);
    }

    if (auto next = next_phase(*history, e, resumed, unix_now())) {
      if (auto r = store_->add_phase(*next); !r) {
        return r.error();
      }
      if (!history->empty()) {
        spdlog::info("experiment {}: phase {} starts ({})", e.cfg->name, next->phase, next->reason);
      }
      phases[e.cfg->name] = next->phase;
    } else {
      phases[e.cfg->name] = history->back().phase;
    }
  }
  // Kept for the engine's life so that feedback_key()'s reference never dangles.
  const std::string* signing = signing_key_.load();
  if (!signing || *signing != keys.current) {
    signing = &keys_.emplace_back(keys.current);
  }
  auto p = build_plan(std::move(cfg), *controls, ++generation_, phases, std::move(keys));
  if (!p) {
    return p.error();
  }
  // Published first: an id signed with the new key in between could not verify yet, while one
  // signed with the old key still does (it is the new snapshot's previous key).
  snapshot_.publish(std::move(*p));
  signing_key_.store(signing);
  applied_controls_ = std::move(*controls);
  return {};
}

result<bool> experiment_engine::refresh_from_store() {
  std::lock_guard lock(admin_mutex_);
  auto controls = store_->load_controls();
  if (!controls) {
    return controls.error();
  }
  const auto cur = snapshot_.current();
  bool changed = *controls != applied_controls_;
  for (const auto& e : cur->experiments) {
    if (changed) {
      break;
    }
    auto history = store_->phases(e.cfg->name);
    if (!history) {
      return history.error();
    }
    changed = !history->empty() && history->back().phase != e.phase;
  }
  if (!changed) {
    return false;
  }
  if (auto r = rebuild(cur->cfg, cur->feedback, true); !r) {
    return r.error();
  }
  return true;
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
    c.sums.phase = a.experiment->phase;
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
  if (a.unit_fingerprint != 0) {
    unit_sums& u = c.units[a.unit_fingerprint];
    u.requests += 1;
    u.errors += o.error ? 1 : 0;
    u.latency_ms += o.latency_ms;
    if (o.ttft_ms >= 0) {
      u.ttft_n += 1;
      u.ttft_ms += o.ttft_ms;
    }
    u.cost_usd += o.cost_usd;
    u.output_tokens += o.output_tokens;
  }
}

void experiment_engine::collect(cell_map& cells, std::size_t& rows, std::size_t& units) {
  for (auto it = cells.begin(); it != cells.end();) {
    cell& c = it->second;
    if (c.sums.requests == 0) {
      it = cells.erase(it);  // not counted into since the last flush: a past hour or plan
      continue;
    }
    if (rows == rows_.size()) {
      rows_.emplace_back();
    }
    variant_hour_stats& row = rows_[rows++];
    row.experiment = c.sums.experiment;  // (a copy-assignment keeps the capacity)
    row.variant = c.sums.variant;
    row.prompt_version = c.sums.prompt_version;
    row.hour = c.sums.hour;
    row.phase = c.sums.phase;
    row.requests = c.sums.requests;
    row.errors = c.sums.errors;
    row.latency_ms = c.sums.latency_ms;
    row.ttft_ms = c.sums.ttft_ms;
    row.input_tokens = c.sums.input_tokens;
    row.output_tokens = c.sums.output_tokens;
    row.cost_usd = c.sums.cost_usd;
    c.latency.serialize_into(row.latency_sketch);
    c.ttft.serialize_into(row.ttft_sketch);
    for (auto u = c.units.begin(); u != c.units.end();) {
      if (u->second.requests == 0) {
        u = c.units.erase(u);
        continue;
      }
      if (units == units_.size()) {
        units_.emplace_back();
      }
      unit_record& rec = units_[units++];
      rec.experiment = c.sums.experiment;
      rec.variant = c.sums.variant;
      rec.fingerprint = u->first;
      rec.hour = c.sums.hour;
      rec.phase = c.sums.phase;
      rec.sums = std::exchange(u->second, unit_sums{});
      ++u;
    }
    // Zeroed for its next period (the names, hour and phase belong to the key and stay).
    c.sums.requests = 0;
    c.sums.errors = 0;
    c.sums.latency_ms = {};
    c.sums.ttft_ms = {};
    c.sums.input_tokens = {};
    c.sums.output_tokens = {};
    c.sums.cost_usd = {};
    c.latency.clear();
    c.ttft.clear();
    ++it;
  }
}

result<void> experiment_engine::flush() {
  std::lock_guard flush_lock(flush_mutex_);
  std::size_t rows = 0;
  std::size_t units = 0;
  for (auto& s : shards_) {
    {
      // The worker goes on with the cells zeroed by the last flush; this one writes what it
      // counted since.
      std::lock_guard lock(s->mutex);
      s->cells.swap(s->spare);
    }
    collect(s->spare, rows, units);
  }
  if (rows == 0) {
    return store_->replay();  // what a shared store kept while it was unreachable
  }
  return store_->write_batch(std::span(rows_.data(), rows), std::span(units_.data(), units));
}

void experiment_engine::start() {
  const auto interval = stats_flush_;
  flusher_ = std::thread([this, interval] {
    name_thread("sy-stats-flush");
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

result<void> experiment_engine::apply_config(std::shared_ptr<const hot_config> next) {
  std::lock_guard lock(admin_mutex_);
  auto key = resolve_key(*next);
  if (!key) {
    return key.error();
  }
  // The key this reload replaces keeps verifying until the next reload, so that ids handed out
  // just before a rotation can still receive their feedback.
  const auto cur = snapshot_.current();
  std::string previous = cur->feedback.current == *key ? "" : cur->feedback.current;
  return rebuild(std::move(next), {std::move(*key), std::move(previous)});
}

result<void> experiment_engine::apply_prompts(std::shared_ptr<const hot_config> next) {
  std::lock_guard lock(admin_mutex_);
  const auto cur = snapshot_.current();
  return rebuild(std::move(next), cur->feedback);
}

result<feedback_claims> experiment_engine::verify_feedback(std::string_view id) const {
  return switchyard::verify_feedback(*snapshot_.current(), id);
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
  const auto cur = snapshot_.current();
  return rebuild(cur->cfg, cur->feedback);  // a control is not a reload: the keys stay
}

result<experiment_control> experiment_engine::update_control(
    std::string_view name, const std::function<void(experiment_control&)>& edit) {
  std::lock_guard lock(admin_mutex_);
  auto saved = store_->update_control(name, edit);
  if (!saved) {
    return saved.error();
  }
  const auto cur = snapshot_.current();
  if (auto r = rebuild(cur->cfg, cur->feedback); !r) {
    return r.error();
  }
  return saved;
}

namespace {

// The sequential tuning of the guardrails: the planned total of a pair when configured, else
// GrowthBook's default (the guardrails run before any estimate of the needed sample exists).
double guardrail_tuning(const experiment_config& e) {
  return e.analysis.planned_sample > 0 ? 2 * static_cast<double>(e.analysis.planned_sample)
                                       : stats::default_tuning_n;
}

bool any_guardrail(const guardrails_config& g) {
  return g.max_error_rate_increase >= 0 || g.max_p95_latency_increase >= 0 ||
         g.max_cost_increase >= 0 || g.daily_budget_usd > 0;
}

}  // namespace

void experiment_engine::check_guardrails() {
  auto p = current();
  const std::int64_t now = unix_now();
  const std::int64_t day = now / 86400 * 86400;
  for (const auto& e : p->experiments) {
    const auto& g = e.cfg->guardrails;
    if (e.status != "running" || !any_guardrail(g)) {
      continue;
    }
    auto rows = store_->read_stats(e.cfg->name, 0, now + 3600);
    // Per-unit sums (a scan of the phase's units) only when a per-unit test will use them.
    const bool by_unit = e.cfg->unit_type != unit_kind::request &&
                         (g.max_error_rate_increase >= 0 || g.max_cost_increase >= 0);
    auto units = by_unit ? store_->read_units(e.cfg->name, e.phase) : result<unit_summary>{};
    if (!rows || !units) {
      continue;
    }
    std::vector<guardrail_arm> t(e.variants.size());
    for (std::size_t i = 0; i < e.variants.size(); ++i) {
      if (const auto it = units->variants.find(e.variants[i].name); it != units->variants.end()) {
        t[i].error_units = it->second.errors;
        t[i].cost_units = it->second.cost_usd;
      }
    }
    for (const auto& r : *rows) {
      for (std::size_t i = 0; i < e.variants.size(); ++i) {
        if (e.variants[i].name != r.variant) {
          continue;
        }
        if (r.hour >= day) {
          t[i].cost_today += r.cost_usd.sum;  // the budget is per day, whatever the phase
        }
        if (r.phase != e.phase) {
          continue;  // the tests compare the current phase only
        }
        t[i].requests += static_cast<double>(r.requests);
        t[i].errors += static_cast<double>(r.errors);
        t[i].cost_usd += r.cost_usd;
        if (auto sk = latency_sketch::deserialize(r.latency_sketch)) {
          t[i].latency.merge(*sk);
        }
      }
    }
    for (std::size_t i = 1; i < e.variants.size(); ++i) {
      if (e.variants[i].paused) {
        continue;
      }
      const auto trip = check_guardrail(g, t[0], t[i], guardrail_tuning(*e.cfg));
      if (!trip) {
        continue;
      }
      // Replicas sharing a store see the same statistics: the first to claim records the trip.
      if (auto claimed = store_->claim_guardrail_trip(e.cfg->name, e.variants[i].name, e.phase);
          !claimed || !*claimed) {
        continue;
      }
      const std::string& paused = e.variants[i].name;
      spdlog::warn("guardrail: experiment {} variant {} paused ({}: {})", e.cfg->name, paused,
                   trip->reason, trip->detail);
      (void)store_->add_guardrail_event({e.cfg->name, paused, trip->reason, trip->detail, now});
      // Only this variant is added: an operator's edit on another replica meanwhile holds.
      auto r = update_control(e.cfg->name, [&](experiment_control& ctl) {
        if (std::find(ctl.paused_variants.begin(), ctl.paused_variants.end(), paused) ==
            ctl.paused_variants.end()) {
          ctl.paused_variants.push_back(paused);
        }
        ctl.updated_unix = now;
      });
      if (!r) {
        spdlog::error("guardrail: cannot pause {}: {}", paused, r.error().message);
      }
      if (on_guardrail) {
        on_guardrail(e.cfg->name, e.variants[i].name, trip->reason);
      }
    }
  }
}

}  // namespace switchyard
