// Header side of the mock protocol: fault and override headers, OpenAI-shaped errors (built
// with Boost.JSON, so that messages are escaped correctly).

#include "mock_protocol.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

namespace switchyard::mock {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::uint64_t> to_uint(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// retry-after values are copied into a header, so only digits and a dot may pass.
bool is_retry_value(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

api_error bad_fault(std::string_view value) {
  std::string message = "mock: cannot parse x-mock-fault '";
  message.append(value).append("'");
  return make_error(400, message, "invalid_request_error", "x-mock-fault", "mock_bad_fault");
}

}  // namespace

api_error make_error(unsigned status, std::string_view message, std::string_view type,
                     std::string_view param, std::string_view code) {
  const auto string_or_null = [](std::string_view s) {
    return s.empty() ? boost::json::value(nullptr)
                     : boost::json::value(boost::json::string_view(s.data(), s.size()));
  };
  boost::json::object error;
  error["message"] = boost::json::string_view(message.data(), message.size());
  error["type"] = boost::json::string_view(type.data(), type.size());
  error["param"] = string_or_null(param);
  error["code"] = string_or_null(code);
  boost::json::object root;
  root["error"] = std::move(error);
  return {status, boost::json::serialize(root)};
}

result<fault> parse_fault(std::string_view value) {
  const std::string_view whole = trim(value);
  fault f;
  if (whole.empty()) {
    return f;
  }
  std::string_view rest = whole;
  bool first = true;
  while (!rest.empty() || first) {
    const auto semi = rest.find(';');
    const std::string_view part = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    const auto eq = part.find('=');
    const std::string_view key = trim(part.substr(0, eq));
    const std::string_view arg = eq == std::string_view::npos ? "" : trim(part.substr(eq + 1));
    if (first) {
      first = false;
      if (key == "reset" && eq == std::string_view::npos) {
        f.what = fault::kind::reset;
      } else if (key == "stall" && eq == std::string_view::npos) {
        f.what = fault::kind::stall;
      } else if (key == "status" && to_uint(arg) && *to_uint(arg) >= 400 && *to_uint(arg) <= 599) {
        f.what = fault::kind::status;
        f.status = static_cast<unsigned>(*to_uint(arg));
      } else if ((key == "cut_after" || key == "stall_after") && to_uint(arg)) {
        f.what = key == "cut_after" ? fault::kind::cut_after : fault::kind::stall_after;
        f.after = *to_uint(arg);
      } else {
        return bad_fault(whole);
      }
    } else if (key == "times" && to_uint(arg) && *to_uint(arg) > 0) {
      f.times = *to_uint(arg);
    } else if (f.what == fault::kind::status && key == "retry_after" && is_retry_value(arg)) {
      f.retry_after.assign(arg);
    } else if (f.what == fault::kind::status && key == "retry_after_ms" && is_retry_value(arg)) {
      f.retry_after_ms.assign(arg);
    } else {
      return bad_fault(whole);
    }
  }
  return f;
}

api_error fault_error(unsigned status) {
  if (status == 429) {
    return make_error(status, "Rate limit reached for requests (mock fault).", "requests", {},
                      "rate_limit_exceeded");
  }
  if (status >= 500) {
    return make_error(status, "The server had an error while processing your request (mock fault).",
                      "server_error");
  }
  return make_error(status, "mock fault: status " + std::to_string(status),
                    "invalid_request_error");
}

result<std::optional<std::uint64_t>> parse_count_header(std::string_view name,
                                                        std::string_view value, std::uint64_t max) {
  value = trim(value);
  if (value.empty()) {
    return std::optional<std::uint64_t>{};
  }
  const auto n = to_uint(value);
  if (!n || *n > max) {
    std::string message = "mock: header ";
    message.append(name)
        .append(" must be an integer in [0, ")
        .append(std::to_string(max))
        .append("]");
    return make_error(400, message, "invalid_request_error", name, "mock_bad_header");
  }
  return std::optional<std::uint64_t>{*n};
}

api_error model_not_found(std::string_view model) {
  std::string message = "The model `";
  message.append(model).append("` does not exist");
  return make_error(404, message, "invalid_request_error", "model", "model_not_found");
}

std::uint64_t estimate_prompt_tokens(std::size_t body_bytes) {
  return std::max<std::uint64_t>(body_bytes / 4, 1);
}

}  // namespace switchyard::mock
