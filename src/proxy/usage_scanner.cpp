#include "switchyard/proxy/usage_scanner.hpp"

#include <cstring>

namespace switchyard {

namespace {

constexpr std::size_t max_key_bytes = 64;

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// A member name's raw bytes (between the quotes) equal "usage" once unescaped.
bool names_usage(std::string_view raw) {
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
      if (in_key_ && key_.size() <= max_key_bytes) {
        key_.append(p, static_cast<std::size_t>(std::min<std::ptrdiff_t>(
                           stop - p, static_cast<std::ptrdiff_t>(max_key_bytes + 1))));
      }
      if (capture_ == capture::on) {
        value_.append(p, static_cast<std::size_t>(stop - p));
      }
      p = stop;
      if (p == end) {
        break;
      }
      const char c = *p++;
      if (capture_ == capture::on) {
        value_.push_back(c);
      }
      if (escaped_) {
        escaped_ = false;
        if (in_key_ && key_.size() <= max_key_bytes) {
          key_.push_back(c);
        }
      } else if (c == '\\') {
        escaped_ = true;
        if (in_key_ && key_.size() <= max_key_bytes) {
          key_.push_back(c);
        }
      } else {  // the closing quote
        in_string_ = false;
        if (in_key_) {
          in_key_ = false;
          after_key_ = true;
          key_is_usage_ = names_usage(key_);
        }
      }
      continue;
    }
    structural(*p++);
  }
  if (capture_ == capture::on && value_.size() > max_usage_bytes) {
    capture_ = capture::overflow;
    value_.clear();
  }
}

void usage_scanner::structural(char c) {
  if (is_space(c)) {
    if (capture_ == capture::on && depth_ > 1) {
      value_.push_back(c);
    }
    return;
  }
  if (capture_ == capture::waiting) {
    capture_ = capture::on;
    value_.clear();
  }
  const bool member_level = depth_ == 1;
  if (member_level && capture_ == capture::on && (c == ',' || c == '}')) {
    found_ = std::move(value_);  // a scalar (`null`) ends here
    value_.clear();
    capture_ = capture::off;
  }
  if (capture_ == capture::on) {
    value_.push_back(c);
  }
  switch (c) {
    case '"':
      in_string_ = true;
      if (member_level && expect_key_) {
        expect_key_ = false;
        in_key_ = true;
        key_.clear();
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
        found_ = std::move(value_);  // the usage object (or array) closed
        value_.clear();
        capture_ = capture::off;
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
  if (found_.empty() || found_.front() != '{') {
    return std::nullopt;
  }
  simdjson::padded_string padded(found_);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) {
    return std::nullopt;
  }
  return read_usage(obj);
}

}  // namespace switchyard
