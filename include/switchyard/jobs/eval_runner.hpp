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
#include <string_view>
#include <vector>

namespace switchyard {

/// What one run asks for (the CLI's flags, the API's body). Unset members take the
/// configuration's `evaluations:` value, which has a named default (config.hpp); an assertion's
/// own `model` wins over both (docs/evaluations.md, "Precedence").
struct eval_options {
  std::string experiment;
  std::vector<std::string> variants;  // empty = every variant of the experiment
  std::string dataset_name;
  std::optional<unsigned> concurrency;      // requests in flight at once
  std::string judge_model;                  // llm-rubric's default model ("" = the config's)
  std::string embedding_model;              // similar's default model ("" = the config's)
  std::optional<duration> request_timeout;  // per request to the gateway, answer included
  std::optional<double> min_pass_rate;      // the gate
};

/// Where a resolved setting came from, for the report.
enum class eval_source { none, run, config };
std::string_view eval_source_name(eval_source s) noexcept;  // "none", "run", "config"

/// The settings a run uses, resolved once against one configuration snapshot.
struct eval_settings {
  unsigned concurrency = 4;
  std::string judge_model, embedding_model;  // "" = none (an assertion must name its model)
  eval_source judge_from = eval_source::none, embedding_from = eval_source::none;
  duration request_timeout{120'000};
  std::size_t max_response_bytes = 8u << 20;
  unsigned max_rate_limit_waits = 5;     // a 429 from the gateway is waited out this many times
  duration max_rate_limit_wait{30'000};  // per wait, whatever retry-after-ms says
  std::optional<double> min_pass_rate;
};

/// The run's value where it gives one, else the configuration's (precedence: run > config >
/// the named defaults of evaluations_config). Pure.
eval_settings resolve_eval_settings(const evaluations_config& c, const eval_options& o);

/// The variants resolved against the running plan, and every problem found before running.
struct eval_plan {
  std::string experiment;
  std::string dataset_name;
  eval_settings settings;   // resolve_eval_settings against the plan's `evaluations:`
  std::string match_model;  // what requests name to enter the experiment
  std::string match_header, match_header_value;
  std::vector<eval_variant_info> variants;
  std::vector<price_config> prices;  // per variant, for cost
  std::vector<dataset_problem> problems;
};

/// Resolves `o` against `p`: the settings (resolve_eval_settings with `p.cfg->evaluations`), the
/// experiment and variants exist, the experiment takes chat completions, the run stays within
/// `evaluations.max_concurrency` and `max_cases`, each case gives every prompt variable its
/// variants need (or the prompt has a default), has messages where a variant has no prompt, and
/// has a configured model for `similar` and `llm-rubric` (the assertion's, the run's or the
/// configuration's). Problems name the case's line.
eval_plan prepare_eval(const plan& p, const eval_options& o, const std::vector<eval_case>& cases);

/// Where the gateway listens.
struct eval_target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// Calls with (done, total) after each case × variant.
using eval_progress = std::function<void(std::size_t, std::size_t)>;

/// Runs every case through every variant of `ep` with `ep.settings` and fills `report` (results
/// and summaries). `cancel` (may be null) stops starting new cases; those not run count as
/// errors.
void run_eval(const eval_plan& ep, const std::vector<eval_case>& cases, const eval_target& target,
              eval_report& report, const eval_progress& progress, const std::atomic<bool>* cancel);

}  // namespace switchyard
