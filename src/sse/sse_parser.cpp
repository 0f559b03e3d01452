#include "switchyard/sse/sse_parser.hpp"

namespace switchyard {

namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

}  // namespace

error sse_parser::too_large() const {
  return make_error(errc::upstream_broken, "upstream sent an SSE event larger than " +
                                               std::to_string(max_event_bytes_) + " bytes");
}

result<std::size_t> sse_parser::feed(std::string_view chunk, std::vector<sse_event>& out) {
  std::size_t boundary = std::string_view::npos;
  if (chunk.empty()) {
    return boundary;  // and keep after_cr_: the LF may still come
  }
  const std::uint64_t base = offset_;
  std::size_t pos = 0;
  if (after_cr_ && chunk.front() == '\n') {
    pos = 1;  // the LF of a CRLF whose CR ended the previous chunk
    if (block_bytes_ == 0 && block_begin_ == base) {
      block_begin_ = base + 1;  // the CR closed a block: its LF is not the next block's
    } else {
      ++block_bytes_;
    }
  }
  after_cr_ = false;
  while (pos < chunk.size()) {
    std::size_t eol = chunk.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (partial_.empty()) {
        partial_begin_ = base + pos;
      }
      partial_.append(chunk.substr(pos));
      block_bytes_ += chunk.size() - pos;
      if (block_bytes_ > max_event_bytes_) {
        return too_large();
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
      return too_large();
    }
    std::string_view text = chunk.substr(pos, eol - pos);
    const bool blank = partial_.empty() && text.empty();
    offset_ = base + next;  // the block's end, should this line dispatch it
    result<void> r;
    if (partial_.empty()) {
      r = line(text, base + pos, out);
    } else {
      partial_.append(text);
      r = line(partial_, partial_begin_, out);
      partial_.clear();
    }
    if (!r) {
      return r.error();
    }
    pos = next;
    if (blank) {
      boundary = pos;
      block_bytes_ = 0;
      block_begin_ = base + pos;
    }
  }
  offset_ = base + chunk.size();
  return boundary;
}

result<void> sse_parser::line(std::string_view text, std::uint64_t line_begin,
                              std::vector<sse_event>& out) {
  if (first_line_) {
    first_line_ = false;
    if (text.substr(0, bom.size()) == bom) {
      text.remove_prefix(bom.size());
      line_begin += bom.size();
    }
  }
  if (text.empty()) {  // dispatch
    if (has_data_) {
      current_.id = last_id_;
      current_.begin = block_begin_;
      current_.end = offset_;
      if (current_.data.capacity() < current_.data.size() + sse_event::padding) {
        current_.data.reserve(current_.data.size() + sse_event::padding);
      }
      out.push_back(std::move(current_));
    }
    current_ = sse_event{};
    has_data_ = false;
    return {};
  }
  if (text.front() == ':') {
    return {};  // comment, e.g. a keep-alive: forwarded with the bytes, never an event
  }
  std::string_view field = text;
  std::string_view value;
  std::size_t value_at = text.size();
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value_at = colon + 1;
    if (value_at < text.size() && text[value_at] == ' ') {
      ++value_at;
    }
    value = text.substr(value_at);
  }
  if (field == "data") {
    if (has_data_) {
      current_.data.push_back('\n');
    } else {
      current_.data_offset = line_begin + value_at;
      current_.data.reserve(value.size() + sse_event::padding);  // one allocation per event
    }
    current_.data.append(value);
    ++current_.data_lines;
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_id_.assign(value);
    }
  } else if (field == "retry") {
    std::uint64_t ms = 0;
    bool digits = !value.empty() && value.size() <= 18;
    for (char c : value) {
      digits = digits && c >= '0' && c <= '9';
      ms = ms * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (digits) {
      retry_ = ms;
    }
  }
  // Unknown fields are ignored, as the spec says.
  return {};
}

}  // namespace switchyard
