// A golden dataset in (JSON Lines from a user's file or the evaluations API): parsing never
// crashes, every problem carries a line within the input, and each parsed case's deterministic
// assertions can be checked against any output (the input's first line doubles as the output).
#include "switchyard/jobs/eval_assertions.hpp"
#include "switchyard/jobs/eval_dataset.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace switchyard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dataset_limits limits;
  limits.max_cases = 64;
  limits.max_line_bytes = 4096;
  limits.max_pattern_bytes = 64;  // std::regex is recursive: short patterns on short outputs
  auto d = parse_dataset(text, limits);
  const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& p : d.problems) {
    if (p.line > lines || p.message.empty()) {
      __builtin_trap();
    }
  }
  eval_output out;
  out.ok = true;
  out.text = std::string(text.substr(0, std::min<std::size_t>(text.find('\n'), 256)));
  check_limits cl;
  cl.max_regex_input = 256;
  for (const auto& c : d.cases) {
    for (const auto& a : c.asserts) {
      if (a.kind != assertion_kind::similar && a.kind != assertion_kind::llm_rubric) {
        (void)check_assertion(a, out, cl);
      }
    }
  }
  return 0;
}
