#pragma once

// A golden dataset for evaluations (docs/evaluations.md): JSON Lines, one case per line, each
// with its input (`messages` and/or `vars`), an optional `expected` value and Promptfoo-style
// assertions. Parsed whole before anything runs, so every bad line is reported by its number.

#include <boost/json/value.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// The assertion types (Promptfoo's names, docs/evaluations.md).
enum class assertion_kind {
  equals,
  contains,
  icontains,
  not_contains,
  regex,
  is_json,
  json_schema,
  json_path,
  finish_reason,
  max_latency,
  max_cost,
  max_tokens,
  similar,
  llm_rubric,
};

/// The name of a kind as datasets write it (`not-contains`, `llm-rubric`).
std::string_view assertion_name(assertion_kind k) noexcept;

/// One assertion of a case, checked once parsed: values have the type their kind needs, regexes
/// compile, schemas use only the supported keywords.
struct eval_assertion {
  assertion_kind kind = assertion_kind::equals;
  boost::json::value value;  // expected text, list of texts, schema, JSON value, rubric, limit
  bool all = false;          // contains/icontains with a list: all of them (else any)
  std::string path;          // json-path: `$.a.b[0]`
  double threshold = 0;      // similar (cosine), llm-rubric (score in [0, 1]), max-* (the limit)
  std::string metric;        // a named metric that aggregates across cases ("" = none)
  std::string model;         // similar / llm-rubric: the model to use ("" = the run's default)
  std::shared_ptr<const std::regex> re;  // regex, compiled once
};

/// One case: a line of the dataset.
struct eval_case {
  std::size_t line = 0;         // 1-based line number in the file
  std::string id;               // `id` when given, else "line-N"
  boost::json::value messages;  // an array of chat messages, or null when only vars are given
  boost::json::object vars;     // prompt variables (sent as the request's metadata)
  std::optional<boost::json::value> expected;
  std::vector<eval_assertion> asserts;
};

/// A problem found in the dataset, by line.
struct dataset_problem {
  std::size_t line = 0;  // 0 = the file as a whole
  std::string message;
};

/// Bounds on what a dataset may hold (named defaults; the CLI and the API pass them on).
struct dataset_limits {
  std::size_t max_cases = 10'000;
  std::size_t max_line_bytes = 1 << 20;
  std::size_t max_asserts = 64;          // per case
  std::size_t max_pattern_bytes = 1024;  // a regex pattern
  std::size_t max_problems = 100;        // reported before giving up
};

struct eval_dataset {
  std::vector<eval_case> cases;
  std::vector<dataset_problem> problems;  // empty = usable
};

/// Parses JSON Lines text. Blank lines and lines starting with `//` are skipped. Every problem
/// is collected (up to `max_problems`) with its line number: a line that is not a JSON object,
/// unknown members, an unknown assertion type, a value of the wrong type, a bad regex or schema.
eval_dataset parse_dataset(std::string_view text, const dataset_limits& limits = {});

/// "line 3: assert[1].type: unknown assertion type `contains-some` (…)" — one problem per line.
std::string describe_problems(const std::vector<dataset_problem>& problems);

}  // namespace switchyard
