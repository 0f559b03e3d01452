#include "switchyard/experiments/assignment.hpp"

#include <charconv>
#include <cmath>
#include <utility>

namespace switchyard {

namespace {

constexpr std::uint32_t fnv32_offset = 0x811c9dc5u;
constexpr std::uint32_t fnv32_prime = 0x01000193u;

constexpr std::uint64_t fnv64_offset = 0xcbf29ce484222325ull;
constexpr std::uint64_t fnv64_prime = 0x100000001b3ull;

std::uint32_t fnv_step(std::uint32_t h, std::uint32_t unit) noexcept {
  return (h ^ unit) * fnv32_prime;
}

std::uint32_t byte_at(std::string_view s, std::size_t i) noexcept {
  return static_cast<unsigned char>(s[i]);
}

bool is_continuation(std::uint32_t b) noexcept {
  return (b & 0xC0u) == 0x80u;
}

// The code point of the UTF-8 sequence at s[i] and its length, or length 0 when the bytes there
// are not a valid (shortest-form, non-surrogate, <= U+10FFFF) sequence.
std::pair<std::uint32_t, std::size_t> decode(std::string_view s, std::size_t i) noexcept {
  const std::uint32_t b0 = byte_at(s, i);
  if (b0 < 0x80u) {
    return {b0, 1};
  }
  // Sequence length, payload bits of the lead byte, and the smallest code point of that length
  // (anything below is an overlong form).
  std::size_t len = 4;
  std::uint32_t cp = b0 & 0x07u;
  std::uint32_t min = 0x10000u;
  if ((b0 & 0xE0u) == 0xC0u) {
    len = 2;
    cp = b0 & 0x1Fu;
    min = 0x80u;
  } else if ((b0 & 0xF0u) == 0xE0u) {
    len = 3;
    cp = b0 & 0x0Fu;
    min = 0x800u;
  } else if ((b0 & 0xF8u) != 0xF0u) {
    return {0, 0};  // a continuation byte or 0xF8..0xFF cannot start a sequence
  }
  if (s.size() - i < len) {
    return {0, 0};
  }
  for (std::size_t k = 1; k < len; ++k) {
    const std::uint32_t b = byte_at(s, i + k);
    if (!is_continuation(b)) {
      return {0, 0};
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) {
    return {0, 0};
  }
  return {cp, len};
}

// Continues an FNV-1a 32 hash over the UTF-16 units of `utf8`; hashing two strings in turn equals
// hashing their JS concatenation.
std::uint32_t fnv_utf16(std::uint32_t h, std::string_view utf8) noexcept {
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto [cp, len] = decode(utf8, i);
    if (len == 0) {
      h = fnv_step(h, byte_at(utf8, i));  // invalid byte: one unit, its own value
      ++i;
      continue;
    }
    if (cp >= 0x10000u) {
      const std::uint32_t v = cp - 0x10000u;
      h = fnv_step(h, 0xD800u + (v >> 10));
      h = fnv_step(h, 0xDC00u + (v & 0x3FFu));
    } else {
      h = fnv_step(h, cp);
    }
    i += len;
  }
  return h;
}

std::uint64_t fnv64(std::uint64_t h, std::string_view bytes) noexcept {
  for (const char c : bytes) {
    h = (h ^ static_cast<unsigned char>(c)) * fnv64_prime;
  }
  return h;
}

}  // namespace

std::uint32_t fnv1a32_utf16(std::string_view utf8) noexcept {
  return fnv_utf16(fnv32_offset, utf8);
}

std::optional<double> gb_hash(std::string_view seed, std::string_view value, int version) noexcept {
  if (version == 2) {
    const std::uint32_t inner = fnv_utf16(fnv_utf16(fnv32_offset, seed), value);
    char digits[16];  // JS String(n) of a uint32: plain decimal, at most 10 digits
    const auto end = std::to_chars(digits, digits + sizeof digits, inner).ptr;
    const std::uint32_t outer = fnv1a32_utf16(std::string_view(digits, end));
    return static_cast<double>(outer % 10000u) / 10000.0;
  }
  if (version == 1) {
    const std::uint32_t h = fnv_utf16(fnv_utf16(fnv32_offset, value), seed);
    return static_cast<double>(h % 1000u) / 1000.0;
  }
  return std::nullopt;
}

std::vector<double> equal_weights(std::size_t n) {
  return std::vector<double>(n, n == 0 ? 0.0 : 1.0 / static_cast<double>(n));
}

std::vector<bucket_range> bucket_ranges(std::size_t variations, double coverage,
                                        std::span<const double> weights) {
  // `!(coverage > 0)` also maps NaN to 0, where JS would let NaN through and match nothing.
  if (!(coverage > 0)) {
    coverage = 0;
  } else if (coverage > 1) {
    coverage = 1;
  }
  std::vector<double> w(weights.begin(), weights.end());
  if (w.size() != variations) {
    w = equal_weights(variations);
  }
  double total = 0;
  for (const double x : w) {
    total += x;  // left to right, as JS reduce
  }
  if (!std::isfinite(total) || total < 0.99 || total > 1.01) {
    w = equal_weights(variations);
  }
  std::vector<bucket_range> out;
  out.reserve(w.size());
  double cumulative = 0;
  for (const double x : w) {
    const double start = cumulative;
    cumulative += x;
    out.push_back({start, start + coverage * x});
  }
  return out;
}

int choose_variation(double n, std::span<const bucket_range> ranges) noexcept {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].lo <= n && n < ranges[i].hi) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool in_namespace(std::string_view unit_id, std::string_view ns, double lo, double hi) noexcept {
  // hash("__" + ns, id, 1) hashes id + "__" + ns.
  const std::uint32_t h = fnv_utf16(fnv_utf16(fnv_utf16(fnv32_offset, unit_id), "__"), ns);
  const double n = static_cast<double>(h % 1000u) / 1000.0;
  return lo <= n && n < hi;
}

assignment_result assign_unit(
    std::string_view seed, std::string_view unit_id, std::span<const bucket_range> ranges,
    const std::optional<std::tuple<std::string_view, double, double>>& ns) noexcept {
  if (unit_id.empty()) {
    return {};
  }
  if (ns && !in_namespace(unit_id, std::get<0>(*ns), std::get<1>(*ns), std::get<2>(*ns))) {
    return {};
  }
  const double bucket = *gb_hash(seed, unit_id, 2);
  return {choose_variation(bucket, ranges), bucket};
}

std::uint64_t unit_fingerprint(std::string_view seed, std::string_view unit_id) noexcept {
  return fnv64(fnv64(fnv64(fnv64_offset, seed), "\x1f"), unit_id);
}

}  // namespace switchyard
