#pragma once

#include "switchyard/experiments/analysis.hpp"

#include <cstdint>

namespace switchyard {

class experiment_engine;
struct experiment_plan;

/// What the analysis of `e` reads from the engine's store (any thread that may block: the admin
/// executor, the alert engine's thread). The report and the summary (`per_hour` false) read one
/// phase (`phase` 0 = the current one): its rows, units, feedback and weights; the timeline and
/// the series (`per_hour`) read every phase, with feedback per hour. A store read that fails
/// leaves its part empty.
analysis_input gather_analysis(experiment_engine& engine, const experiment_plan& e, bool per_hour,
                               std::int64_t phase = 0);

}  // namespace switchyard
