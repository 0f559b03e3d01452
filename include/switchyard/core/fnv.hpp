#pragma once

#include <cstdint>
#include <string_view>

namespace switchyard {

/// FNV-1a, 64 bits, incremental. Callers that index tables by its low bits finish it with
/// `mix64` (FNV leaves the low bits weak). GrowthBook's 32-bit FNV over UTF-16 units is a
/// different function and lives in experiments/assignment.
class fnv1a64 {
 public:
  constexpr void byte(std::uint8_t b) noexcept { h_ = (h_ ^ b) * 0x100000001b3ULL; }
  constexpr void bytes(std::string_view s) noexcept {
    for (char c : s) {
      byte(static_cast<std::uint8_t>(c));
    }
  }
  constexpr void number(std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
      byte(static_cast<std::uint8_t>(v >> (8 * i)));
    }
  }
  /// Length first, so that ("ab", "c") and ("a", "bc") differ.
  constexpr void text(std::string_view s) noexcept {
    number(s.size());
    bytes(s);
  }
  constexpr std::uint64_t value() const noexcept { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// The MurmurHash3 64-bit finaliser: spreads every input bit over the low bits.
constexpr std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace switchyard
