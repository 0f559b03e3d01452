#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// One server-sent event as the WHATWG algorithm dispatches it.
struct sse_event {
  std::string event;  // the `event:` field, "" for the default "message"
  std::string data;   // `data:` lines joined with '\n'
  std::string id;
};

/// Incremental SSE parser (WHATWG "event stream interpretation"), pure: bytes in, events out.
/// The same events come out whatever the chunk boundaries, including CR/LF pairs split across
/// chunks. It also reports where complete event blocks end, so that a relay can forward the
/// original bytes up to an event boundary and never a half event.
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

 private:
  void line(std::string_view text, std::vector<sse_event>& out);

  std::size_t max_event_bytes_;
  std::size_t block_bytes_ = 0;  // bytes since the last blank line
  std::string partial_;          // a line that has not ended yet
  bool after_cr_ = false;        // previous chunk ended in '\r': a leading '\n' belongs to it
  sse_event current_;
  bool has_data_ = false;
};

}  // namespace switchyard
