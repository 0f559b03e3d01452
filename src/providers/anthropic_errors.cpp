#include "switchyard/providers/anthropic_errors.hpp"

#include "json_detail.hpp"

#include <boost/json.hpp>

#include <array>

namespace switchyard {

namespace {

namespace json = boost::json;
using namespace providers_detail;

struct row {
  std::string_view anthropic_type;
  openai_error_kind kind;
};

constexpr std::array<row, 10> rows{{
    {"invalid_request_error", {400, "invalid_request_error", false}},
    {"authentication_error", {401, "invalid_request_error", false}},
    {"permission_error", {403, "invalid_request_error", false}},
    {"not_found_error", {404, "invalid_request_error", false}},
    {"request_too_large", {413, "invalid_request_error", false}},
    {"billing_error", {402, "insufficient_quota", false}},
    {"rate_limit_error", {429, "requests", true}},
    {"api_error", {500, "server_error", true}},
    {"timeout_error", {504, "timeout", true}},
    {"overloaded_error", {503, "server_error", true}},
}};

openai_error_kind by_status(unsigned status) noexcept {
  if (status < 400 || status > 599) {
    status = 502;  // an "error" that is not an error status: the upstream misbehaved
  }
  const bool retry = status >= 500 || status == 429 || status == 408;
  return {status, status >= 500 ? "server_error" : "invalid_request_error", retry};
}

}  // namespace

openai_error_kind openai_error_for(std::string_view anthropic_type, unsigned status) noexcept {
  for (const auto& r : rows) {
    if (r.anthropic_type == anthropic_type) {
      openai_error_kind k = r.kind;
      // Anthropic uses invalid_request_error "for other 4XX status codes" too: keep those.
      if (anthropic_type == "invalid_request_error" && status >= 400 && status < 500) {
        k.status = status;
      }
      return k;
    }
  }
  return by_status(status == 0 ? 502 : status);
}

std::string openai_error_json(std::string_view anthropic_type, std::string_view message,
                              unsigned status) {
  const openai_error_kind k = openai_error_for(anthropic_type, status);
  json::object inner;
  inner["message"] = message;
  inner["type"] = k.type;
  inner["param"] = nullptr;
  inner["code"] = anthropic_type.empty() ? json::value(nullptr) : json::value(anthropic_type);
  json::object outer;
  outer["error"] = std::move(inner);
  return json::serialize(outer);
}

mapped_error map_anthropic_error(unsigned status, std::string_view body) {
  mapped_error m;
  std::string message;
  if (auto v = parse_json(body); v && v->is_object()) {
    const auto* e = v->get_object().if_contains("error");
    if (e != nullptr && e->is_object()) {
      m.anthropic_type = string_at(e->get_object(), "type");
      message = string_at(e->get_object(), "message");
    }
  }
  const openai_error_kind k = openai_error_for(m.anthropic_type, status);
  m.status = k.status;
  m.retryable = k.retryable;
  if (message.empty()) {
    message = "upstream answered " + std::to_string(status);
  }
  m.body = openai_error_json(m.anthropic_type, message, k.status);
  return m;
}

std::string_view anthropic_error_type(const error& e) noexcept {
  const unsigned status =
      e.code == errc::upstream_status ? e.status : static_cast<unsigned>(describe(e.code).status);
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
  }
}

std::string anthropic_error_body(const error& e, std::string_view request_id) {
  json::object inner;
  inner["type"] = anthropic_error_type(e);
  inner["message"] = e.message;
  json::object outer;
  outer["type"] = "error";
  outer["error"] = std::move(inner);
  if (!request_id.empty()) {
    outer["request_id"] = request_id;
  }
  return json::serialize(outer);
}

std::string anthropic_error_event(const error& e) {
  return "event: error\ndata: " + anthropic_error_body(e) + "\n\n";
}

}  // namespace switchyard
