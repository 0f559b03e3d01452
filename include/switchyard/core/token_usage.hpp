#pragma once

#include <cstdint>

namespace switchyard {

/// Token counts from an OpenAI `usage` object: what the relay reads, the access log writes and
/// the metrics and statistics count.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  /// Prompt tokens read from / written to a prompt cache, when the upstream says (Anthropic's
  /// cache_read_input_tokens / cache_creation_input_tokens, Responses' and chat's
  /// cached_tokens); part of `prompt_tokens`, kept apart for the access log.
  std::int64_t cache_read_tokens = 0;
  std::int64_t cache_write_tokens = 0;
};

}  // namespace switchyard
