#include "batch_client.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace switchyard::test {

namespace json = boost::json;

namespace {

// The fake's answer to one request, counted in `u`.
scripted_reply count_and_answer(counting_upstream& u, const http::request<http::string_body>& req) {
  std::string id;
  json::error_code ec;
  auto v = json::parse(req.body(), ec);
  if (!ec && v.is_object()) {
    if (const auto* msgs = v.as_object().if_contains("messages");
        msgs && msgs->is_array() && !msgs->as_array().empty()) {
      if (const auto* c = msgs->as_array().front().as_object().if_contains("content");
          c && c->is_string()) {
        id = std::string(c->as_string());
      }
    }
  }
  {
    std::lock_guard lock(u.m);
    ++u.calls[id];
  }
  ++u.total;
  if (u.delay.count() > 0) {
    std::this_thread::sleep_for(u.delay);
  }
  const bool bad = id.rfind("bad", 0) == 0;
  const std::string body =
      bad ? R"({"error":{"message":"nope","type":"invalid_request_error","param":null,"code":null}})"
          : json::serialize(json::object{
                {"id", "chatcmpl-" + id},
                {"object", "chat.completion"},
                {"created", 1},
                {"model", "up-model"},
                {"choices",
                 {{{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", "echo " + id}}},
                   {"finish_reason", "stop"}}}},
                {"usage",
                 {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}}});
  return scripted_reply{{std::string(bad ? "HTTP/1.1 400 Bad Request\r\n" : "HTTP/1.1 200 OK\r\n") +
                         "Content-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body}};
}

}  // namespace

counting_upstream::counting_upstream()
    : fake([this](const http::request<http::string_body>& req, int) {
        return count_and_answer(*this, req);
      }) {}

int counting_upstream::calls_of(const std::string& id) {
  std::lock_guard lock(m);
  auto it = calls.find(id);
  return it == calls.end() ? 0 : it->second;
}

std::string batch_gateway_yaml(std::uint16_t upstream_port, const std::string& data_dir,
                               const std::string& extra) {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + data_dir +
         "\nlimits: { max_body_bytes: 134217728 }\n"
         "upstreams:\n  - { name: up, base_url: \"http://127.0.0.1:" +
         std::to_string(upstream_port) +
         "/v1\", api_key: sk-upstream }\n"
         "models:\n  - { name: gpt-4o-mini, upstream: up, model: up-model, price: { "
         "input_per_mtok: 1.0, output_per_mtok: 2.0 } }\n"
         "  - { name: other-model, upstream: up }\n"
         "retry: { max_attempts: 1 }\n"
         "log: { level: off, access: off }\n"
         "batches: { concurrency: 4, poll_interval: 20ms, retry_base: 10ms, retry_cap: "
         "200ms }\n" +
         extra;
}

gateway::gateway(const std::string& yaml) {
  auto parsed = parse_config(yaml);
  if (!parsed) {
    throw std::runtime_error(parsed.error().message);
  }
  parsed->timeouts.drain_grace = duration{0};
  cfg = std::make_shared<const config>(std::move(*parsed));
  srv = std::make_unique<server>(cfg);
  srv->start();
}

gateway::~gateway() {
  stop(5s);
}

void gateway::stop(std::chrono::milliseconds budget) {
  if (srv) {
    srv->drain();
    srv->wait(steady_clock::now() + budget);
    srv.reset();
  }
}

std::string line(const std::string& custom_id, const std::string& model, const std::string& url) {
  return json::serialize(json::object{
      {"custom_id", custom_id},
      {"method", "POST"},
      {"url", url},
      {"body", {{"model", model}, {"messages", {{{"role", "user"}, {"content", custom_id}}}}}}});
}

// The multipart body undici's FormData writes (what the openai npm SDK sends).
std::string multipart(const std::string& boundary, const std::string& file,
                      const std::string& purpose) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" +
         purpose + "\r\n--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"input.jsonl\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n" +
         file + "\r\n--" + boundary + "--\r\n";
}

json::object parse_object(const response& r) {
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v.is_object() ? v.as_object() : json::object{};
}

std::string upload(std::uint16_t port, const std::string& file) {
  client c(port, 60s);
  const std::string b = "----formdata-undici-0" + std::to_string(file.size());
  auto r = c.post("/v1/files", multipart(b, file),
                  {{"content-type", "multipart/form-data; boundary=" + b}});
  EXPECT_EQ(r.status, 200u) << r.body;
  return std::string(parse_object(r).at("id").as_string());
}

std::string create_batch(std::uint16_t port, const std::string& file_id) {
  client c(port);
  auto r = c.post("/v1/batches",
                  json::serialize(json::object{{"input_file_id", file_id},
                                               {"endpoint", "/v1/chat/completions"},
                                               {"completion_window", "24h"},
                                               {"metadata", {{"job", "nightly"}}}}),
                  {{"content-type", "application/json"}, {"authorization", "Bearer sk-client"}});
  EXPECT_EQ(r.status, 200u) << r.body;
  auto o = parse_object(r);
  EXPECT_EQ(o.at("status").as_string(), "validating");
  EXPECT_EQ(o.at("metadata").at("job").as_string(), "nightly");
  return std::string(o.at("id").as_string());
}

json::object get_batch(std::uint16_t port, const std::string& id) {
  client c(port);
  return parse_object(c.request(http::verb::get, "/v1/batches/" + id));
}

// Waits (harness.hpp's eventually: bounded in time) until the batch reaches `status`; the last
// object seen.
json::object wait_for(std::uint16_t port, const std::string& id, std::string_view status,
                      std::chrono::milliseconds timeout) {
  // An answer without a status (an error while the store is away) is polled past like any other.
  json::object last;
  const auto status_of = [](const json::object& o) {
    const auto* s = o.if_contains("status");
    return s && s->is_string() ? std::string(s->as_string()) : std::string();
  };
  eventually(
      [&] {
        last = get_batch(port, id);
        return status_of(last) == status;
      },
      timeout);
  EXPECT_EQ(status_of(last), status) << json::serialize(last);
  return last;
}

std::vector<json::object> file_lines(std::uint16_t port, const json::value& file_id) {
  std::vector<json::object> out;
  if (!file_id.is_string()) {
    return out;
  }
  client c(port, 60s);
  auto r = c.request(http::verb::get, "/v1/files/" + std::string(file_id.as_string()) + "/content");
  EXPECT_EQ(r.status, 200u);
  std::size_t at = 0;
  while (at < r.body.size()) {
    auto nl = r.body.find('\n', at);
    out.push_back(json::parse(r.body.substr(at, nl - at)).as_object());
    at = nl == std::string::npos ? r.body.size() : nl + 1;
  }
  return out;
}

}  // namespace switchyard::test
