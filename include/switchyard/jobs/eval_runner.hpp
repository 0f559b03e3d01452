#pragma once

// Runs a golden dataset through an experiment's variants (docs/evaluations.md): every case
// through every chosen variant, as real HTTP requests to the gateway with the variant forced by
// `x-switchyard-variant` and the process's evaluation secret (core/eval_secret.hpp), so that the
// gateway's own routing, prompts, parameters, retries, fallbacks and rate limits apply and the
// live experiment's statistics stay untouched. Blocking: call it on a job thread.

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/jobs/eval_dataset.hpp"
#include "switchyard/jobs/eval_report.hpp"

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

/// What to evaluate and how (the CLI's flags, the API's body), with named defaults.
struct eval_options {
  std::string experiment;
  std::vector<std::string> variants;  // empty = every variant of the experiment
  std::string dataset_name;
  unsigned concurrency = 4;           // requests in flight at once, 1..64
  std::string judge_model;            // llm-rubric's default model ("" = none configured)
  std::string embedding_model;        // similar's default model
  duration request_timeout{120'000};  // per request to the gateway, response read included
  std::size_t max_response_bytes = 8u << 20;
  unsigned max_rate_limit_waits = 5;     // a 429 from the gateway is waited out this many times
  duration max_rate_limit_wait{30'000};  // per wait, whatever retry-after-ms says
  std::optional<double> min_pass_rate;   // the gate
};

/// The variants resolved against the running plan, and every problem found before running.
struct eval_plan {
  std::string experiment;
  std::string match_model;  // what requests name to enter the experiment
  std::string match_header, match_header_value;
  std::vector<eval_variant_info> variants;
  std::vector<price_config> prices;  // per variant, for cost
  std::vector<dataset_problem> problems;
};

/// Resolves `o` against `p`: the experiment and variants exist, the experiment takes chat
/// completions, each case gives every prompt variable its variants need (or the prompt has a
/// default), has messages where a variant has no prompt, and names only configured models for
/// `similar` and `llm-rubric`. Problems name the case's line.
eval_plan prepare_eval(const plan& p, const eval_options& o, const std::vector<eval_case>& cases);

/// Where the gateway listens.
struct eval_target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// Calls with (done, total) after each case × variant.
using eval_progress = std::function<void(std::size_t, std::size_t)>;

/// Runs every case through every variant of `ep` and fills `report` (results and summaries).
/// `cancel` (may be null) stops starting new cases; those not run count as errors.
void run_eval(const eval_plan& ep, const eval_options& o, const std::vector<eval_case>& cases,
              const eval_target& target, eval_report& report, const eval_progress& progress,
              const std::atomic<bool>* cancel);

}  // namespace switchyard
