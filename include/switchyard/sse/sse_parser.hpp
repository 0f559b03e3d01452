#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// One server-sent event as the WHATWG algorithm dispatches it, with where its block sits in the
/// byte stream (so that a relay can forward, drop or splice the upstream's own bytes).
struct sse_event {
  /// Spare capacity kept after `data` so a JSON parser that reads past the end (simdjson needs
  /// 64 bytes) can parse it in place.
  static constexpr std::size_t padding = 64;

  std::string event;              // the `event:` field, "" for the default "message"
  std::string data;               // `data:` lines joined with '\n'
  std::string id;                 // the last event ID buffer when this event was dispatched
  std::uint64_t begin = 0;        // stream offset of the block's first byte
  std::uint64_t end = 0;          // stream offset just past the blank line that dispatched it
  std::uint64_t data_offset = 0;  // stream offset of the first `data:` line's value
  std::uint32_t data_lines = 0;   // `data:` lines in the block (1: `data` is verbatim there)
};

/// Incremental SSE parser (WHATWG "event stream interpretation"), pure: bytes in, events out.
/// Lines end with CRLF, LF or CR; a leading UTF-8 BOM is skipped; comments (`: ping`) and
/// unknown fields are ignored; `event`, `data` (multi-line), `id` (without NUL) and `retry`
/// (digits only) are read. The same events come out whatever the chunk boundaries, including
/// CR/LF pairs and the BOM split across chunks. It also reports where complete event blocks
/// end, so that a relay can forward the original bytes up to an event boundary, never half an
/// event.
class sse_parser {
 public:
  /// `max_event_bytes` bounds one event block (all its lines); a larger one is an error.
  explicit sse_parser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  /// Consumes `chunk`, appending every completed event to `out`. On success returns the offset
  /// in `chunk` just past the last blank line (end of an event block) seen in this chunk, or
  /// `std::string_view::npos` when no block ended here.
  result<std::size_t> feed(std::string_view chunk, std::vector<sse_event>& out);

  /// Bytes buffered since the last block boundary (a partial event).
  std::size_t pending_bytes() const noexcept { return block_bytes_; }
  /// Bytes consumed so far (the stream offset of the next chunk's first byte).
  std::uint64_t offset() const noexcept { return offset_; }
  /// The last valid `retry:` field, in milliseconds.
  std::optional<std::uint64_t> reconnection_time() const noexcept { return retry_; }

 private:
  result<void> line(std::string_view text, std::uint64_t line_begin, std::vector<sse_event>& out);
  error too_large() const;

  std::size_t max_event_bytes_;
  std::size_t block_bytes_ = 0;  // bytes since the last blank line
  std::uint64_t offset_ = 0;     // stream offset of the chunk being parsed
  std::uint64_t block_begin_ = 0;
  std::uint64_t partial_begin_ = 0;  // stream offset where `partial_` starts
  std::string partial_;              // a line that has not ended yet
  bool after_cr_ = false;            // previous chunk ended in '\r': a leading '\n' belongs to it
  bool first_line_ = true;           // a BOM is skipped on the stream's first line only
  sse_event current_;
  bool has_data_ = false;
  std::string last_id_;
  std::optional<std::uint64_t> retry_;
};

}  // namespace switchyard
