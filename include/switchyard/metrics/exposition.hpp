#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, as pure string helpers.
// The registry renders its own families with these; scrape-time callbacks use them to append
// their lines, so every byte on /metrics goes through one set of escaping and number rules.

namespace switchyard::metrics {

/// The metric types both formats know. `untyped` is spelled `unknown` in OpenMetrics.
enum class metric_type { counter, gauge, histogram, summary, untyped };

/// "counter", "gauge", "histogram", "summary" or "untyped" (also "unknown"); nullopt otherwise.
std::optional<metric_type> parse_metric_type(std::string_view text) noexcept;

/// The word on a `# TYPE` line for `type` in the chosen format.
std::string_view type_name(metric_type type, bool openmetrics) noexcept;

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, the metric names both formats accept.
bool valid_metric_name(std::string_view name) noexcept;

/// `[a-zA-Z_][a-zA-Z0-9_]*` and not starting with `__` (reserved for Prometheus itself).
bool valid_label_name(std::string_view name) noexcept;

/// Throws std::invalid_argument (a startup bug) unless `name` is a valid metric name (a counter's
/// ending in `_total`) and `labels` are valid, distinct and not the label a histogram (`le`) or a
/// summary (`quantile`) adds itself.
void validate_family(std::string_view name, metric_type type, std::span<const std::string> labels);

/// The names a family takes up in an exposition: its sample names (plus `_bucket`, `_sum`,
/// `_count` for a histogram, `_sum` and `_count` for a summary) and, for a counter, its
/// OpenMetrics family name without `_total`. Two families sharing one would be rejected by a
/// scraper.
std::vector<std::string> exposed_names(std::string_view name, metric_type type);

/// `text` with every byte sequence that is not valid UTF-8 replaced by U+FFFD. A scraper rejects
/// a whole exposition over one invalid byte, so label values pass through this once, when their
/// series is created.
std::string sanitize_utf8(std::string_view text);

/// Appends `value` escaped for use inside `label="..."`: backslash, double quote and newline
/// become `\\`, `\"` and `\n`.
void append_label_value(std::string& out, std::string_view value);

/// Appends `a="x",b="y"` (no braces) for these names and values; each value is made valid UTF-8
/// and escaped. Series render this once, when they are created.
void append_labels(std::string& out, std::span<const std::string> names,
                   std::span<const std::string_view> values);

/// Appends `help` escaped for a `# HELP` line: `\` → `\\`, newline → `\n`; OpenMetrics also
/// escapes `"` → `\"` (the 0.0.4 parser would reject that escape, so the formats differ here).
void append_help(std::string& out, std::string_view help, bool openmetrics);

/// Appends a sample value: integral values below 2^63 in magnitude as plain integers ("3", "-2",
/// "1000000"), other finite values in the shortest form that reads back exactly (std::to_chars:
/// "0.25", "1e-05", "1e+21"), and "+Inf", "-Inf", "NaN" as both formats spell them.
void append_number(std::string& out, double value);

/// Appends an unsigned integer in decimal (bucket counts, `_count`).
void append_number(std::string& out, std::uint64_t value);

/// `append_number` into a fresh string.
std::string format_number(double value);

/// A histogram bound as the `le` label value, the way the Go client renders it (Go's `%g` with
/// shortest digits: "0.005", "1", "100000", "1e+06", "1e-05", "+Inf"). OpenMetrics asks for its
/// canonical form, which appends ".0" when there is neither a point nor an exponent ("1.0").
std::string format_le(double bound, bool openmetrics);

/// One label of a sample line.
struct label {
  std::string_view name;
  std::string_view value;
};

/// Appends the metadata lines of a family. Text 0.0.4: `# HELP` then `# TYPE`, as the client
/// libraries write them; OpenMetrics: `# TYPE` then `# HELP` (the order its spec recommends), and
/// a counter's family name loses its `_total` suffix. An empty `help` writes no HELP line.
void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          metric_type type, bool openmetrics);

/// Appends one sample line `name{a="x",b="y"} value\n` (no braces without labels). Label values
/// are escaped here; names are the caller's responsibility (validated at registration).
void append_sample(std::string& out, std::string_view name, std::span<const label> labels,
                   double value);

/// Same, for a braced list: `append_sample(out, "up", {{"upstream", "openai"}}, 1)`.
inline void append_sample(std::string& out, std::string_view name,
                          std::initializer_list<label> labels, double value) {
  append_sample(out, name, std::span<const label>(labels.begin(), labels.size()), value);
}

/// Content type for the response: "text/plain; version=0.0.4; charset=utf-8" or
/// "application/openmetrics-text; version=1.0.0; charset=utf-8".
std::string_view content_type(bool openmetrics) noexcept;

/// True when an Accept header asks for OpenMetrics: an `application/openmetrics-text` range with
/// a q-value above zero and at least that of any range that would take the 0.0.4 text format
/// (`text/plain`, `text/*`, `*/*`). Prometheus sends OpenMetrics first with the highest q.
bool wants_openmetrics(std::string_view accept) noexcept;

}  // namespace switchyard::metrics
