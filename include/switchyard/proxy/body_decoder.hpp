#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace switchyard {

/// Undoes an upstream's `Content-Encoding` so the gateway can meter what it relays. The gateway
/// asks for `identity`; some servers compress anyway. gzip and deflate (zlib-wrapped, as RFC 9110
/// defines it) are decoded; anything else is refused by `for_encoding`.
class body_decoder {
 public:
  /// nullptr for identity (or no header); a decoder for gzip, x-gzip, deflate; an error naming
  /// the coding for anything else (br, zstd, a list of codings).
  static result<std::unique_ptr<body_decoder>> for_encoding(std::string_view content_encoding);

  /// `max_output` bounds what one `feed` may produce (a decompression bomb is an error).
  body_decoder(bool gzip, std::size_t max_output);
  ~body_decoder();
  body_decoder(const body_decoder&) = delete;
  body_decoder& operator=(const body_decoder&) = delete;

  /// Decodes `in`, appending to `out`.
  result<void> feed(std::string_view in, std::string& out);

 private:
  struct state;
  std::unique_ptr<state> st_;
  bool gzip_;
  std::size_t max_output_;
};

}  // namespace switchyard
