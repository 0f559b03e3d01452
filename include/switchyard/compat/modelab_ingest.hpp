#pragma once

#include "switchyard/core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The bodies of modelab's three ingest endpoints (shared/reference/seeds.md §2): a JSON array of
// the records modelab's SDK buffers and flushes. Pure: text in, records or an error out. A batch is
// taken or refused whole, so a client never has to guess which half of a flush was stored.

namespace switchyard {

/// Which ingest endpoint: POST /api/v1/ingest/{assignments|executions|events}.
enum class modelab_kind { assignments, executions, events };

/// One assignment the SDK made (`assignment_id` is the idempotency key).
struct modelab_assignment {
  std::string assignment_id, flag_name, variant_name, user_id, session_id, config_json;
  std::string assigned_at;         // as sent ("" when absent)
  std::int64_t assigned_unix = 0;  // parsed, else the time it was received
};

/// One LLM call measured by the SDK. Executions carry no id of their own: `key` is built from
/// every field, so a retried flush (the same records again) is recognised.
struct modelab_execution {
  std::string assignment_id;
  std::optional<double> latency_ms;
  std::optional<std::int64_t> input_tokens, output_tokens;
  std::optional<double> cost;
  std::string error;  // "" = the call succeeded
  std::string metadata_json, recorded_at;
  std::int64_t recorded_unix = 0;
  std::string key;
};

/// One outcome event (`event_id` is the idempotency key).
struct modelab_event {
  std::string event_id, assignment_id;
  std::string event_type;  // success | failure | custom
  std::string event_name;  // custom events' name ("" when absent)
  std::string payload_json, created_at;
  std::int64_t created_unix = 0;
};

/// Bounds on one request (compat.modelab).
struct modelab_ingest_limits {
  std::uint64_t max_records = 1000;
  std::uint64_t max_string_bytes = 65536;
};

/// A parsed batch; only the vector of the endpoint's kind is filled.
struct modelab_batch {
  std::vector<modelab_assignment> assignments;
  std::vector<modelab_execution> executions;
  std::vector<modelab_event> events;
};

/// Parses one ingest body. Errors: errc::body_too_large (more than `max_records` records, the
/// message says the bound), errc::invalid_request for anything else, naming the record index and
/// field (`[3].event_type: must be success, failure or custom`). Unknown fields are ignored (a
/// newer SDK may send more); `config_json`, `metadata_json` and `payload_json` may be JSON text or
/// any JSON value (kept as serialised JSON). Absent or unparsable-but-absent timestamps take
/// `now_unix`; a timestamp that is present must parse.
result<modelab_batch> parse_modelab_batch(modelab_kind kind, std::string_view body,
                                          const modelab_ingest_limits& limits,
                                          std::int64_t now_unix);

/// ISO 8601 as Python's `datetime.isoformat()` writes it: `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]`
/// then optionally `Z` or `±HH:MM` (or `±HHMM`); no offset = UTC. Unix seconds, or nullopt.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace switchyard
