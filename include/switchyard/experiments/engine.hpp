#pragma once

#include "switchyard/experiments/latency_sketch.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/experiments/snapshot.hpp"
#include "switchyard/experiments/store.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace switchyard {

/// What a finished request contributes to its variant's statistics.
struct experiment_outcome {
  bool error = false;     // 5xx, 429 or a gateway error
  double latency_ms = 0;  // whole request
  double ttft_ms = -1;    // first content; < 0 = none (not a stream, or no content)
  double input_tokens = 0;
  double output_tokens = 0;
  double cost_usd = 0;
  std::int64_t unix_seconds = 0;
};

/// The experiment plane at run time: per-worker statistics shards flushed to the store off the
/// request path, operator controls, guardrails and feedback keys. It builds the plans (the hot
/// config with the stored controls layered on) and publishes them into the server's
/// `config_snapshot`; it never reads the config file (the server does, on reload). Thread-safe;
/// `record` is the only call on the request path.
class experiment_engine {
 public:
  /// Opens the store in `cfg.data_dir`, loads the operator controls and publishes the first plan
  /// (of `cfg`'s hot part) into `snapshot`, which must outlive the engine.
  /// `store`: a shared store (Redis) opened by the caller; null = the embedded SQLite one.
  static result<std::unique_ptr<experiment_engine>> open(
      const config& cfg, config_snapshot& snapshot, std::size_t shards,
      std::unique_ptr<experiment_store> store = nullptr);
  ~experiment_engine();
  experiment_engine(const experiment_engine&) = delete;
  experiment_engine& operator=(const experiment_engine&) = delete;

  /// The snapshot requests use (the server's); in-flight requests keep theirs alive.
  /// Transitional: new code reads `shared_state::snapshot` directly.
  std::shared_ptr<const plan> current() const { return snapshot_.current(); }

  /// Adds a counted request to shard `shard` (the worker's own: no contention but the flush).
  void record(std::size_t shard, const plan& p, const assignment& a, const experiment_outcome& o);

  /// Writes every shard to the store now (also done every `stats_flush` and on `stop`).
  result<void> flush();

  /// Starts the background flusher (and guardrail checks); `stop` flushes one last time.
  void start();
  void stop();

  /// Publishes a plan built from `next` (the hot part of a reloaded config whose boot part the
  /// server found unchanged). A changed `feedback.signing_key` signs new ids from now on; ids
  /// signed with the key it replaces still verify until the next reload.
  result<void> apply_config(std::shared_ptr<const hot_config> next);

  /// Publishes a plan built from `next` with the current signing keys (a prompt registry write:
  /// not a reload, so no key rotates).
  result<void> apply_prompts(std::shared_ptr<const hot_config> next);

  /// Applies an operator's change (pause, resume, weights, conclude) now and keeps it.
  /// Replaces the whole control: prefer update_control, which keeps concurrent edits.
  result<void> apply_control(const experiment_control& c);

  /// Edits the stored control of `name` — `edit` changes only the fields it means to; in a
  /// shared store atomically, so an edit another replica makes meanwhile is kept, and `edit` may
  /// run more than once — then publishes the plan. Returns the control as saved.
  result<experiment_control> update_control(std::string_view name,
                                            const std::function<void(experiment_control&)>& edit);

  /// Re-reads the controls and phases another replica may have changed in a shared store and
  /// publishes a new plan when they differ from the running one (no phase is started for a
  /// resume here: the replica that applied it did). Returns whether a new plan was published.
  result<bool> refresh_from_store();

  /// The stored control of `name` (empty fields = as configured).
  experiment_control control(std::string_view name);

  /// The key new feedback ids are signed with: the current snapshot's. The reference stays valid
  /// for the engine's life (every key it ever used is kept; there is one per key change).
  /// Transitional: a request should sign with its own snapshot's `feedback.current`.
  const std::string& feedback_key() const noexcept { return *signing_key_.load(); }

  /// Checks a feedback id against the current snapshot's keys (the current one, then the
  /// previous one until the next reload).
  result<feedback_claims> verify_feedback(std::string_view id) const;

  /// Runs guardrail checks now (also after every flush of the background thread).
  void check_guardrails();

  /// Called for every guardrail trip (the metric); set before `start`.
  std::function<void(const std::string& experiment, const std::string& variant,
                     const std::string& reason)>
      on_guardrail;

  experiment_store& store() noexcept { return *store_; }

 private:
  explicit experiment_engine(config_snapshot& s) : snapshot_(s) {}
  /// Builds and publishes a plan of `cfg` with `keys`; admin_mutex_ held.
  result<void> rebuild(std::shared_ptr<const hot_config> cfg, signing_keys keys,
                       bool remote = false);
  /// The configured key, or the one kept in data_dir (generated once); admin_mutex_ held.
  result<std::string> resolve_key(const hot_config& cfg);

  struct cell_key {
    std::uint64_t generation;
    const variant_plan* variant;
    std::int64_t hour;
    bool operator==(const cell_key&) const = default;
  };
  struct cell_hash {
    std::size_t operator()(const cell_key& k) const noexcept;
  };
  struct cell {
    variant_hour_stats sums;  // names filled at creation; sketches below
    latency_sketch latency, ttft;
    std::unordered_map<std::uint64_t, unit_sums> units;  // by unit fingerprint
  };
  using cell_map = std::unordered_map<cell_key, cell, cell_hash>;
  struct shard {
    std::mutex mutex;  // the worker's own; the flusher takes it once per flush
    cell_map cells;    // what `record` adds to
    // The period before's cells, swapped out by the last flush, written and zeroed: their nodes,
    // unit maps and sketch buckets are kept, so that the next period's `record`s of the same
    // variants and units allocate nothing (a cell or unit left untouched for a whole period is
    // dropped at its next flush, which bounds what is kept). The flusher's only.
    cell_map spare;
  };
  /// Copies the counted cells of `cells` into rows_/units_ (from `rows`/`units` on, growing
  /// them only when a flush has more than any before), zeroes them and drops the ones left
  /// untouched since the last flush. flush_mutex_ held.
  void collect(cell_map& cells, std::size_t& rows, std::size_t& units);

  config_snapshot& snapshot_;
  std::string data_dir_;  // boot: the store and the generated feedback key live there
  duration stats_flush_{1'000};
  std::unique_ptr<experiment_store> store_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::deque<std::string> keys_;  // every signing key used, so feedback_key() stays valid
  std::atomic<const std::string*> signing_key_{nullptr};
  std::mutex admin_mutex_;  // reload, controls, flush: one at a time
  std::mutex flush_mutex_;
  // The flush's rows, reused from one flush to the next with their strings' capacity (only the
  // first `n` of a flush are written). flush_mutex_ held.
  std::vector<variant_hour_stats> rows_;
  std::vector<unit_record> units_;
  std::uint64_t generation_ = 0;
  std::vector<experiment_control> applied_controls_;  // of the published plan; admin_mutex_
  std::thread flusher_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

/// Cost in USD of `usage` at `price`.
double cost_usd(const price_config& price, double input_tokens, double output_tokens) noexcept;

}  // namespace switchyard
