// YAML text in: the config loader answers a config or an error naming a key, never a crash,
// an uncaught exception or a hang.
#include "switchyard/config/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace switchyard;

namespace {
// No environment: ${VAR} references resolve to nothing, the same on every run.
std::optional<std::string> no_env(const char*) {
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto r = parse_config(yaml, "/nonexistent", no_env);
  if (!r && r.error().message.empty()) {
    __builtin_trap();  // every rejection says why
  }
  if (r) {
    (void)restart_required(*r, *r);
  }
  return 0;
}
