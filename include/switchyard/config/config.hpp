#pragma once

#include "switchyard/core/error.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

using duration = std::chrono::milliseconds;

/// Limits on what a client may send; each has a named default.
struct limits_config {
  std::uint64_t max_body_bytes = 32 * 1024 * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  /// Largest single SSE event accepted from an upstream; streams themselves are unbounded.
  std::uint32_t max_event_bytes = 4 * 1024 * 1024;
  /// Concurrent client connections per worker before new ones are refused.
  std::uint32_t max_connections_per_worker = 20000;
};

/// Every wait in the gateway has one of these deadlines.
struct timeouts_config {
  duration idle{60'000};          // keep-alive connection with no request
  duration request{30'000};       // reading one request (headers and body) once it started
  duration connect{5'000};        // upstream resolve + connect + TLS handshake
  duration first_byte{60'000};    // request sent → first response byte from the upstream
  duration stream_idle{300'000};  // gap between two reads/writes while relaying a response
  duration drain{30'000};         // graceful shutdown budget
};

/// Circuit breaking for one upstream: eject after `consecutive_failures` in a row, or when the
/// failure rate over `window` passes `failure_rate` (with at least `min_requests` seen); stay out
/// for `cooldown`, doubling on each re-ejection up to `max_cooldown`; then one half-open probe.
struct breaker_config {
  bool enabled = true;
  std::uint32_t consecutive_failures = 5;
  double failure_rate = 0.5;
  std::uint32_t min_requests = 20;
  duration window{10'000};
  duration cooldown{5'000};
  duration max_cooldown{300'000};
};

/// Retries of one upstream call (global, overridable per model).
struct retry_config {
  std::uint32_t max_attempts = 3;  // attempts per target; 1 = no retry
  duration base{250};              // full jitter: wait uniform in [0, min(cap, base·2^n))
  duration cap{8'000};
  double budget_percent = 20;        // concurrent retries ≤ this share of in-flight requests…
  std::uint32_t budget_min = 3;      // …but at least this many
  duration max_retry_after{60'000};  // an upstream's retry-after is a floor up to this
  duration deadline{600'000};        // all attempts and fallbacks of one request together
  /// A stream is held back until its first content event so that a failure before any content
  /// can be retried invisibly, but no longer than these budgets.
  std::uint32_t stream_hold_bytes = 64 * 1024;
  duration stream_hold_time{10'000};
};

/// Where requests go: an OpenAI-compatible API.
struct upstream_config {
  std::string name;
  std::string type = "openai";
  std::string base_url;             // scheme://host[:port][/path]; the endpoint path is appended
  std::string api_key;              // sent as `Authorization: Bearer`; empty = send none
  bool pass_authorization = false;  // forward the client's own Authorization instead
  std::uint32_t max_connections = 256;  // per worker
  duration idle_timeout{30'000};        // pooled connection unused this long is closed
  bool tls_verify = true;
  std::string ca_file;  // extra trust anchor (PEM) besides the system CAs
  std::vector<std::pair<std::string, std::string>> headers;  // added to every upstream request
  breaker_config breaker;

  // Derived from base_url by the loader.
  bool tls = false;
  std::string host;
  std::string port;
  std::string path_prefix;  // e.g. "/v1"; never ends with '/'
};

/// Token prices used for cost accounting.
struct price_config {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
};

/// Another target to try when the primary's retries are exhausted.
struct fallback_config {
  std::string upstream;
  std::string model;               // defaults to the primary's upstream model name
  std::size_t upstream_index = 0;  // resolved by the loader
};

/// What a client asks for, and where it goes.
struct model_config {
  std::string name;      // what clients put in `model`
  std::string upstream;  // upstream_config::name
  std::string model;     // what the upstream receives; defaults to `name`
  price_config price;
  std::vector<fallback_config> fallbacks;
  retry_config retry;              // the global one unless the model overrides keys
  std::size_t upstream_index = 0;  // resolved by the loader
};

/// What a rate limit counts per: any combination of these, e.g. [api_key, model].
enum class rate_scope { global, api_key, user, model, variant };

/// One entry of `rate_limits:`. Zero means "no limit of that kind".
struct rate_limit_config {
  std::vector<rate_scope> scope;          // empty = global
  std::string user_header = "x-user-id";  // where the `user` scope reads the user id
  std::string model;                      // only requests for this model ("" = all)
  std::uint64_t requests = 0;             // requests per `period`
  duration period{60'000};
  std::uint64_t tokens_per_minute = 0;
  std::uint32_t concurrent = 0;  // requests in flight at once
};

/// Log sinks.
struct log_config {
  std::string level = "info";     // trace|debug|info|warn|error|off
  std::string access = "stdout";  // stdout | off | a file path
};

/// The whole configuration, immutable once loaded.
struct config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  unsigned workers = 0;  // 0 = one per core
  std::string admin_token;
  std::string data_dir = "./data";
  limits_config limits;
  timeouts_config timeouts;
  std::vector<upstream_config> upstreams;
  std::vector<model_config> models;
  retry_config retry;
  std::vector<rate_limit_config> rate_limits;
  log_config log;

  /// The model entry for a client-facing name, or nullptr.
  const model_config* find_model(std::string_view name) const noexcept;
};

/// Environment lookup, injectable for tests.
using env_lookup = std::optional<std::string> (*)(const char* name);

/// Parses and validates YAML text. Errors name the key path and the line, e.g.
/// `upstreams[0].max_connections: must be a positive integer (line 7)`. `base_dir` resolves
/// relative file names.
result<config> parse_config(std::string_view yaml, const std::string& base_dir = ".",
                            env_lookup env = nullptr);

/// Reads and parses a file.
result<config> load_config_file(const std::string& path, env_lookup env = nullptr);

/// `250ms`, `5s`, `2m`, `1h`, `1m30s` → milliseconds. Pure.
std::optional<duration> parse_duration(std::string_view text);

}  // namespace switchyard
