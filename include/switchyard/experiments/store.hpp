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

/// One experiment variant's sufficient statistics for one UTC hour (see `hour_of`).
struct variant_hour_stats {
  std::string experiment, variant, prompt_version;  // prompt_version like "summarizer@v2" or ""
  std::int64_t hour = 0;
  std::uint64_t requests = 0, errors = 0;  // errors: status >= 500, 429, or gateway error
  moments latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd;
  std::string latency_sketch, ttft_sketch;  // serialized sketches (opaque bytes, may be empty)
};

/// A unit's first assignment in an experiment (the unit id itself is never stored, only a 64-bit
/// fingerprint).
struct unit_record {
  std::string experiment, variant;
  std::uint64_t fingerprint = 0;
  std::int64_t hour = 0;
};

/// One feedback event (a metric or a flag) about one request. `value` absent = a flag/count
/// event; a NaN value is stored as absent.
struct feedback_record {
  std::string request_id, event, experiment, variant, prompt_version;
  std::optional<double> value;
  std::int64_t unix_seconds = 0;
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

  /// In one transaction (all or nothing): adds the sums of each row into (experiment, variant,
  /// prompt_version, hour), merging sketches with the merge function; inserts units (first
  /// assignment wins: a unit already recorded for (experiment, fingerprint) keeps its variant).
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

  /// Distinct units per variant (variants without units are absent).
  virtual result<std::map<std::string, std::uint64_t>> unit_counts(std::string_view experiment) = 0;

  /// Feedback of one experiment aggregated per (variant, prompt_version, event) — per hour when
  /// `per_hour`, else hour = 0; ordered by hour, variant, prompt_version, event.
  virtual result<std::vector<feedback_summary>> read_feedback(std::string_view experiment,
                                                              bool per_hour) = 0;

  /// Feedback for a prompt's versions (prompt_version starts with name + "@") across experiments,
  /// aggregated per (prompt_version, event); variant = "" and hour = 0. Ordered by
  /// prompt_version, event.
  virtual result<std::vector<feedback_summary>> read_prompt_feedback(
      std::string_view prompt_name) = 0;

  /// Every saved control, ordered by experiment.
  virtual result<std::vector<experiment_control>> load_controls() = 0;

  /// Replaces the control of `c.experiment`.
  virtual result<void> save_control(const experiment_control& c) = 0;

  /// Appends one guardrail event.
  virtual result<void> add_guardrail_event(const guardrail_event& e) = 0;

  /// The guardrail events of one experiment, oldest first (by unix_seconds, then insertion).
  virtual result<std::vector<guardrail_event>> guardrail_events(std::string_view experiment) = 0;
};

}  // namespace switchyard
