#pragma once
// One line of a Batch API input file (OpenAI's BatchRequestInput: `custom_id`, `method`, `url`,
// `body`), validated the way OpenAI validates a batch, and the lines of the output and error
// files (BatchRequestOutput: `id`, `custom_id`, `response{status_code, request_id, body}`,
// `error{code, message}`). Pure.

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// A validation failure of one line, as a BatchError (`code`, `message`, `param`; the caller
/// adds `line`).
struct batch_line_error {
  std::string code;
  std::string message;
  std::string param;  // "" = null
};

/// What the runner needs from a valid line.
struct batch_line {
  std::string custom_id;
  std::string url;   // the batch endpoint, e.g. /v1/chat/completions
  std::string body;  // the `body` object's JSON text, as written in the file
  std::string model;
};

/// The endpoints a batch may name.
bool valid_batch_endpoint(std::string_view endpoint) noexcept;

/// Longest custom_id accepted (OpenAI documents no bound; this keeps a row small).
inline constexpr std::size_t max_custom_id_bytes = 512;

/// Validates one line (without its newline) against the batch's `endpoint`: a JSON object with
/// a non-empty string `custom_id`, `method` "POST", `url` equal to `endpoint`, an object `body`
/// with a string `model` and no `stream: true`.
boost::system::result<batch_line, batch_line_error> validate_batch_line(std::string_view line,
                                                                        std::string_view endpoint);

/// A line of the output or error file for a request that got an answer (`error` null).
/// `body` is the answer's text: embedded as JSON when it parses, as a string otherwise.
std::string batch_output_line(std::string_view id, std::string_view custom_id, unsigned status_code,
                              std::string_view request_id, std::string_view body);

/// A line of the error file for a request that got no answer (`response` null).
std::string batch_error_line(std::string_view id, std::string_view custom_id, std::string_view code,
                             std::string_view message);

/// Token usage read from an answer body (chat/completions/embeddings `prompt_tokens`/
/// `completion_tokens`, Responses `input_tokens`/`output_tokens`); zeros when absent.
struct batch_usage {
  std::uint64_t input_tokens = 0;
  std::uint64_t output_tokens = 0;
};
batch_usage usage_of(std::string_view body);

}  // namespace switchyard
