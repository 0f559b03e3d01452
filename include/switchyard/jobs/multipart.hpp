#pragma once
// multipart/form-data (RFC 7578 over RFC 2046 §5.1) as the OpenAI SDKs send `POST /v1/files`:
// an incremental reader, fed the body in pieces of any size, that hands each part's headers and
// then its content to callbacks, so a file part can go to disk without being held whole.

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace switchyard {

/// The headers of one part that matter to form-data (RFC 7578 §4.2, §4.4).
struct multipart_part_header {
  std::string name;      // Content-Disposition `name`
  std::string filename;  // Content-Disposition `filename` (or `filename*`), "" when absent
  bool has_filename = false;
  std::string content_type;  // "" when absent (text/plain by RFC 7578 §4.4)
};

/// Bounds on what a reader accepts (each a named default).
struct multipart_limits {
  std::size_t max_parts = 64;
  std::size_t max_header_bytes = 16 * 1024;  // one part's header block
  std::size_t max_preamble_bytes = 64 * 1024;
};

/// The `boundary` parameter of a `multipart/form-data` Content-Type value (token or
/// quoted-string, RFC 2046 §5.1.1: 1–70 characters); an error naming what is wrong otherwise.
result<std::string> multipart_boundary(std::string_view content_type);

/// Parses a part's header block (lines separated by CRLF, without the blank line).
result<multipart_part_header> parse_part_headers(std::string_view block);

/// The incremental reader. Callbacks run from inside `feed`; an error from a callback (a full
/// disk, a part too large) stops the reader and is returned by that `feed`.
class multipart_reader {
 public:
  struct callbacks {
    std::function<result<void>(const multipart_part_header&)> on_part;
    std::function<result<void>(std::string_view)> on_data;
    std::function<result<void>()> on_part_end;
  };

  multipart_reader(std::string boundary, callbacks cb, multipart_limits limits = {});

  /// The next bytes of the body, split anywhere.
  result<void> feed(std::string_view bytes);
  /// The body ended: an error unless the closing delimiter (`--boundary--`) was read.
  result<void> finish();
  bool done() const noexcept { return state_ == state::epilogue; }

 private:
  enum class state { preamble, boundary_line, headers, body, epilogue, failed };
  result<void> step(bool& progress);
  result<void> fail(std::string message);

  std::string delimiter_;  // CRLF "--" boundary
  callbacks cb_;
  multipart_limits limits_;
  std::string buf_;
  std::size_t pos_ = 0;  // consumed prefix of buf_
  state state_ = state::preamble;
  std::size_t parts_ = 0;
  std::size_t preamble_ = 0;
};

}  // namespace switchyard
