#pragma once

// Evaluation traffic (docs/evaluations.md) goes through the gateway's own HTTP path, so it must
// force a variant even where an experiment refuses client overrides, and it must stay out of
// the live experiment's statistics. Both are granted by one header carrying a secret that only
// this process knows (random, made at first use, never logged or stored), so no client can
// claim either.

#include <string>
#include <string_view>

namespace switchyard {

/// The header an evaluation request carries.
inline constexpr std::string_view eval_header = "x-switchyard-eval";

/// This process's secret (64 hex digits from OpenSSL's RAND_bytes), made once, thread-safe.
const std::string& eval_secret();

/// Whether `header_value` is this process's secret (constant time; "" is never it).
bool is_eval_request(std::string_view header_value);

}  // namespace switchyard
