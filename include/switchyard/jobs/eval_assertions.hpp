#pragma once

// Checking one evaluation output against one assertion (docs/evaluations.md). Pure: the
// model-graded kinds get what their model said (a cosine, the judge's answer) from the runner.

#include "switchyard/core/error.hpp"
#include "switchyard/jobs/eval_dataset.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace switchyard {

/// What one variant answered for one case, as the runner measured it.
struct eval_output {
  bool ok = false;    // a 2xx answer whose body parsed
  std::string error;  // why not (status and the gateway's error message)
  unsigned status = 0;
  std::string text;  // choices[0].message.content
  std::string finish_reason;
  double latency_ms = 0;  // request sent → whole answer read
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;  // from the variant model's configured prices
};

/// One assertion's verdict. `error` means it could not be decided (a judge that did not answer,
/// an embedding that failed): it counts as a failure and is reported as an error, never a pass.
struct assertion_outcome {
  bool pass = false;
  bool error = false;
  double score = 0;  // 1/0 for deterministic kinds; the cosine or the judge's score otherwise
  std::string reason;
};

/// Bounds on the checks (named defaults).
struct check_limits {
  std::size_t max_regex_input = 64 * 1024;  // bytes of output a regex sees (std::regex recurses)
};

/// Checks a deterministic assertion (every kind but similar and llm-rubric) against `out`.
assertion_outcome check_assertion(const eval_assertion& a, const eval_output& out,
                                  const check_limits& limits = {});

/// Cosine similarity of two vectors of one size (0 when either has no length).
double cosine_similarity(std::span<const double> a, std::span<const double> b) noexcept;

/// The verdict of `similar` given the cosine.
assertion_outcome similar_outcome(const eval_assertion& a, double cosine);

/// The chat messages (a JSON array text) that ask the judge to grade `output` against `rubric`
/// and to answer with JSON only: {"pass": bool, "score": 0..1, "reason": "..."}.
std::string judge_messages(std::string_view rubric, std::string_view output,
                           std::string_view input_text);

/// Reads the judge's answer: the first JSON object in it (a fenced or chatty answer included)
/// that has a `score` in [0, 1] and/or a boolean `pass`. The verdict passes when score ≥
/// `a.threshold` (a `pass` alone gives score 1 or 0). Anything else is an error outcome.
assertion_outcome judge_outcome(const eval_assertion& a, std::string_view answer);

/// The label an assertion's pass rate is reported under: its type (`contains-all` style for
/// lists).
std::string assertion_label(const eval_assertion& a);

}  // namespace switchyard
