#include "switchyard/jobs/multipart.hpp"

#include "switchyard/core/text.hpp"

#include <algorithm>
#include <vector>

namespace switchyard {

namespace {

constexpr bool is_tchar(char c) noexcept {  // RFC 9110 §5.6.2
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 §5.1.1 bchars (without the space, which may not end a boundary).
constexpr bool is_bchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

void skip_ows(std::string_view s, std::size_t& i) noexcept {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
    ++i;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) {
    if (ch >= 'A' && ch <= 'Z') {
      ch = static_cast<char>(ch - 'A' + 'a');
    }
  }
  return out;
}

struct parameter {
  std::string name;  // lower-cased
  std::string value;
};

// `type/subtype *( OWS ";" OWS name=value )` or a disposition `token *(...)`: the leading token
// (lower-cased) and the parameters, values unquoted (RFC 9110 §5.6.4 quoted-pair).
result<std::pair<std::string, std::vector<parameter>>> parse_parameters(std::string_view s) {
  std::size_t i = 0;
  skip_ows(s, i);
  const std::size_t start = i;
  while (i < s.size() && (is_tchar(s[i]) || s[i] == '/')) {
    ++i;
  }
  if (i == start) {
    return make_error(errc::invalid_request, "expected a token");
  }
  std::pair<std::string, std::vector<parameter>> out{lower(s.substr(start, i - start)), {}};
  for (;;) {
    skip_ows(s, i);
    if (i == s.size()) {
      return out;
    }
    if (s[i] != ';') {
      return make_error(errc::invalid_request, "expected `;` between parameters");
    }
    ++i;
    skip_ows(s, i);
    if (i == s.size()) {
      return out;  // a trailing `;` is tolerated, as browsers' parsers do
    }
    const std::size_t n0 = i;
    while (i < s.size() && is_tchar(s[i])) {
      ++i;
    }
    if (i == n0 || i == s.size() || s[i] != '=') {
      return make_error(errc::invalid_request, "expected name=value in a parameter");
    }
    parameter p{lower(s.substr(n0, i - n0)), {}};
    ++i;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < s.size()) {
          p.value.push_back(s[i++]);
          continue;
        }
        p.value.push_back(c);
      }
      if (!closed) {
        return make_error(errc::invalid_request, "unterminated quoted-string in a parameter");
      }
    } else {
      const std::size_t v0 = i;
      while (i < s.size() && is_tchar(s[i])) {
        ++i;
      }
      p.value = std::string(s.substr(v0, i - v0));
    }
    out.second.push_back(std::move(p));
  }
}

const parameter* find_param(const std::vector<parameter>& ps, std::string_view name) {
  auto it = std::find_if(ps.begin(), ps.end(), [&](const parameter& p) { return p.name == name; });
  return it == ps.end() ? nullptr : &*it;
}

// RFC 8187 ext-value `charset'lang'pct-encoded` (filename*), decoded as bytes.
std::string decode_ext_value(std::string_view v) {
  auto q1 = v.find('\'');
  auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) {
    return std::string(v);
  }
  std::string out;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  for (std::size_t i = q2 + 1; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2])));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

}  // namespace

result<std::string> multipart_boundary(std::string_view content_type) {
  auto parsed = parse_parameters(content_type);
  if (!parsed) {
    return make_error(errc::invalid_request,
                      "Content-Type is not a valid media type: " + parsed.error().message);
  }
  if (parsed->first != "multipart/form-data") {
    return make_error(
        errc::invalid_request,
        "Content-Type must be multipart/form-data (with a boundary), not `" + parsed->first + "`");
  }
  const auto* b = find_param(parsed->second, "boundary");
  if (!b || b->value.empty() || b->value.size() > 70 || b->value.back() == ' ' ||
      !std::all_of(b->value.begin(), b->value.end(), is_bchar)) {
    return make_error(errc::invalid_request,
                      "Content-Type multipart/form-data needs a boundary of 1 to 70 characters "
                      "(RFC 2046 §5.1.1)");
  }
  return b->value;
}

result<multipart_part_header> parse_part_headers(std::string_view block) {
  multipart_part_header h;
  bool disposition = false;
  // Unfold first (obsolete line folding, RFC 5322 §2.2.3), then one field per line.
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (i < block.size()) {
    auto eol = block.find("\r\n", i);
    auto line = block.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    i = eol == std::string_view::npos ? block.size() : eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (fields.empty()) {
        return make_error(errc::invalid_request, "a part's header block starts with whitespace");
      }
      fields.back().push_back(' ');
      fields.back().append(trim(line));
      continue;
    }
    fields.emplace_back(line);
  }
  for (const auto& f : fields) {
    auto colon = f.find(':');
    if (colon == std::string::npos || colon == 0 ||
        !std::all_of(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar)) {
      return make_error(errc::invalid_request, "a part has a malformed header line");
    }
    const auto name = lower(std::string_view(f).substr(0, colon));
    const auto value = trim(std::string_view(f).substr(colon + 1));
    if (name == "content-disposition") {
      auto p = parse_parameters(value);
      if (!p || p->first != "form-data") {
        return make_error(errc::invalid_request,
                          "a part's Content-Disposition must be `form-data; name=\"...\"`");
      }
      const auto* n = find_param(p->second, "name");
      if (!n) {
        return make_error(errc::invalid_request, "a part's Content-Disposition has no name");
      }
      h.name = n->value;
      if (const auto* fx = find_param(p->second, "filename*")) {
        h.filename = decode_ext_value(fx->value);
        h.has_filename = true;
      } else if (const auto* fn = find_param(p->second, "filename")) {
        h.filename = fn->value;
        h.has_filename = true;
      }
      disposition = true;
    } else if (name == "content-type") {
      h.content_type = std::string(value);
    }
    // Other fields (Content-Transfer-Encoding is deprecated by RFC 7578 §4.7) are ignored.
  }
  if (!disposition) {
    return make_error(errc::invalid_request, "a part has no Content-Disposition header");
  }
  return h;
}

multipart_reader::multipart_reader(std::string boundary, callbacks cb, multipart_limits limits)
    : delimiter_("\r\n--" + boundary), cb_(std::move(cb)), limits_(limits) {
  // The first delimiter may start the body without a CRLF before it: pretend there was one.
  buf_ = "\r\n";
}

result<void> multipart_reader::fail(std::string message) {
  state_ = state::failed;
  return make_error(errc::invalid_request, "multipart body: " + std::move(message));
}

result<void> multipart_reader::feed(std::string_view bytes) {
  if (state_ == state::failed) {
    return make_error(errc::invalid_request, "multipart body: reader already failed");
  }
  if (state_ == state::epilogue) {
    return {};  // the epilogue is ignored (RFC 2046 §5.1.1)
  }
  // Compact what was consumed before growing, so the buffer holds at most one piece plus a
  // delimiter's worth (or one header block).
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
  bool progress = true;
  while (progress && state_ != state::epilogue) {
    progress = false;
    if (auto r = step(progress); !r) {
      state_ = state::failed;
      return r;
    }
  }
  return {};
}

result<void> multipart_reader::step(bool& progress) {
  const std::string_view avail = std::string_view(buf_).substr(pos_);
  switch (state_) {
    case state::preamble: {
      auto at = avail.find(delimiter_);
      if (at == std::string_view::npos) {
        // Keep a possible partial delimiter at the end; the rest is preamble.
        const std::size_t keep = std::min(avail.size(), delimiter_.size() - 1);
        preamble_ += avail.size() - keep;
        pos_ += avail.size() - keep;
        if (preamble_ > limits_.max_preamble_bytes) {
          return fail("no boundary delimiter within the first " +
                      std::to_string(limits_.max_preamble_bytes) + " bytes");
        }
        return {};
      }
      pos_ += at + delimiter_.size();
      state_ = state::boundary_line;
      progress = true;
      return {};
    }
    case state::boundary_line: {
      if (avail.size() < 2) {
        return {};
      }
      if (avail.substr(0, 2) == "--") {
        pos_ = buf_.size();
        state_ = state::epilogue;
        progress = true;
        return {};
      }
      // Transport padding (LWSP) may follow the boundary before its CRLF.
      std::size_t i = 0;
      while (i < avail.size() && (avail[i] == ' ' || avail[i] == '\t')) {
        ++i;
      }
      if (avail.size() - i < 2) {
        if (i > 1024) {
          return fail("too much padding after a boundary");
        }
        return {};
      }
      if (avail.substr(i, 2) != "\r\n") {
        return fail("a boundary delimiter is not followed by CRLF");
      }
      if (++parts_ > limits_.max_parts) {
        return fail("more than " + std::to_string(limits_.max_parts) + " parts");
      }
      pos_ += i + 2;
      state_ = state::headers;
      progress = true;
      return {};
    }
    case state::headers: {
      std::size_t end = std::string_view::npos, skip = 0;
      if (avail.substr(0, 2) == "\r\n") {
        end = 0;  // no header fields at all
        skip = 2;
      } else if (auto at = avail.find("\r\n\r\n"); at != std::string_view::npos) {
        end = at;
        skip = at + 4;
      }
      if (end == std::string_view::npos) {
        if (avail.size() > limits_.max_header_bytes) {
          return fail("a part's headers exceed " + std::to_string(limits_.max_header_bytes) +
                      " bytes");
        }
        return {};
      }
      if (end > limits_.max_header_bytes) {
        return fail("a part's headers exceed " + std::to_string(limits_.max_header_bytes) +
                    " bytes");
      }
      auto h = parse_part_headers(avail.substr(0, end));
      if (!h) {
        return fail(h.error().message);
      }
      pos_ += skip;
      state_ = state::body;
      progress = true;
      if (cb_.on_part) {
        return cb_.on_part(*h);
      }
      return {};
    }
    case state::body: {
      auto at = avail.find(delimiter_);
      if (at == std::string_view::npos) {
        const std::size_t keep = std::min(avail.size(), delimiter_.size() - 1);
        const std::size_t n = avail.size() - keep;
        if (n > 0) {
          pos_ += n;
          if (cb_.on_data) {
            return cb_.on_data(avail.substr(0, n));
          }
        }
        return {};
      }
      pos_ += at + delimiter_.size();
      state_ = state::boundary_line;
      progress = true;
      if (at > 0 && cb_.on_data) {
        if (auto r = cb_.on_data(avail.substr(0, at)); !r) {
          return r;
        }
      }
      if (cb_.on_part_end) {
        return cb_.on_part_end();
      }
      return {};
    }
    case state::epilogue:
    case state::failed:
      return {};
  }
  return {};
}

result<void> multipart_reader::finish() {
  if (state_ == state::epilogue) {
    return {};
  }
  if (state_ == state::failed) {
    return make_error(errc::invalid_request, "multipart body: reader already failed");
  }
  state_ = state::failed;
  return make_error(errc::invalid_request,
                    "multipart body: it ended before the closing boundary delimiter");
}

}  // namespace switchyard
