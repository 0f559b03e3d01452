#include "switchyard/jobs/batch_line.hpp"

#include <boost/json.hpp>

namespace switchyard {

namespace json = boost::json;

bool valid_batch_endpoint(std::string_view e) noexcept {
  return e == "/v1/chat/completions" || e == "/v1/completions" || e == "/v1/embeddings" ||
         e == "/v1/responses";
}

boost::system::result<batch_line, batch_line_error> validate_batch_line(std::string_view line,
                                                                        std::string_view endpoint) {
  // A trailing CR (a file written with CRLF line ends) is part of the line ending, not the JSON.
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  json::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) {
    return batch_line_error{"invalid_json_line",
                            "This line is not parseable as valid JSON (a JSON object per line).",
                            ""};
  }
  const auto& o = v.as_object();
  const auto missing = [](const char* p, const char* what) {
    return batch_line_error{"missing_required_parameter",
                            std::string("Missing required parameter: '") + p + "' (" + what + ").",
                            p};
  };
  const auto* cid = o.if_contains("custom_id");
  if (!cid) {
    return missing("custom_id", "a string unique within the batch");
  }
  if (!cid->is_string() || cid->as_string().empty() ||
      cid->as_string().size() > max_custom_id_bytes) {
    return batch_line_error{
        "invalid_value", "custom_id must be a non-empty string of at most 512 bytes.", "custom_id"};
  }
  const auto* method = o.if_contains("method");
  if (!method) {
    return missing("method", "POST");
  }
  if (!method->is_string() || method->as_string() != "POST") {
    return batch_line_error{"invalid_method", "The method must be POST.", "method"};
  }
  const auto* url = o.if_contains("url");
  if (!url) {
    return missing("url", "the batch endpoint");
  }
  if (!url->is_string() || url->as_string() != endpoint) {
    return batch_line_error{
        "invalid_url",
        "The URL provided for this request does not match the batch endpoint `" +
            std::string(endpoint) + "`.",
        "url"};
  }
  const auto* body = o.if_contains("body");
  if (!body) {
    return missing("body", "the request object");
  }
  if (!body->is_object()) {
    return batch_line_error{"invalid_value", "body must be a JSON object.", "body"};
  }
  const auto& b = body->as_object();
  const auto* model = b.if_contains("model");
  if (!model || !model->is_string() || model->as_string().empty()) {
    return batch_line_error{"missing_required_parameter",
                            "Missing required parameter: 'body.model'.", "body.model"};
  }
  if (const auto* s = b.if_contains("stream"); s && s->is_bool() && s->as_bool()) {
    return batch_line_error{"invalid_value", "Streaming is not supported in a batch.",
                            "body.stream"};
  }
  return batch_line{std::string(cid->as_string()), std::string(url->as_string()),
                    json::serialize(*body), std::string(model->as_string())};
}

std::string batch_output_line(std::string_view id, std::string_view custom_id, unsigned status_code,
                              std::string_view request_id, std::string_view body) {
  json::error_code ec;
  json::value parsed = json::parse(body, ec);
  json::object response{{"status_code", status_code},
                        {"request_id", request_id},
                        {"body", ec ? json::value(json::string(body)) : std::move(parsed)}};
  return json::serialize(json::object{
      {"id", id}, {"custom_id", custom_id}, {"response", std::move(response)}, {"error", nullptr}});
}

std::string batch_error_line(std::string_view id, std::string_view custom_id, std::string_view code,
                             std::string_view message) {
  return json::serialize(json::object{{"id", id},
                                      {"custom_id", custom_id},
                                      {"response", nullptr},
                                      {"error", {{"code", code}, {"message", message}}}});
}

batch_usage usage_of(std::string_view body) {
  batch_usage u;
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return u;
  }
  const auto* usage = v.as_object().if_contains("usage");
  if (!usage || !usage->is_object()) {
    return u;
  }
  const auto& o = usage->as_object();
  const auto get = [&](const char* k) -> std::uint64_t {
    const auto* x = o.if_contains(k);
    if (x && x->is_int64() && x->as_int64() >= 0) {
      return static_cast<std::uint64_t>(x->as_int64());
    }
    if (x && x->is_uint64()) {
      return x->as_uint64();
    }
    return 0;
  };
  u.input_tokens = get("prompt_tokens") + get("input_tokens");
  u.output_tokens = get("completion_tokens") + get("output_tokens");
  return u;
}

}  // namespace switchyard
