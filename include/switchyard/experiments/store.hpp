#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/experiments/moments.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// The start of the UTC hour holding `unix_seconds`: `unix_seconds / 3600 * 3600`. Every `hour`
/// field below is a value of this function.
std::int64_t hour_of(std::int64_t unix_seconds) noexcept;

/// One experiment variant's sufficient statistics for one UTC hour (see `hour_of`) of one phase.
struct variant_hour_stats {
  std::string experiment, variant, prompt_version;  // prompt_version like "summarizer@v2" or ""
  std::int64_t hour = 0;
  std::int64_t phase = 1;                  // see phase_record
  std::uint64_t requests = 0, errors = 0;  // errors: status >= 500, 429, or gateway error
  moments latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd;
  std::string latency_sketch, ttft_sketch;  // serialized sketches (opaque bytes, may be empty)
};

/// What one unit's requests added up to (in one flush, or in a phase): the per-unit sums that the
/// ratio metrics square and cross (store.hpp's unit_aggregate).
struct unit_sums {
  double requests = 0, errors = 0, latency_ms = 0, ttft_n = 0, ttft_ms = 0, cost_usd = 0,
         output_tokens = 0;
  unit_sums& operator+=(const unit_sums& o) noexcept {
    requests += o.requests;
    errors += o.errors;
    latency_ms += o.latency_ms;
    ttft_n += o.ttft_n;
    ttft_ms += o.ttft_ms;
    cost_usd += o.cost_usd;
    output_tokens += o.output_tokens;
    return *this;
  }
  bool operator==(const unit_sums&) const = default;
};

/// A unit's assignment in one phase of an experiment and what its requests added (the unit id
/// itself is never stored, only a 64-bit fingerprint).
struct unit_record {
  std::string experiment, variant;
  std::uint64_t fingerprint = 0;
  std::int64_t hour = 0;
  std::int64_t phase = 1;
  unit_sums sums{};
};

/// At most this many units are stored per experiment phase (about 100 bytes each in SQLite, so
/// ~100 MB at the bound); later units still count in the per-request rows, not in the per-unit
/// analysis. A batch may overshoot by its own size.
inline constexpr std::uint64_t max_units_per_phase = 1'000'000;

/// Per variant, over the units of one phase that saw only that variant: the ratio metrics of
/// the unit-level analysis (M_u / D_u with D_u the unit's requests, or its streams for TTFT).
struct unit_aggregate {
  ratio_moments errors, latency_ms, ttft_ms, cost_usd, output_tokens;
  // From feedback whose request id carries the unit: successes / judged (success + failure)
  // events, and Σ values / valued events; units = those with at least one such event.
  ratio_moments success, score;
};

/// The units of one phase: per variant, the single-variant units' aggregates; and the units that
/// saw more than one variant (in this phase or an earlier one), excluded from the aggregates.
struct unit_summary {
  std::map<std::string, unit_aggregate> variants;
  std::map<std::string, std::uint64_t> units;  // single-variant units per variant
  std::uint64_t mixed = 0;                     // units that saw more than one variant
};

/// A phase: the period over which an experiment's variants and weights stayed the same
/// (GrowthBook's model). A new one starts on a weight change, a variant added or removed, or a
/// resume after a pause.
struct phase_record {
  std::string experiment;
  std::int64_t phase = 1;
  std::int64_t start_unix = 0;
  std::vector<std::string> variants;  // names, control first
  std::vector<double> weights;        // normalised, same order
  std::string reason;                 // start | weights_changed | variants_changed | resumed
  bool operator==(const phase_record&) const = default;
};

/// One feedback event (a metric or a flag) about one request. `value` absent = a flag/count
/// event; a NaN value is stored as absent.
struct feedback_record {
  std::string request_id, event, experiment, variant, prompt_version;
  std::optional<double> value;
  std::int64_t unix_seconds = 0;
  std::uint64_t unit = 0;  // the unit's fingerprint from the request id (0 = unknown)
};

/// Feedback aggregated per (variant, prompt_version, event[, hour]). `count` counts every event,
/// `value` only the events that carried a value.
struct feedback_summary {
  std::string variant, prompt_version, event;
  std::int64_t hour = 0;
  std::uint64_t count = 0;
  moments value;
};

/// Operator state layered over the config; absent = as configured.
struct experiment_control {
  std::string experiment;
  std::string status;                        // "" (as configured) | running | paused | concluded
  std::vector<double> weights;               // empty = as configured
  std::string winner;                        // for concluded
  std::vector<std::string> paused_variants;  // paused by guardrails or an operator
  std::int64_t updated_unix = 0;
  bool operator==(const experiment_control&) const = default;
};

/// A guardrail decision worth keeping (e.g. a variant paused for its error rate).
struct guardrail_event {
  std::string experiment, variant, reason, detail;
  std::int64_t unix_seconds = 0;
  bool operator==(const guardrail_event&) const = default;
};

/// One version of a prompt created through the API (experiments/prompt_registry.hpp): immutable,
/// identified by `hash`; `body` is the canonical JSON document the hash was computed over.
struct stored_prompt_version {
  std::string name, version, hash, body;
  std::int64_t created_unix = 0;
  bool operator==(const stored_prompt_version&) const = default;
};

/// Merges two serialized sketches (the store cannot know the format); supplied by the caller.
/// Called only when both are non-empty (empty is the identity). May throw; the write then fails.
using sketch_merge = std::function<std::string(std::string_view a, std::string_view b)>;

/// Durable experiment state: per-hour statistics, assigned units, feedback and operator controls.
/// An interface so that a shared store (Redis/Postgres) for many replicas can replace the embedded
/// one. Implementations are thread-safe. Failures are `errc::internal` errors whose message says
/// what failed.
class experiment_store {
 public:
  virtual ~experiment_store() = default;

  /// In one transaction (all or nothing): adds the sums of each row into (experiment, phase,
  /// variant, prompt_version, hour), merging sketches with the merge function; records units per
  /// (experiment, phase, fingerprint): the first assignment's variant is kept, the sums add up,
  /// and a unit seen with another variant (now or in an earlier phase) is marked mixed. At most
  /// max_units_per_phase units are kept per phase.
  virtual result<void> write_batch(std::span<const variant_hour_stats> rows,
                                   std::span<const unit_record> units) = 0;

  /// Records one feedback event; returns false (not an error) when (request_id, event) was already
  /// recorded (the first one is kept).
  virtual result<bool> add_feedback(const feedback_record& f) = 0;

  /// Rows of one experiment with from_hour <= hour < to_hour, ordered by hour, variant,
  /// prompt_version.
  virtual result<std::vector<variant_hour_stats>> read_stats(std::string_view experiment,
                                                             std::int64_t from_hour,
                                                             std::int64_t to_hour) = 0;

  /// Rows of every experiment whose prompt_version starts with `prompt_name + "@"` (prompt
  /// analytics), any hour; ordered by prompt_version, hour, experiment, variant.
  virtual result<std::vector<variant_hour_stats>> read_prompt_stats(
      std::string_view prompt_name) = 0;

  /// Distinct units per variant, summed over phases (variants without units are absent).
  virtual result<std::map<std::string, std::uint64_t>> unit_counts(std::string_view experiment) = 0;

  /// The per-unit analysis of one phase (see unit_summary).
  virtual result<unit_summary> read_units(std::string_view experiment, std::int64_t phase) = 0;

  /// The phases of one experiment, oldest first.
  virtual result<std::vector<phase_record>> phases(std::string_view experiment) = 0;

  /// Appends a phase (replacing one with the same number).
  virtual result<void> add_phase(const phase_record& p) = 0;

  /// Feedback of one experiment aggregated per (variant, prompt_version, event) — per hour when
  /// `per_hour`, else hour = 0; ordered by hour, variant, prompt_version, event.
  virtual result<std::vector<feedback_summary>> read_feedback(std::string_view experiment,
                                                              bool per_hour) = 0;

  /// Feedback of one experiment about requests made in [from_unix, to_unix) (a phase),
  /// aggregated per (variant, prompt_version, event), hour = 0; ordered as read_feedback.
  virtual result<std::vector<feedback_summary>> read_feedback_between(std::string_view experiment,
                                                                      std::int64_t from_unix,
                                                                      std::int64_t to_unix) = 0;

  /// Per variant, over the units whose feedback about requests made in [from_unix, to_unix)
  /// carries the unit and that are not mixed in `phase`: `success` and `score` of
  /// unit_aggregate (the other members stay empty).
  virtual result<std::map<std::string, unit_aggregate>> read_feedback_units(
      std::string_view experiment, std::int64_t phase, std::int64_t from_unix,
      std::int64_t to_unix) = 0;

  /// Feedback for a prompt's versions (prompt_version starts with name + "@") across experiments,
  /// aggregated per (prompt_version, event); variant = "" and hour = 0. Ordered by
  /// prompt_version, event.
  virtual result<std::vector<feedback_summary>> read_prompt_feedback(
      std::string_view prompt_name) = 0;

  /// Every saved control, ordered by experiment.
  virtual result<std::vector<experiment_control>> load_controls() = 0;

  /// Replaces the control of `c.experiment`.
  virtual result<void> save_control(const experiment_control& c) = 0;

  /// Reads the control of `experiment` (empty fields when none is stored), applies `edit` and
  /// saves it; returns what was saved. An edit touches only the fields it means to change, so
  /// that two edits of different fields (weights on one replica, a pause on another) both hold:
  /// a store shared by processes makes this atomic (Redis: compare-and-set, re-applying `edit`
  /// on a conflict — so `edit` may run more than once). This default is a read then a write,
  /// enough for a store only this process writes (its callers hold the engine's admin lock).
  virtual result<experiment_control> update_control(
      std::string_view experiment, const std::function<void(experiment_control&)>& edit);

  /// Appends one guardrail event.
  virtual result<void> add_guardrail_event(const guardrail_event& e) = 0;

  /// The guardrail events of one experiment, oldest first (by unix_seconds, then insertion).
  virtual result<std::vector<guardrail_event>> guardrail_events(std::string_view experiment) = 0;

  /// Claims the trip of `variant`'s guardrail in `phase`: true for the first caller only, so that
  /// replicas checking the same shared statistics at once record one trip. A store only one
  /// process writes (SQLite) has no one to race: always true.
  virtual result<bool> claim_guardrail_trip(std::string_view /*experiment*/,
                                            std::string_view /*variant*/, std::int64_t /*phase*/) {
    return true;
  }

  /// Every prompt version created through the API, ordered by name, then creation time, then
  /// version. The defaults here serve stores without a registry (test doubles).
  virtual result<std::vector<stored_prompt_version>> load_prompt_versions() {
    return std::vector<stored_prompt_version>{};
  }

  /// Adds prompt versions, all or nothing: a version already stored with the same hash is left as
  /// it is (so repeating a write is harmless); one stored with another hash is an errc::conflict
  /// naming `name@version`, and then nothing is written.
  virtual result<void> put_prompt_versions(std::span<const stored_prompt_version> /*versions*/) {
    return make_error(errc::internal, "this experiment store keeps no prompt registry");
  }

  /// Removes one version of a prompt (`version` non-empty) or every version of it; returns how
  /// many were removed.
  virtual result<std::uint64_t> delete_prompt_versions(std::string_view /*name*/,
                                                       std::string_view /*version*/) {
    return make_error(errc::internal, "this experiment store keeps no prompt registry");
  }

  /// Writes whatever an earlier call had to keep in memory (a shared store that was
  /// unreachable); called by every statistics flush, with or without new rows. Nothing to do for
  /// an embedded store.
  virtual result<void> replay() { return {}; }
};

}  // namespace switchyard
