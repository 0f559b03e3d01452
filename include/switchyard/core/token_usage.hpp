#pragma once

#include <cstdint>

namespace switchyard {

/// Token counts from an OpenAI `usage` object: what the relay reads, the access log writes and
/// the metrics and statistics count.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
};

}  // namespace switchyard
