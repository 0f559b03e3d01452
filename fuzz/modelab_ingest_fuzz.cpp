// libFuzzer target: the body parser of modelab's ingest endpoints (compat/modelab_ingest.hpp).
// Whatever the bytes, it must not crash, must either refuse the whole batch or return records
// within the limits, and must be deterministic (the same body parses the same way twice, so a
// retried flush gets the same execution keys). The first byte picks the endpoint.
//
// Links: src/compat/modelab_ingest.cpp src/core/error.cpp (+ Boost.JSON)

#include "switchyard/compat/modelab_ingest.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  if (size < 1) {
    return 0;
  }
  const auto kind = static_cast<modelab_kind>(data[0] % 3);
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const modelab_ingest_limits limits{50, 512};
  auto a = parse_modelab_batch(kind, body, limits, 1'700'000'000);
  auto b = parse_modelab_batch(kind, body, limits, 1'700'000'000);
  if (a.has_value() != b.has_value()) {
    std::abort();
  }
  if (!a) {
    if (a.error().message.empty()) {
      std::abort();  // every refusal says why
    }
    return 0;
  }
  const auto n = a->assignments.size() + a->executions.size() + a->events.size();
  if (n > limits.max_records) {
    std::abort();
  }
  for (std::size_t i = 0; i < a->executions.size(); ++i) {
    if (a->executions[i].key != b->executions[i].key || a->executions[i].assignment_id.empty()) {
      std::abort();
    }
  }
  for (const auto& e : a->events) {
    if (e.event_type != "success" && e.event_type != "failure" && e.event_type != "custom") {
      std::abort();
    }
  }
  // The timestamp parser on the raw bytes too.
  (void)parse_iso8601(body);
  return 0;
}
