#pragma once

#include "switchyard/core/recycled_string.hpp"
#include "switchyard/proxy/stream_event.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// Finds the top-level `usage` member of a JSON object body that arrives in pieces, wherever it
/// sits (before a long `content`, after megabytes of embeddings or `prompt_logprobs`), with
/// bounded memory: it tracks strings, escapes and nesting byte by byte, and keeps only the
/// `usage` value (up to `max_usage_bytes`), which `finish` parses with simdjson. Nested members
/// named `usage` and text that merely says "usage" are not it. Pure.
class usage_scanner {
 public:
  static constexpr std::size_t max_usage_bytes = 64 * 1024;

  /// Takes the next body bytes.
  void feed(std::string_view chunk);

  /// The counts of the last top-level `usage` object seen; nullopt when there is none, it is
  /// null, or it is larger than `max_usage_bytes`.
  std::optional<token_usage> finish(simdjson::ondemand::parser& parser) const;
  /// The same, the counts read by `read` (another API's names, e.g. Anthropic's).
  std::optional<token_usage> finish(simdjson::ondemand::parser& parser,
                                    token_usage (*read)(simdjson::ondemand::object&)) const;

 private:
  void structural(char c);

  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool expect_key_ = false;  // depth 1: the next string is a member name
  bool in_key_ = false;
  bool after_key_ = false;  // between a member name and its ':'
  bool key_is_usage_ = false;
  // The member name's raw bytes, up to one past the longest name compared (so a longer one is
  // recognised as such): inline, a name never allocates.
  static constexpr std::size_t max_key_bytes = 64;
  std::array<char, max_key_bytes + 1> key_{};
  std::size_t key_size_ = 0;
  void key_append(const char* p, std::size_t n) noexcept;
  enum class capture { off, waiting, on, overflow } capture_ = capture::off;
  // The `usage` value being captured, and the last complete one (with simdjson's padding in its
  // capacity, so `finish` parses it in place). Recycled buffers: a response's scanner reuses
  // the capacity of the ones before it on its thread.
  recycled_string value_;
  recycled_string found_;
  void found_value();
};

}  // namespace switchyard
