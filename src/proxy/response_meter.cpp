#include "switchyard/proxy/response_meter.hpp"

#include <cstring>

namespace switchyard {

namespace {

// Enough to hold `usage` with its details objects, which OpenAI sends last.
constexpr std::size_t tail_keep = 16 * 1024;

// End of the JSON object starting at `open` (a '{'), skipping braces inside strings; npos if the
// object is not complete in `text`.
std::size_t object_end(std::string_view text, std::size_t open) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

std::int64_t field_or_zero(simdjson::ondemand::object& obj, std::string_view key) {
  std::int64_t v = 0;
  if (obj.find_field_unordered(key).get_int64().get(v)) {
    return 0;
  }
  return v;
}

}  // namespace

std::optional<token_usage> find_usage(simdjson::ondemand::parser& parser, std::string_view json) {
  constexpr std::string_view key = "\"usage\"";
  std::size_t at = json.size();
  while (at > 0) {
    at = json.rfind(key, at - 1);
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    if (at > 0 && json[at - 1] == '\\') {
      continue;  // `\"usage\"` inside a string: generated text, not the field
    }
    std::size_t p = at + key.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\r' ||
                               json[p] == '\t' || json[p] == ':')) {
      ++p;
    }
    if (p >= json.size() || json[p] != '{') {
      return std::nullopt;  // `"usage": null` or truncated
    }
    std::size_t end = object_end(json, p);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    simdjson::padded_string object(json.substr(p, end - p));
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(object).get(doc) || doc.get_object().get(obj)) {
      return std::nullopt;
    }
    token_usage u;
    u.prompt_tokens = field_or_zero(obj, "prompt_tokens");
    u.completion_tokens = field_or_zero(obj, "completion_tokens");
    u.total_tokens = field_or_zero(obj, "total_tokens");
    if (u.total_tokens == 0) {
      u.total_tokens = u.prompt_tokens + u.completion_tokens;
    }
    return u;
  }
  return std::nullopt;
}

response_meter::response_meter(bool sse, std::size_t max_event_bytes)
    : sse_(sse), parser_(max_event_bytes) {}

result<void> response_meter::feed(std::string_view chunk, simdjson::ondemand::parser& parser) {
  if (!sse_) {
    ready_.append(chunk);  // (usage is only injected into streams)
    tail_.append(chunk.substr(chunk.size() > tail_keep ? chunk.size() - tail_keep : 0));
    if (tail_.size() > 2 * tail_keep) {
      tail_.erase(0, tail_.size() - tail_keep);
    }
    return {};
  }
  events_buffer_.clear();
  auto boundary = parser_.feed(chunk, events_buffer_);
  if (!boundary) {
    return boundary.error();
  }
  for (const auto& e : events_buffer_) {
    on_event(e, parser);
  }
  if (*boundary == std::string_view::npos) {
    held_.append(chunk);
    return {};
  }
  if (strip_usage_) {
    held_.append(chunk.substr(0, *boundary));
    append_ready(held_);
  } else {
    ready_.append(held_);
    ready_.append(chunk.substr(0, *boundary));
  }
  held_.assign(chunk.substr(*boundary));
  return {};
}

void response_meter::append_ready(std::string_view blocks) {
  strip_usage_events(blocks, ready_);
}

void strip_usage_events(std::string_view blocks, std::string& out) {
  while (!blocks.empty()) {
    // One block ends at a blank line ("\n\n", or "\r\n\r\n").
    std::size_t end = blocks.find("\n\n");
    std::size_t crlf = blocks.find("\r\n\r\n");
    std::size_t len = blocks.size();
    if (end != std::string_view::npos && (crlf == std::string_view::npos || end < crlf)) {
      len = end + 2;
    } else if (crlf != std::string_view::npos) {
      len = crlf + 4;
    }
    std::string_view block = blocks.substr(0, len);
    blocks.remove_prefix(len);
    if (block.find("\"choices\":[]") != std::string_view::npos &&
        block.find("\"usage\":{") != std::string_view::npos) {
      continue;  // the usage-only chunk
    }
    // A key's quote is never inside a string (there it is escaped), so these are real members.
    for (;;) {
      std::size_t at = block.find(",\"usage\":null");
      std::size_t skip = 13;
      if (at == std::string_view::npos) {
        at = block.find("\"usage\":null,");
        if (at == std::string_view::npos) {
          break;
        }
      }
      out.append(block.substr(0, at));
      block.remove_prefix(at + skip);
    }
    out.append(block);
  }
}

void response_meter::on_event(const sse_event& e, simdjson::ondemand::parser& parser) {
  ++events_;
  std::string_view data = e.data;
  if (data == "[DONE]") {
    saw_done_ = true;
    return;
  }
  // Cheap scans first: a full parse of every chunk would dominate the relay's cost.
  if (!saw_content_ && (data.find("\"content\":\"") != std::string_view::npos ||
                        data.find("\"text\":\"") != std::string_view::npos ||
                        data.find("\"tool_calls\"") != std::string_view::npos)) {
    bool empty_content = data.find("\"content\":\"\"") != std::string_view::npos &&
                         data.find("\"tool_calls\"") == std::string_view::npos;
    bool empty_text = data.find("\"text\":\"\"") != std::string_view::npos;
    saw_content_ = !(empty_content || empty_text);
  }
  if (data.find("\"usage\"") != std::string_view::npos) {
    if (auto u = find_usage(parser, data)) {
      usage_ = u;
    }
  }
}

void response_meter::finish(simdjson::ondemand::parser& parser) {
  if (!sse_ && !tail_.empty()) {
    usage_ = find_usage(parser, tail_);
  }
}

}  // namespace switchyard
