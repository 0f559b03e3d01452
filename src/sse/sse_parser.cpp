#include "switchyard/sse/sse_parser.hpp"

namespace switchyard {

result<std::size_t> sse_parser::feed(std::string_view chunk, std::vector<sse_event>& out) {
  std::size_t boundary = std::string_view::npos;
  if (chunk.empty()) {
    return boundary;  // and keep after_cr_: the LF may still come
  }
  std::size_t pos = 0;
  if (after_cr_ && !chunk.empty() && chunk.front() == '\n') {
    pos = 1;  // the LF of a CRLF whose CR ended the previous chunk
    ++block_bytes_;
  }
  after_cr_ = false;
  while (pos < chunk.size()) {
    std::size_t eol = chunk.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) {
      partial_.append(chunk.substr(pos));
      block_bytes_ += chunk.size() - pos;
      if (block_bytes_ > max_event_bytes_) {
        return make_error(errc::upstream_broken, "upstream sent an SSE event larger than " +
                                                     std::to_string(max_event_bytes_) + " bytes");
      }
      break;
    }
    std::size_t next = eol + 1;
    if (chunk[eol] == '\r') {
      if (next < chunk.size()) {
        if (chunk[next] == '\n') {
          ++next;
        }
      } else {
        after_cr_ = true;
      }
    }
    block_bytes_ += next - pos;
    if (block_bytes_ > max_event_bytes_) {
      return make_error(errc::upstream_broken, "upstream sent an SSE event larger than " +
                                                   std::to_string(max_event_bytes_) + " bytes");
    }
    std::string_view text = chunk.substr(pos, eol - pos);
    bool blank = partial_.empty() && text.empty();
    if (partial_.empty()) {
      line(text, out);
    } else {
      partial_.append(text);
      line(partial_, out);
      partial_.clear();
    }
    pos = next;
    if (blank) {
      boundary = pos;
      block_bytes_ = 0;
    }
  }
  return boundary;
}

void sse_parser::line(std::string_view text, std::vector<sse_event>& out) {
  if (text.empty()) {  // dispatch
    if (has_data_) {
      out.push_back(std::move(current_));
    }
    current_ = sse_event{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') {
    return;  // comment, e.g. a keep-alive
  }
  std::string_view field = text;
  std::string_view value;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    if (has_data_) {
      current_.data.push_back('\n');
    }
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    current_.id.assign(value);
  }
  // `retry` and unknown fields are ignored, as the spec says.
}

}  // namespace switchyard
