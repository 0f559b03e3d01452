#pragma once

// `switchyard eval …` (docs/evaluations.md): starts the gateway in-process on 127.0.0.1:0 from
// the configuration, runs a dataset through an experiment's variants, prints the report and
// stores it in data_dir/evals.db.

namespace switchyard {

/// Exit statuses of `switchyard eval`.
inline constexpr int eval_exit_ok = 0;
inline constexpr int eval_exit_gate_failed = 1;  // a variant's pass rate < --min-pass-rate
inline constexpr int eval_exit_usage = 2;        // bad flags, configuration or dataset
inline constexpr int eval_exit_runtime = 3;      // the gateway did not start, output not written

/// Runs the subcommand; `argv[0]` is "eval".
int eval_main(int argc, char** argv);

}  // namespace switchyard
