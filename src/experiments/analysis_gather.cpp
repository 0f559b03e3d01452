#include "switchyard/experiments/analysis_gather.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/engine.hpp"

#include <limits>

namespace switchyard {

// What the analysis reads from the store. The report and the summary read one
// phase (`phase` 0 = the current one): its rows, units, feedback and weights; the timeline
// (per_hour) reads every phase.
analysis_input gather_analysis(experiment_engine& engine, const experiment_plan& e, bool per_hour,
                               std::int64_t phase) {
  analysis_input in;
  in.cfg = e.cfg;
  in.status = e.status;
  for (const auto& v : e.variants) {
    in.weights.push_back(v.weight);
    if (v.paused) {
      in.paused_variants.push_back(v.name);
    }
  }
  if (e.winner >= 0) {
    in.winner = e.variants[static_cast<std::size_t>(e.winner)].name;
  }
  const auto& name = e.cfg->name;
  auto& store = engine.store();
  // Each read's value, or (the first failure kept in `in.store_error`) nothing.
  auto ok = [&in](auto& r) {
    if (!r && !in.store_error) {
      in.store_error = r.error();
    }
    return r.has_value();
  };
  if (auto phases = store.phases(name); ok(phases)) {
    in.phases = std::move(*phases);
  }
  in.phase = phase > 0 ? phase : e.phase;
  std::int64_t from = 0, to = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i < in.phases.size(); ++i) {
    if (in.phases[i].phase == in.phase) {
      from = i == 0 ? 0 : in.phases[i].start_unix;  // phase 1 also holds what came before phases
      to = i + 1 < in.phases.size() ? in.phases[i + 1].start_unix : to;
      if (in.phases[i].weights.size() == in.weights.size()) {
        in.weights = in.phases[i].weights;  // SRM against the weights the units were assigned by
      }
    }
  }
  if (auto rows = store.read_stats(name, 0, unix_seconds() + 3600); ok(rows)) {
    in.rows = std::move(*rows);
    if (!per_hour) {
      std::erase_if(in.rows, [&](const variant_hour_stats& r) { return r.phase != in.phase; });
    }
  }
  if (!per_hour) {
    if (auto units = store.read_units(name, in.phase); ok(units)) {
      in.units = units->units;
      in.per_unit = std::move(*units);
      if (auto fb = store.read_feedback_units(name, in.phase, from, to); ok(fb)) {
        for (auto& [variant, a] : *fb) {
          in.per_unit->variants[variant].success = a.success;
          in.per_unit->variants[variant].score = a.score;
        }
      }
    }
  } else if (auto counts = store.unit_counts(name); ok(counts)) {
    in.units = std::move(*counts);
  }
  if (auto fb =
          per_hour ? store.read_feedback(name, true) : store.read_feedback_between(name, from, to);
      ok(fb)) {
    in.feedback = std::move(*fb);
  }
  if (auto g = store.guardrail_events(name); ok(g)) {
    in.guardrails = std::move(*g);
  }
  return in;
}

}  // namespace switchyard
