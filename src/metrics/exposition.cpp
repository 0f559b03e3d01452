#include "switchyard/metrics/exposition.hpp"

#include "switchyard/core/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace switchyard::metrics {

namespace {

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Length of the valid UTF-8 sequence starting at `s[i]`, 0 when it is not one (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    return 1;
  }
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;
    hi = b0 == 0xED ? 0x9F : 0xBF;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
      return 0;
    }
  }
  return n;
}

void append_chars(std::string& out, double value, std::chars_format fmt) {
  std::array<char, 32> buf{};  // the longest shortest-form double is 24 characters
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value, fmt);
  out.append(buf.data(), r.ptr);
}

bool append_special(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    return false;
  }
  return true;
}


bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// The q-value of one media range's parameters ("; version=1.0.0; q=0.5"): 1 when absent, 0 when
// malformed (a range we cannot read is not a preference).
double q_value(std::string_view params) noexcept {
  while (!params.empty()) {
    const auto semi = params.find(';');
    const std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      double q = 0;
      const auto text = param.substr(2);
      const auto r = std::from_chars(text.data(), text.data() + text.size(), q);
      return r.ec == std::errc{} && r.ptr == text.data() + text.size() ? q : 0.0;
    }
  }
  return 1.0;
}

}  // namespace

std::optional<metric_type> parse_metric_type(std::string_view text) noexcept {
  if (text == "counter") {
    return metric_type::counter;
  }
  if (text == "gauge") {
    return metric_type::gauge;
  }
  if (text == "histogram") {
    return metric_type::histogram;
  }
  if (text == "summary") {
    return metric_type::summary;
  }
  if (text == "untyped" || text == "unknown") {
    return metric_type::untyped;
  }
  return std::nullopt;
}

std::string_view type_name(metric_type type, bool openmetrics) noexcept {
  switch (type) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
    case metric_type::summary:
      return "summary";
    case metric_type::untyped:
      break;
  }
  return openmetrics ? "unknown" : "untyped";
}

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || is_digit(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '_' && c != ':') {
      return false;
    }
  }
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || is_digit(name[0]) || name.starts_with("__")) {
    return false;
  }
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

void validate_family(std::string_view name, metric_type type, std::span<const std::string> labels) {
  const auto reject = [&](std::string_view why) {
    throw std::invalid_argument("metrics: " + std::string(name) + ": " + std::string(why));
  };
  if (!valid_metric_name(name)) {
    reject("invalid metric name");
  }
  if (type == metric_type::counter && (!name.ends_with("_total") || name.size() == 6)) {
    reject("a counter's name ends in _total");
  }
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (!valid_label_name(*it) || (type == metric_type::histogram && *it == "le") ||
        (type == metric_type::summary && *it == "quantile")) {
      reject("invalid label name '" + *it + "'");
    }
    if (std::find(labels.begin(), it, *it) != it) {
      reject("repeated label name '" + *it + "'");
    }
  }
}

std::vector<std::string> exposed_names(std::string_view name, metric_type type) {
  std::vector<std::string> names{std::string(name)};
  if (type == metric_type::counter && name.ends_with("_total")) {
    names.emplace_back(name.substr(0, name.size() - 6));
  }
  if (type == metric_type::histogram) {
    names.push_back(names[0] + "_bucket");
  }
  if (type == metric_type::histogram || type == metric_type::summary) {
    names.push_back(names[0] + "_sum");
    names.push_back(names[0] + "_count");
  }
  return names;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, for one offending byte
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_labels(std::string& out, std::span<const std::string> names,
                   std::span<const std::string_view> values) {
  for (std::size_t i = 0; i < values.size() && i < names.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += names[i];
    out += "=\"";
    append_label_value(out, sanitize_utf8(values[i]));
    out += '"';
  }
}

void append_help(std::string& out, std::string_view help, bool openmetrics) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && openmetrics) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double value) {
  if (append_special(out, value)) {
    return;
  }
  // 2^63: every integral double below it converts to int64 exactly.
  constexpr double int_limit = 9223372036854775808.0;
  if (std::trunc(value) == value && std::fabs(value) < int_limit) {
    std::array<char, 24> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<std::int64_t>(value));
    out.append(buf.data(), r.ptr);
    return;
  }
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), r.ptr);
}

void append_number(std::string& out, std::uint64_t value) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), r.ptr);
}

std::string format_number(double value) {
  std::string out;
  append_number(out, value);
  return out;
}

std::string format_le(double bound, bool openmetrics) {
  std::string out;
  if (append_special(out, bound)) {
    return out;
  }
  // Go's strconv 'g' with shortest digits switches to an exponent when the decimal exponent is
  // below -4 or at least 6 (its fixed "eprec" for shortest output).
  std::string sci;
  append_chars(sci, bound, std::chars_format::scientific);
  const auto e = sci.find('e');
  int exponent = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  if (exponent < -4 || exponent >= 6) {
    return sci;
  }
  append_chars(out, bound, std::chars_format::fixed);
  if (openmetrics && out.find('.') == std::string::npos) {
    out += ".0";
  }
  return out;
}

void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          metric_type type, bool openmetrics) {
  if (openmetrics && type == metric_type::counter && name.ends_with("_total")) {
    name.remove_suffix(6);
  }
  const auto type_line = [&] {
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += type_name(type, openmetrics);
    out += '\n';
  };
  if (openmetrics) {
    type_line();
  }
  if (!help.empty()) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_help(out, help, openmetrics);
    out += '\n';
  }
  if (!openmetrics) {
    type_line();
  }
}

void append_sample(std::string& out, std::string_view name, std::span<const label> labels,
                   double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      out += labels[i].name;
      out += "=\"";
      append_label_value(out, labels[i].value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

std::string_view content_type(bool openmetrics) noexcept {
  return openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                     : "text/plain; version=0.0.4; charset=utf-8";
}

bool wants_openmetrics(std::string_view accept) noexcept {
  double om_q = 0;
  double text_q = 0;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    const std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const auto semi = range.find(';');
    const std::string_view type = trim(range.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1.0 : q_value(range.substr(semi + 1));
    if (iequals(type, "application/openmetrics-text")) {
      om_q = std::max(om_q, q);
    } else if (iequals(type, "text/plain") || iequals(type, "text/*") || type == "*/*") {
      text_q = std::max(text_q, q);
    }
  }
  return om_q > 0 && om_q >= text_q;
}

}  // namespace switchyard::metrics
