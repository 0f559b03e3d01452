#pragma once

// Pure protocol logic of the mock LLM: request fields in, response bytes out. No I/O here, so
// the wire format can be read (and tested) without sockets.

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::mock {

/// An OpenAI-shaped error, ready to send: {"error":{"message","type","param","code"}}.
struct api_error {
  unsigned status = 400;
  std::string body;
};

/// Builds an api_error; an empty `param` or `code` is rendered as null.
api_error make_error(unsigned status, std::string_view message, std::string_view type,
                     std::string_view param = {}, std::string_view code = {});

template <class T>
using result = boost::system::result<T, api_error>;

/// What the `x-mock-fault` header asks for.
struct fault {
  enum class kind { none, status, reset, stall, cut_after, stall_after };
  kind what = kind::none;
  unsigned status = 0;
  std::string retry_after;     ///< copied to `retry-after` when not empty
  std::string retry_after_ms;  ///< copied to `retry-after-ms` when not empty
  std::uint64_t after = 0;     ///< token steps sent before cut_after / stall_after
  /// `;times=N`: the fault hits only the first N requests carrying the same x-request-id (a
  /// gateway retries with the same id), later ones are answered normally. 0 = every request.
  std::uint64_t times = 0;
};

/// Parses `x-mock-fault`; "" means no fault. A malformed value is a 400 so typos in tests show.
result<fault> parse_fault(std::string_view value);

/// The error body a `status=CODE` fault answers with (type chosen by status class).
api_error fault_error(unsigned status);

/// Parses a decimal header value in [0, max]; nullopt when absent, error when malformed.
result<std::optional<std::uint64_t>> parse_count_header(std::string_view name,
                                                        std::string_view value, std::uint64_t max);

/// The fields of a chat or legacy completions request that shape the answer.
struct generation_request {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::uint64_t n = 1;
  std::optional<std::uint64_t> max_tokens;  ///< max_tokens or max_completion_tokens
};

/// Parses a generation request. `body` gets simdjson's padding as spare capacity (no copy when
/// it already has some). Malformed JSON, a missing model and bad field types are 400s.
result<generation_request> parse_generation(std::string& body);

/// The fields of an embeddings request that shape the answer.
struct embedding_request {
  std::string model;
  std::vector<std::uint64_t> seeds;  ///< one hash per input; the vector is derived from it
  std::uint64_t prompt_tokens = 0;
  std::uint32_t dimensions = 8;
  bool base64 = false;
};

/// Parses an embeddings request; same rules as parse_generation.
result<embedding_request> parse_embedding(std::string& body);

/// The 404 a request for the model "mock-404" gets, like OpenAI's for an unknown model.
api_error model_not_found(std::string_view model);

/// Prompt token estimate of a request body: bytes / 4, at least 1.
std::uint64_t estimate_prompt_tokens(std::size_t body_bytes);

/// Everything needed to render one chat or completions answer.
struct generation_plan {
  enum class api { chat, completions };
  api kind = api::chat;
  std::string model;
  std::uint64_t id = 0;        ///< rendered as chatcmpl-mock-<id> / cmpl-mock-<id>
  std::int64_t created = 0;    ///< unix seconds
  std::uint64_t tokens = 0;    ///< per choice
  std::uint64_t n = 1;         ///< choices
  bool length_capped = false;  ///< finish_reason "length" instead of "stop"
  bool include_usage = false;  ///< stream: usage:null on chunks and a final usage chunk
  std::uint64_t prompt_tokens = 1;
};

/// Text of token `i`: "tok<i> ".
void append_token_text(std::string& out, std::uint64_t i);

/// The non-streamed `chat.completion` / `text_completion` object.
std::string render_completion(const generation_plan& plan);

/// Renders the SSE events of one streamed answer. Each call returns one complete event
/// ("data: <json>\n\n") that stays valid until the next call; the buffer is reused, so a long
/// stream allocates nothing per token.
class stream_renderer {
 public:
  explicit stream_renderer(const generation_plan& plan);

  /// Chat only: the first chunk of a choice, delta {role:"assistant", content:""}.
  std::string_view role(std::uint64_t choice);
  /// Token `i` of choice `choice`; the last token of a choice carries the finish_reason.
  std::string_view token(std::uint64_t i, std::uint64_t choice);
  /// A content-less chunk carrying the finish_reason (used when tokens == 0).
  std::string_view finish(std::uint64_t choice);
  /// The include_usage chunk: choices [] and the usage object.
  std::string_view usage();
  /// `data: [DONE]`.
  static std::string_view done();

 private:
  void begin_choice(std::uint64_t choice);
  void end_choice(bool last);

  const generation_plan& plan_;
  std::string head_;  ///< `data: {"id":…,"choices":[`, identical for every chunk
  std::string tail_;  ///< `]` + optional `,"usage":null` + `}\n\n`
  std::string out_;
};

/// The embeddings `list` object: one deterministic unit vector per seed, float arrays or base64
/// of little-endian float32 (what the OpenAI Node SDK asks for by default and decodes).
std::string render_embeddings(const embedding_request& req);

/// The deterministic vector of one input (exposed for tests).
std::vector<float> embedding_vector(std::uint64_t seed, std::uint32_t dimensions);

/// GET /v1/models.
std::string_view models_body();

/// GET /v1/models/mock-model.
std::string_view model_body();

}  // namespace switchyard::mock
