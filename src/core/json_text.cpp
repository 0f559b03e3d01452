#include "switchyard/core/json_text.hpp"

#include <array>

namespace switchyard {

namespace {

// Which bytes need an escape, by byte: one load per byte in the scan below.
constexpr auto escape_table = [] {
  std::array<bool, 256> t{};
  for (unsigned u = 0; u < 0x20; ++u) {
    t[u] = true;
  }
  t['"'] = t['\\'] = true;
  return t;
}();

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  // Runs of bytes that need no escape are appended whole: names, ids and most prompt text are
  // one run, so this is one append rather than a push_back (and capacity check) per byte.
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (!escape_table[u]) {
      continue;
    }
    out.append(text.data() + run, i - run);
    run = i + 1;
    if (u >= 0x20) {
      const char pair[2] = {'\\', static_cast<char>(u)};
      out.append(pair, 2);
    } else {
      const char six[6] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 0xf]};
      out.append(six, 6);
    }
  }
  out.append(text.data() + run, text.size() - run);
}

}  // namespace switchyard
