// libFuzzer target: the prompt registry's import document and version bodies
// (src/experiments/prompt_registry.cpp), which come from other gateways' exports or people.
// JSON text in; when it parses, plan_import runs against a config with one prompt. Never a crash
// or an uncaught exception; every refusal says why; every version it would write reads back
// from its own record to the same hash (what the store checks on load).
//
// Links: src/experiments/prompt_registry.cpp src/experiments/prompt_template.cpp
// src/config/*.cpp src/core/error.cpp src/core/redis_url.cpp (+ Boost.JSON, OpenSSL, spdlog)

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/prompt_registry.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace switchyard;

namespace {

const hot_config& current() {
  static const hot_config c = [] {
    auto parsed = parse_config(R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: m, upstream: up } ]
prompts: [ { name: cfg, versions: [ { version: v1, template: "Hi {{who}}" } ] } ]
)");
    if (!parsed) {
      __builtin_trap();
    }
    return static_cast<const hot_config&>(*parsed);
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::json::error_code ec;
  auto doc = boost::json::parse(text, ec);
  if (ec) {
    return 0;
  }
  auto plan = plan_import(doc, current(), 1'700'000'000);
  if (!plan) {
    if (plan.error().message.empty()) {
      __builtin_trap();  // every refusal says why
    }
    return 0;
  }
  for (const auto& rec : plan->to_write) {
    auto back = spec_of(rec);
    if (!back || version_hash(*back) != rec.hash) {
      __builtin_trap();  // the store would refuse its own write on the next load
    }
  }
  return 0;
}
