#pragma once

#include "switchyard/core/api_kind.hpp"
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
  /// An upstream response header block larger than this, or with more fields, is refused (502);
  /// the bytes are bounded by the connection's 64 KiB read buffer.
  std::uint32_t max_upstream_header_bytes = 32 * 1024;
  std::uint32_t max_upstream_headers = 100;
  /// Concurrent client connections per worker before new ones are refused.
  std::uint32_t max_connections_per_worker = 20000;
  /// Request bytes buffered across every connection of the process (bodies being read or held
  /// for retries); a request that would pass it gets 503 and its connection is closed, so that
  /// a few clients with large partial bodies cannot exhaust memory.
  std::uint64_t max_buffered_bytes = 512ull * 1024 * 1024;
  bool operator==(const limits_config&) const = default;
};

/// Every wait in the gateway has one of these deadlines.
struct timeouts_config {
  duration idle{60'000};          // keep-alive connection with no request
  duration request{30'000};       // reading one request (headers and body) once it started
  duration connect{5'000};        // upstream resolve + connect + TLS handshake
  duration first_byte{60'000};    // request sent → first response byte from the upstream
  duration stream_idle{300'000};  // gap between two reads/writes while relaying a response
  duration drain{30'000};         // graceful shutdown budget, from SIGTERM to exit
  /// After SIGTERM, /readyz is 503 but new connections are still accepted and served this long
  /// (Kubernetes keeps routing to the pod until its endpoint removal has propagated).
  duration drain_grace{5'000};
  /// How often one timer per worker checks the socket deadlines above (idle, request, connect,
  /// first_byte, stream_idle): a timeout fires between its value and its value + resolution.
  duration resolution{100};
  bool operator==(const timeouts_config&) const = default;
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
  bool operator==(const breaker_config&) const = default;
};

/// Retries of one upstream call (global, overridable per model).
struct retry_config {
  std::uint32_t max_attempts = 3;  // attempts per target; 1 = no retry
  duration base{250};              // full jitter: wait uniform in [0, min(cap, base·2^n))
  duration cap{8'000};
  duration max_retry_after{60'000};  // an upstream's retry-after is a floor up to this
  duration deadline{600'000};        // all attempts and fallbacks of one request together
  /// A stream is held back until its first content event so that a failure before any content
  /// can be retried invisibly, but no longer than these budgets.
  std::uint32_t stream_hold_bytes = 64 * 1024;
  duration stream_hold_time{10'000};
  /// false: a failure relayed after the gateway retried carries `x-should-retry: false`, so an
  /// SDK's own retries do not multiply the gateway's (attempts stay bounded by max_attempts).
  bool client_may_retry = false;
  bool operator==(const retry_config&) const = default;
};

/// The retry budget is one for the whole gateway (built at start, shared by every worker), so it
/// is read from the top-level `retry:` block but belongs to the boot part.
struct retry_budget_config {
  double budget_percent = 20;    // concurrent retries ≤ this share of in-flight requests…
  std::uint32_t budget_min = 3;  // …but at least this many
  bool operator==(const retry_budget_config&) const = default;
};

/// What an upstream is, which decides its request targets, its auth headers and the APIs it
/// serves by default.
enum class upstream_type : std::uint8_t {
  openai,     // OpenAI and every OpenAI-compatible server (vLLM, llama.cpp, Ollama, LM Studio…)
  azure,      // Azure OpenAI: deployment URLs, api-version, the api-key header
  anthropic,  // Anthropic's Messages API: x-api-key, anthropic-version
};

/// Which header carries an upstream's `api_key` (`auth:`; the type's default when not given).
enum class upstream_auth : std::uint8_t {
  bearer,     // `Authorization: Bearer <api_key>` (openai; azure `auth: entra` / `bearer`)
  api_key,    // `api-key: <api_key>` (azure's default)
  x_api_key,  // `x-api-key: <api_key>` (anthropic's default)
};

/// Where requests go.
struct upstream_config {
  std::string name;
  std::string type = "openai";  // as written; `kind` is what the loader made of it
  upstream_type kind = upstream_type::openai;
  /// The APIs it serves natively (`apis:`), the type's default when not given (filled by the
  /// loader). A client API outside the set is translated through chat, or refused.
  api_set apis =
      api_bit(api_kind::chat) | api_bit(api_kind::completions) | api_bit(api_kind::embeddings);
  bool apis_given = false;  // `apis:` was written (else the type's default)
  /// azure: the `api-version` query parameter (a date like "2024-10-21", optionally
  /// "-preview"), or "v1" for Azure's v1 API (`/openai/v1/…`, no query). Required for azure.
  std::string api_version;
  /// azure: `resource: name` is short for base_url https://{name}.openai.azure.com.
  std::string resource;
  std::string anthropic_version = "2023-06-01";  // anthropic: the `anthropic-version` header
  /// anthropic: `max_tokens` for a translated request that sets none (Anthropic requires it).
  std::int64_t default_max_tokens = 4096;
  std::string base_url;  // scheme://host[:port][/path]; the endpoint path is appended
  std::string api_key;   // sent in the header `auth` names; empty = send none
  upstream_auth auth = upstream_auth::bearer;  // the type's default unless `auth:` is given
  /// Forward the client's own credential instead of `api_key`: the credential headers the
  /// type understands (openai: Authorization; azure: api-key, Authorization; anthropic:
  /// x-api-key, Authorization), as the client sent them. Without it, the client's
  /// Authorization, api-key and x-api-key never reach an upstream.
  bool pass_authorization = false;
  std::uint32_t max_connections = 256;  // per worker
  duration idle_timeout{30'000};        // pooled connection unused this long is closed
  bool tls_verify = true;
  std::string ca_file;  // extra trust anchor (PEM) besides the system CAs
  std::vector<std::pair<std::string, std::string>> headers;  // added to every upstream request
  /// Add `stream_options.include_usage` to streams whose client did not ask for usage (and strip
  /// it from the relay); false for upstreams that reject the member (older Azure api-versions).
  bool inject_stream_usage = true;
  breaker_config breaker;

  // Derived from base_url by the loader.
  bool tls = false;
  std::string host;
  std::string port;
  /// e.g. "/v1"; never ends with '/'. azure: the path before `/openai` (usually "").
  std::string path_prefix;
  bool operator==(const upstream_config&) const = default;
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

/// How a limit is shared between replicas (docs/replica-limits.md): `local` = this process only;
/// `leased` = slices leased from Redis, admissions served locally; `exact` = one Redis script
/// per admission.
enum class rate_limit_mode { local, leased, exact };

/// One entry of `rate_limits:`. Zero means "no limit of that kind".
struct rate_limit_config {
  std::vector<rate_scope> scope;          // empty = global
  std::string user_header = "x-user-id";  // where the `user` scope reads the user id
  std::string model;                      // only requests for this model ("" = all)
  std::uint64_t requests = 0;             // requests per `period`
  duration period{60'000};
  std::uint64_t tokens_per_minute = 0;
  std::uint32_t concurrent = 0;  // requests in flight at once
  /// The key table is full (a flood of distinct keys): refuse the request (429, `deny`, the
  /// default) or let it through unlimited (`allow`); either way it is counted in /metrics.
  bool deny_on_overflow = true;
  /// Resolved by the loader: `leased` with a redis store unless given, `local` with sqlite.
  rate_limit_mode mode = rate_limit_mode::local;
  bool mode_given = false;  // `mode:` was written (sqlite then accepts only local)
  /// A `x-switchyard-priority: batch` request is admitted only if its buckets keep at least
  /// this share of their capacity for live traffic afterwards.
  double batch_reserve = 0.2;
  /// Redis unavailable: each replica enforces limit / store.expected_replicas × (1 − margin).
  double fallback_margin = 0.1;
  bool operator==(const rate_limit_config&) const = default;
};

/// Log sinks.
struct log_config {
  std::string level = "info";     // trace|debug|info|warn|error|off
  std::string access = "stdout";  // stdout | off | a file path
  /// A file access log is rotated when it reaches this size; `max_files` rotated files are kept.
  std::uint64_t access_max_bytes = 100ull * 1024 * 1024;
  std::uint32_t max_files = 5;
  bool operator==(const log_config&) const = default;
};

/// Optional JSON Lines trace, one line per request, written off the request path.
struct trace_config {
  std::string path;                                // "" = no trace
  std::uint64_t max_bytes = 100ull * 1024 * 1024;  // rotate when a file reaches this size
  std::uint32_t max_files = 5;                     // rotated files kept
  bool include_text = false;  // prompt and completion text, only when asked for
  bool operator==(const trace_config&) const = default;
};

/// Histogram buckets (seconds) for /metrics.
struct metrics_config {
  std::vector<double> latency_buckets;   // empty = 5 ms .. 120 s
  std::vector<double> overhead_buckets;  // empty = 10 µs .. 100 ms
  bool operator==(const metrics_config&) const = default;
};

/// One immutable version of a prompt.
struct prompt_version_config {
  std::string version;
  std::string text;             // the template, inline or read from `file`
  std::string file;             // as written in the config ("" = inline)
  bool replace_system = false;  // chat: replace the client's system message instead of adding one
  std::map<std::string, std::string, std::less<>> defaults;  // for missing metadata variables
  std::int64_t created_unix = 0;  // registry versions (docs/prompt-registry.md); 0 = config
};

struct prompt_config {
  std::string name;
  std::vector<prompt_version_config> versions;
  /// Created through the API and kept in the store (experiments/prompt_registry.hpp), not in the
  /// config file; merged into the hot config at start, on reload and on every registry write.
  bool in_registry = false;
};

/// A variant's `prompt: name@version` whose name is not under `prompts:`: left for the prompt
/// registry to resolve (experiments/prompt_registry.hpp) when the config is applied; `path` and
/// `line` are where it was written, for the error when the registry has no such version.
struct registry_prompt_ref {
  std::string path, ref;
  int line = 0;  // 1-based; 0 = unknown
};

/// One arm of an experiment: a prompt version, a model and parameters.
struct variant_config {
  std::string name;
  double weight = -1;  // < 0 = not given (equal split of what the given weights leave)
  std::string prompt;  // "name@version", "" = no prompt
  std::string model;   // a `models:` name, "" = the requested model
  /// Request fields set on the upstream request, as JSON text (`temperature` → `0.4`).
  std::vector<std::pair<std::string, std::string>> params;
};

/// How the statistics judge an experiment.
struct analysis_config {
  /// feedback_success | score | error_rate | latency | ttft | cost
  std::string primary_metric = "feedback_success";
  double minimum_detectable_effect = 0.1;  // relative, for the sample size still needed
  double alpha = 0.05;
  double power = 0.8;
  std::uint64_t min_samples = 100;  // per variant before any verdict
  /// sequential: always-valid intervals, safe to watch (the verdict may come at any look);
  /// fixed_horizon: classic tests, the verdict waits for the planned sample.
  std::string method = "sequential";
  /// Planned units (or requests) per variant: the sequential tuning and the sample at which
  /// no_detectable_difference (or a fixed-horizon verdict) is given; 0 = estimated from
  /// minimum_detectable_effect, power and the control's baseline.
  std::uint64_t planned_sample = 0;
};

/// Automatic pause of a variant that is significantly worse than control.
struct guardrails_config {
  double max_error_rate_increase = -1;   // absolute, e.g. 0.05; < 0 = off
  double max_p95_latency_increase = -1;  // relative, e.g. 0.5 = 50 % slower; < 0 = off
  double max_cost_increase = -1;         // relative cost per request, e.g. 0.2; < 0 = off
  double daily_budget_usd = 0;           // per variant per UTC day; 0 = off (a hard limit)
  std::uint64_t min_requests = 200;      // per variant before a guardrail may trip
  double alpha = 0.01;                   // one-sided significance for the tests
};

enum class unit_kind { header, body_user, api_key, request };

struct experiment_config {
  std::string name;
  std::string match_model;         // requested model name that enters the experiment
  std::string match_endpoint;      // "" = any of chat_completions, completions, embeddings
  std::string match_header;        // "" = none; else only requests with this header…
  std::string match_header_value;  // …equal to this value ("" = any value)
  std::string unit = "header:x-user-id";
  unit_kind unit_type = unit_kind::header;
  std::string unit_header = "x-user-id";  // for unit_kind::header
  std::string seed;                       // defaults to the name
  double coverage = 1;
  /// `hash:` growthbook (default: FNV-1a buckets, float weights) or modelab (MD5 buckets of
  /// "<seed>:<unit>", integer weights, `rollout_pct`; experiments/modelab_hash.hpp).
  std::string hash = "growthbook";
  double rollout_pct = -1;  // hash: modelab only; < 0 = not given (then coverage × 100)
  std::string ns;           // namespace name ("" = none): mutually exclusive experiments share it
  double ns_lo = 0, ns_hi = 1;
  std::string status = "running";        // running | paused | concluded
  std::string winner;                    // variant everyone gets when concluded
  bool allow_override = true;            // x-switchyard-variant: <experiment>=<variant>
  std::vector<variant_config> variants;  // the first is control
  analysis_config analysis;
  guardrails_config guardrails;
};

/// Feedback ids are signed so any replica can verify them without shared state. Read from the
/// snapshot: a reload with a new key signs new ids with it at once (the previous key still
/// verifies until the next reload).
struct feedback_config {
  std::string signing_key;  // "" = generated once and kept in data_dir/feedback.key
  bool operator==(const feedback_config&) const = default;
};

/// The `feedback:` caps: events accepted per feedback id (per process; beyond it 429) and distinct
/// event names per experiment (beyond it 400), so that one client cannot grow the store without
/// bound. Their counters are built at start, hence boot.
struct feedback_caps_config {
  std::uint32_t max_events_per_id = 32;
  std::uint32_t max_event_names = 64;
  bool operator==(const feedback_caps_config&) const = default;
};

/// `batches:` how the gateway runs OpenAI Batch API jobs (docs/batches.md). Boot part: the runner
/// is built once.
struct batches_config {
  unsigned concurrency = 8;                     // lines of one batch in flight at once
  duration line_timeout{600'000};               // one attempt of one line, end to end
  unsigned max_attempts = 3;                    // per line, for transport failures and 5xx
  duration retry_base{1'000};                   // backoff before attempt n: base·2ⁿ, jittered
  duration retry_cap{60'000};                   // … at most this (also for 429 backoff)
  std::uint64_t max_lines = 50'000;             // per input file (OpenAI's limit)
  std::uint64_t max_line_bytes = 1 << 20;       // one input line
  std::uint64_t max_response_bytes = 64 << 20;  // one line's answer
  duration poll_interval{1'000};                // how often the runner looks for new work
  duration lease{15'000};  // store type redis: a running batch's lease, renewed every third
  bool operator==(const batches_config&) const = default;
};

/// `evaluations:` the defaults and bounds of golden-dataset evaluations (docs/evaluations.md).
/// Hot: an evaluation resolves its settings against the snapshot it starts with, and one that
/// runs keeps them to its end. A run's own value (CLI flag, API member) wins over these, an
/// assertion's `model` over both.
struct evaluations_config {
  /// llm-rubric's judge when neither the assertion nor the run names one ("" = none: such a
  /// dataset is refused before it runs). A `models:` name (or an experiment's match model),
  /// routed like any request.
  std::string judge_model;
  std::string embedding_model;        // `similar`'s model, likewise; its upstream serves embeddings
  unsigned concurrency = 4;           // requests in flight per evaluation unless the run says
  unsigned max_concurrency = 64;      // the most a run may ask for
  duration request_timeout{120'000};  // per request (case, judge, embedding), answer read included
  double min_pass_rate = -1;          // the gate unless the run gives one; < 0 = no gate
  std::uint64_t max_cases = 10'000;   // per dataset
  unsigned max_running = 2;           // API evaluations at once; one more is refused (503)
  std::uint64_t keep = 1'000;         // stored in data_dir/evals.db; older ones deleted on save
  unsigned rate_limit_waits = 5;  // a 429 from the gateway's own limits is waited out this often
  duration rate_limit_max_wait{30'000};         // per wait, whatever retry-after-ms says
  std::uint64_t max_response_bytes = 8u << 20;  // one answer read by the runner
  bool operator==(const evaluations_config&) const = default;
};

/// `store:` where experiment statistics, feedback, controls and phases live (docs/replicas.md):
/// the embedded SQLite file in data_dir, or one Redis that many replicas share.
struct store_config {
  std::string type = "sqlite";             // sqlite | redis
  std::string url;                         // redis://[:password@]host[:port][/db]; never logged
  std::string password;                    // overrides the URL's; never logged
  std::string key_prefix = "switchyard:";  // every key under it
  duration timeout{50};                    // a Redis call a request waits on
  duration flush_timeout{2'000};           // a flush, an API read, a control write
  std::uint64_t buffer_max_bytes = 64ull << 20;  // statistics + feedback held while Redis is down
  std::uint32_t expected_replicas = 1;           // rate limits' share while Redis is down
  bool operator==(const store_config&) const = default;
};

/// What an alert rule measures (docs/alerts.md).
enum class alert_metric {
  error_rate,
  p95_latency_ms,
  daily_spend_usd,
  feedback_success_rate,
  feedback_score_mean
};
/// What one alert of a rule is about: the whole gateway, or one model, upstream, prompt version
/// or experiment variant (one alert per value seen).
enum class alert_scope { global, model, upstream, prompt_version, variant };

/// One `alerts.rules[]` entry: fires while `metric` over the last `window` is above (or below)
/// `threshold` for a scope value with at least `min_samples` samples.
struct alert_rule_config {
  std::string name;
  std::string metric;  // as written
  alert_metric kind = alert_metric::error_rate;
  std::string scope = "global";  // as written
  alert_scope scope_kind = alert_scope::global;
  bool below = false;  // `below:` given (else `above:`)
  double threshold = 0;
  duration window{300'000};  // 24h for daily_spend_usd unless given
  std::uint64_t min_samples = 10;
  std::string severity = "warning";  // info | warning | critical
  // Optional filter: only these (empty = any).
  std::string model, upstream, prompt_version, experiment, variant;
  bool operator==(const alert_rule_config&) const = default;
};

/// `alerts:`: the configured rules and the always-on ones (SRM and guardrail trips).
struct alerts_config {
  duration evaluation_interval{30'000};
  std::vector<alert_rule_config> rules;
  double srm_p_value = 0.001;  // `srm.p_value`: an SRM alert below it
  std::string srm_severity = "critical";
  std::string guardrail_severity = "warning";
  bool operator==(const alerts_config&) const = default;
};

/// `compat.modelab:` modelab's server API on the gateway's port (docs/compat-modelab.md).
struct modelab_config {
  bool enabled = false;
  std::string api_key;  // "" = X-API-Key not checked; else required on every modelab route
  std::uint64_t max_batch_records = 1000;     // records per ingest request (413 beyond)
  std::uint64_t max_body_bytes = 4ull << 20;  // bytes per ingest request (413 beyond)
  std::uint64_t max_string_bytes = 65536;     // one id, name or JSON text field (400 beyond)
  bool operator==(const modelab_config&) const = default;
};

/// `compat.prompt_versioner:` prompt_versioner's dashboard API served by the gateway
/// (docs/compat-prompt-versioner.md).
struct prompt_versioner_compat_config {
  bool enabled = false;
  /// A version is A/B-eligible from this many calls (prompt_versioner's MIN_CALLS_FOR_AB_TEST).
  std::uint32_t min_calls_for_ab_test = 30;
  /// At most this many versions in an ab-tests answer (MAX_AB_TEST_VERSIONS).
  std::uint32_t max_ab_test_versions = 10;
  /// Feedback values are scores on [score_min, score_max]; avg_quality maps them onto [0, 1].
  double score_min = 1, score_max = 5;
  /// Writes (DELETE, import, acknowledge) need the admin token; false opens them as the original
  /// (unauthenticated) Flask server had them.
  bool require_admin_token = true;
  bool operator==(const prompt_versioner_compat_config&) const = default;
};

/// `compat:`: the APIs of the systems Switchyard replaces, one sub-section each
/// (src/config/compat_config.cpp).
struct compat_config {
  prompt_versioner_compat_config prompt_versioner;
  modelab_config modelab;
  bool operator==(const compat_config&) const = default;
};

/// The part of the configuration a running gateway cannot change: listeners, threads, the store,
/// per-connection limits and deadlines, upstream pools and TLS, the rate limiter and retry budget
/// (cross-worker state built once), log and trace sinks, metrics buckets, the flush interval.
/// A reload whose boot part differs is refused (`restart_required`).
struct boot_config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  unsigned workers = 0;  // 0 = one per core
  /// Optional second listener for /healthz, /readyz, /metrics and /api/v1/* ("" = none; the
  /// client port serves them too), so monitoring stays reachable whatever the proxy load.
  std::string admin_listen_host;
  std::uint16_t admin_listen_port = 0;
  std::string data_dir = "./data";
  limits_config limits;
  timeouts_config timeouts;
  std::vector<upstream_config> upstreams;
  retry_budget_config retry_budget;  // `retry.budget_percent`, `retry.budget_min`
  std::vector<rate_limit_config> rate_limits;
  log_config log;
  trace_config trace;
  metrics_config metrics;
  duration stats_flush{1'000};         // how often experiment statistics reach the store
  feedback_caps_config feedback_caps;  // `feedback.max_events_per_id`, `feedback.max_event_names`
  store_config store;
  batches_config batches;
  bool operator==(const boot_config&) const = default;
};

/// The part a reload replaces atomically: what requests read from their snapshot (models and
/// their routes, retries, tokens, the feedback key, prompts, experiments). In-flight requests
/// keep the one they started with.
struct hot_config {
  std::string admin_token;
  /// Optional: guards the read-only API (GET /api/v1/experiments…, /api/v1/prompts…); the admin
  /// token is accepted too. "" = those reads are public.
  std::string api_token;
  std::vector<model_config> models;  // upstream indexes refer to the boot part's upstreams
  retry_config retry;                // the defaults of models[].retry (copied into each model)
  feedback_config feedback;
  std::vector<prompt_config> prompts;
  std::vector<experiment_config> experiments;
  alerts_config alerts;
  compat_config compat;
  evaluations_config evaluations;
  /// Variant prompts left for the prompt registry (see registry_prompt_ref).
  std::vector<registry_prompt_ref> registry_prompt_refs;

  /// The model entry for a client-facing name, or nullptr.
  const model_config* find_model(std::string_view name) const noexcept;
  /// The prompt version for "name@version", or nullptr.
  const prompt_version_config* find_prompt(std::string_view ref) const noexcept;
  const experiment_config* find_experiment(std::string_view name) const noexcept;
};

/// The whole configuration as loaded: both parts, immutable once loaded. Members are reached
/// directly (`cfg.listen_port`, `cfg.models`); a component that takes `const boot_config&` or
/// `const hot_config&` states in its type which part it may read.
struct config : boot_config, hot_config {};

/// The first key path whose value differs between the boot parts of `current` and `next`
/// (`limits.max_body_bytes`, `retry.budget_percent`; a list whole: `upstreams`), or "" when `next`
/// can be applied by a reload.
std::string boot_difference(const boot_config& current, const boot_config& next);

/// What a reload cannot change: the top-level key of `boot_difference` (`limits`, `workers`,
/// `feedback`), or "" when `next` can be applied.
std::string restart_required(const config& current, const config& next);

/// One key of the configuration as its section declares it (src/config/schema.hpp).
struct config_key_info {
  std::string path;         // `timeouts.idle`, `feedback.signing_key`; `models` for a list
  std::string type;         // `integer in [1, 20]`, `duration`, `text`, `list`, …
  bool reloadable = false;  // true: a reload applies it; false: it needs a restart
};

/// Every declared key, in declaration order (sections not yet declared appear as one entry).
std::vector<config_key_info> config_keys();

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
