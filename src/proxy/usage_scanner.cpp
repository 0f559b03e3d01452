#include "switchyard/proxy/usage_scanner.hpp"

#include <algorithm>
#include <cstring>

namespace switchyard {

namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// A member name's raw bytes (between the quotes) equal "usage" once unescaped.
bool names_usage(std::string_view raw, std::size_t max_key_bytes) {
  if (raw == "usage") {
    return true;
  }
  if (raw.find('\\') == std::string_view::npos || raw.size() > max_key_bytes) {
    return false;
  }
  std::string quoted = "\"" + std::string(raw) + "\"";
  simdjson::padded_string padded(quoted);
  simdjson::ondemand::parser p;
  simdjson::ondemand::document doc;
  std::string_view s;
  return !p.iterate(padded).get(doc) && !doc.get_string().get(s) && s == "usage";
}

}  // namespace

void usage_scanner::key_append(const char* p, std::size_t n) noexcept {
  const std::size_t room = key_.size() - key_size_;
  const std::size_t take = n < room ? n : room;
  std::copy(p, p + take, key_.data() + key_size_);
  key_size_ += take;
}

// The captured value is complete: it becomes the found one (buffers swapped, not freed).
void usage_scanner::found_value() {
  found_->swap(*value_);
  value_->clear();
  found_->reserve(found_->size() + simdjson::SIMDJSON_PADDING);
  capture_ = capture::off;
}

void usage_scanner::feed(std::string_view chunk) {
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  while (p < end) {
    if (in_string_) {
      // Skip to the next quote or backslash: the bulk of a body is string contents.
      const char* stop = p;
      if (!escaped_) {
        const auto* quote =
            static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
        const char* limit = quote ? quote : end;
        const auto* backslash =
            static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(limit - p)));
        stop = backslash ? backslash : limit;
      }
      if (in_key_) {
        key_append(p, static_cast<std::size_t>(stop - p));
      }
      if (capture_ == capture::on) {
        value_->append(p, static_cast<std::size_t>(stop - p));
      }
      p = stop;
      if (p == end) {
        break;
      }
      const char c = *p++;
      if (capture_ == capture::on) {
        value_->push_back(c);
      }
      if (escaped_) {
        escaped_ = false;
        if (in_key_) {
          key_append(&c, 1);
        }
      } else if (c == '\\') {
        escaped_ = true;
        if (in_key_) {
          key_append(&c, 1);
        }
      } else {  // the closing quote
        in_string_ = false;
        if (in_key_) {
          in_key_ = false;
          after_key_ = true;
          key_is_usage_ = names_usage(std::string_view(key_.data(), key_size_), max_key_bytes);
        }
      }
      continue;
    }
    structural(*p++);
  }
  if (capture_ == capture::on && value_->size() > max_usage_bytes) {
    capture_ = capture::overflow;
    value_->clear();
  }
}

void usage_scanner::structural(char c) {
  if (is_space(c)) {
    if (capture_ == capture::on && depth_ > 1) {
      value_->push_back(c);
    }
    return;
  }
  if (capture_ == capture::waiting) {
    capture_ = capture::on;
    value_->clear();
  }
  const bool member_level = depth_ == 1;
  if (member_level && capture_ == capture::on && (c == ',' || c == '}')) {
    found_value();  // a scalar (`null`) ends here
  }
  if (capture_ == capture::on) {
    value_->push_back(c);
  }
  switch (c) {
    case '"':
      in_string_ = true;
      if (member_level && expect_key_) {
        expect_key_ = false;
        in_key_ = true;
        key_size_ = 0;
      }
      break;
    case '{':
    case '[':
      if (depth_ == 0 && c == '{') {
        expect_key_ = true;
      }
      ++depth_;
      break;
    case '}':
    case ']':
      --depth_;
      if (depth_ == 1 && capture_ == capture::on) {
        found_value();  // the usage object (or array) closed
      } else if (depth_ == 1 && capture_ == capture::overflow) {
        capture_ = capture::off;
      }
      break;
    case ':':
      if (member_level && after_key_) {
        after_key_ = false;
        if (key_is_usage_) {
          capture_ = capture::waiting;
        }
      }
      break;
    case ',':
      if (member_level) {
        expect_key_ = true;
        if (capture_ == capture::overflow) {
          capture_ = capture::off;
        }
      }
      break;
    default:
      break;
  }
}

std::optional<token_usage> usage_scanner::finish(simdjson::ondemand::parser& parser) const {
  return finish(parser, read_usage);
}

std::optional<token_usage> usage_scanner::finish(
    simdjson::ondemand::parser& parser, token_usage (*read)(simdjson::ondemand::object&)) const {
  const std::string& found = *found_;
  if (found.empty() || found.front() != '{') {
    return std::nullopt;
  }
  // In place: found_value() reserved the padding.
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(simdjson::padded_string_view(found.data(), found.size(), found.capacity()))
          .get(doc) ||
      doc.get_object().get(obj)) {
    return std::nullopt;
  }
  return read(obj);
}

}  // namespace switchyard
