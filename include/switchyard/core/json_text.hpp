#pragma once

#include <string>
#include <string_view>

namespace switchyard {

/// Appends `text` to `out` as the inside of a JSON string literal (quotes not included): `"` and
/// `\` escaped, control characters as `\u00XX` (RFC 8259 §7); every other byte, UTF-8 included,
/// kept as is.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace switchyard
