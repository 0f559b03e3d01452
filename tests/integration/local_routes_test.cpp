// The routes the gateway answers itself, as a client and an operator see them: one routing
// table (404, 405 with Allow, HEAD), one source of model names, and local refusals counted and
// logged like proxied ones.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace switchyard::test {
namespace {

std::string yaml(const std::string& dir, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + R"(
admin_token: test-admin
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock }
  - { name: big, upstream: mock }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: big }
)" + extra;
}

// Sum of the samples of `name` whose label set contains every `k="v"` in `labels`.
double metric_sum(const std::string& text, std::string_view name,
                  std::initializer_list<std::string_view> labels) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(std::string(name) + "{")) {
      continue;
    }
    bool all = true;
    for (auto l : labels) {
      all = all && line.find(l) != std::string::npos;
    }
    if (all) {
      sum += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
  }
  return sum;
}

const boost::json::object& error_of(const response& res) {
  static boost::json::value v;
  v = boost::json::parse(res.body);
  return v.at("error").as_object();
}

TEST(local_routes, every_listed_model_is_retrievable_by_id) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  auto list = c.request(http::verb::get, "/v1/models");
  ASSERT_EQ(list.status, 200u);
  std::vector<std::string> ids;
  const auto parsed = boost::json::parse(list.body);
  for (const auto& m : parsed.at("data").as_array()) {
    ids.emplace_back(m.at("id").as_string());
    auto one = c.request(http::verb::get, "/v1/models/" + ids.back());
    ASSERT_EQ(one.status, 200u) << ids.back() << ": " << one.body;
    EXPECT_EQ(boost::json::parse(one.body), m) << ids.back();
  }
  // The experiment-only name is listed and retrievable (it used to be listed and then 404).
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-4o-mini", "big", "assistant"}));
}

TEST(local_routes, an_unknown_model_id_is_openais_404) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  auto res = c.request(http::verb::get, "/v1/models/nope%2Fv2");
  ASSERT_EQ(res.status, 404u);
  const auto& e = error_of(res);
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("code").as_string(), "model_not_found");
  EXPECT_EQ(e.at("param").as_string(), "model");
  EXPECT_NE(e.at("message").as_string().find("nope/v2"), std::string::npos);  // decoded
}

TEST(local_routes, wrong_methods_are_405_with_allow_and_head_follows_get) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  auto chat = c.request(http::verb::get, "/v1/chat/completions");
  EXPECT_EQ(chat.status, 405u);
  EXPECT_EQ(chat.header("allow"), "POST");
  EXPECT_EQ(error_of(chat).at("code").as_string(), "method_not_allowed");
  auto exp = c.request(http::verb::delete_, "/api/v1/experiments/tone");
  EXPECT_EQ(exp.status, 405u);
  EXPECT_EQ(exp.header("allow"), "GET, HEAD, POST");
  EXPECT_EQ(c.request(http::verb::get, "/v1/feedback").header("allow"), "POST");
  // HEAD on a GET route: the GET answer's header, no body.
  for (const char* path : {"/v1/models", "/v1/models/big", "/api/v1/experiments"}) {
    client h(r.port());
    h.send_raw(std::string("HEAD ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto answer = h.read_until_close();
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << answer;
    EXPECT_EQ(answer.find("\r\n\r\n") + 4, answer.size()) << path << ": HEAD has no body";
  }
  // HEAD where only POST is allowed: a 405 header, still without a body.
  client h(r.port());
  h.send_raw("HEAD /v1/feedback HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto answer = h.read_until_close();
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
  EXPECT_NE(answer.find("Allow: POST\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("\r\n\r\n") + 4, answer.size()) << answer;
}

TEST(local_routes, path_parameters_and_queries_are_decoded) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments/t%6Fne").status, 200u);
  auto bad = c.request(http::verb::get, "/api/v1/experiments/tone?phase=%37");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(error_of(bad).at("param").as_string(), "phase");
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments/tone/timeline?bucket=2h").status, 200u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments/tone/timeline?bucket=5m").status, 400u);
  auto unknown = c.request(http::verb::get, "/api/v1/experiments/tone/nothing");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(error_of(unknown).at("code").as_string(), "unknown_url");
}

TEST(local_routes, local_refusals_are_counted_by_their_error_type) {
  temp_dir dir;
  rig r(yaml(dir.path, "api_token: reader-token\n"));
  client c(r.port());
  EXPECT_EQ(c.request(http::verb::get, "/v1/nothing").status, 404u);
  EXPECT_EQ(c.request(http::verb::get, "/v1/chat/completions").status, 405u);
  EXPECT_EQ(c.request(http::verb::get, "/v1/models/nope").status, 404u);
  EXPECT_EQ(c.post("/api/v1/reload", "{}").status, 401u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments").status, 401u);
  EXPECT_EQ(c.post("/v1/feedback", "{bad").status, 400u);
  auto text = c.request(http::verb::get, "/metrics").body;
  auto count = [&](std::string_view status_class, std::string_view error_type) {
    return metric_sum(text, "switchyard_requests_total",
                      {R"(endpoint="none")", status_class, error_type});
  };
  EXPECT_EQ(count(R"(status_class="4xx")", R"(error_type="invalid_request")"), 4) << text;
  EXPECT_EQ(count(R"(status_class="4xx")", R"(error_type="auth_error")"), 2) << text;
  EXPECT_EQ(count(R"(status_class="4xx")", R"(error_type="none")"), 0) << text;
}

TEST(local_routes, local_refusals_carry_the_error_in_the_access_log) {
  temp_dir dir;
  const auto path = std::filesystem::path(dir.path) / "access.log";
  {
    rig r(yaml(dir.path, "log: { level: off, access: " + path.string() + " }\n"));
    client c(r.port());
    EXPECT_EQ(c.post("/api/v1/reload", "{}", {{"x-request-id", "denied"}}).status, 401u);
    EXPECT_EQ(c.request(http::verb::get, "/nowhere", "", {{"x-request-id", "lost"}}).status, 404u);
    EXPECT_EQ(c.request(http::verb::get, "/healthz", "", {{"x-request-id", "fine"}}).status, 200u);
  }  // drained: every batch handed to the logger
  std::map<std::string, boost::json::object> lines;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(path);
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      auto o = boost::json::parse(line).as_object();
      lines[std::string(o.at("request_id").as_string())] = o;
    }
    return lines.size() == 3;
  }));
  EXPECT_EQ(lines["denied"].at("status").as_int64(), 401);
  EXPECT_EQ(lines["denied"].at("error").as_string(), "auth_error");
  EXPECT_EQ(lines["lost"].at("error").as_string(), "invalid_request");
  EXPECT_FALSE(lines["fine"].contains("error"));
}

}  // namespace
}  // namespace switchyard::test
