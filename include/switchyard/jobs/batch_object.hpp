#pragma once
// The Batch and File objects of OpenAI's API as the gateway keeps them, their JSON (schemas
// `Batch`, `OpenAIFile`, `BatchError` of OpenAI's openapi.yaml, field by field) and the batch's
// state machine. Pure.

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// A batch's status (Batch.status).
enum class batch_status {
  validating,
  failed,
  in_progress,
  finalizing,
  completed,
  expired,
  cancelling,
  cancelled,
};

std::string_view to_string(batch_status s) noexcept;
std::optional<batch_status> parse_batch_status(std::string_view s) noexcept;

/// No further transition: completed, failed, expired, cancelled.
bool is_terminal(batch_status s) noexcept;

/// The Batch member holding when `s` began ("in_progress_at", …; "created_at" for validating):
/// the stores' column and field names, from this fixed table only, never from input.
const char* status_timestamp_name(batch_status s) noexcept;

/// The transitions the runner and the API may make (OpenAI's lifecycle): validating →
/// in_progress | failed | cancelling; in_progress → finalizing | cancelling | expired;
/// cancelling → cancelled (via finalizing's output writing, which cancelling does itself);
/// finalizing → completed | expired | cancelled. Anything else is a bug or a refused request.
bool can_transition(batch_status from, batch_status to) noexcept;

/// A cancel request is accepted in these statuses (validating, in_progress); answered with the
/// batch unchanged while cancelling or cancelled (idempotent, as OpenAI answers).
bool can_cancel(batch_status s) noexcept;

/// A stored file (OpenAIFile).
struct file_record {
  std::string id;
  std::uint64_t bytes = 0;
  std::int64_t created_at = 0;
  std::string filename;
  std::string purpose;  // batch, batch_output, …
};

/// A stored batch (Batch), with the gateway's extra per-batch figures.
struct batch_record {
  std::string id;
  std::string endpoint;
  std::string model;
  std::string input_file_id;
  std::string completion_window = "24h";
  batch_status status = batch_status::validating;
  std::string output_file_id;  // "" = null
  std::string error_file_id;
  std::string errors_json;    // the BatchError array, "" = errors null
  std::string metadata_json;  // "" = null
  std::int64_t created_at = 0;
  std::optional<std::int64_t> in_progress_at, expires_at, finalizing_at, completed_at, failed_at,
      expired_at, cancelling_at, cancelled_at;
  std::uint64_t total = 0, completed = 0, failed = 0;
  std::uint64_t input_tokens = 0, output_tokens = 0;
  double cost_usd = 0;
  /// The creator's Authorization header, sent with each line so that the line is limited and
  /// metered as the creator's own request would be. Never rendered.
  std::string authorization;
};

/// The Batch object's JSON; the gateway's cost figure under `switchyard.cost_usd` (an extra
/// member SDKs ignore).
boost::json::object batch_json(const batch_record& b);

/// The OpenAIFile object's JSON (`status` "processed", the deprecated member SDKs still type).
boost::json::object file_json(const file_record& f);

}  // namespace switchyard
