// The access log as an operator reads it: one JSON line per request, no secrets, no text.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace switchyard::test {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(access_log, one_line_per_request_without_keys_or_prompt_text) {
  auto path = std::filesystem::temp_directory_path() /
              ("switchyard-access-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    rig r(R"(
listen: 127.0.0.1:0
workers: 1
upstreams: [ { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream-secret } ]
models: [ { name: gpt-4o-mini, upstream: mock } ]
log: { level: off, access: )" +
          path.string() + R"( }
)");
    client c(r.port());
    ASSERT_EQ(
        c.post("/v1/chat/completions",
               R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"PROMPT-TEXT"}]})",
               {{"authorization", "Bearer sk-client-secret"}, {"x-request-id", "log-1"}})
            .status,
        200u);
    auto head = c.start_stream(
        "/v1/chat/completions",
        R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"x"}]})",
        {{"x-request-id", "log-2"}});
    while (c.next_event()) {
    }
    EXPECT_EQ(c.post("/v1/chat/completions", "{bad", {{"x-request-id", "log-3"}}).status, 400u);
  }  // drained: every batch handed to the logger
  std::vector<boost::json::object> lines;
  ASSERT_TRUE(eventually([&] {
    std::istringstream in(read_file(path));
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      lines.push_back(boost::json::parse(line).as_object());
    }
    return lines.size() == 3;
  }));
  std::string all = read_file(path);
  EXPECT_EQ(all.find("secret"), std::string::npos);
  EXPECT_EQ(all.find("PROMPT-TEXT"), std::string::npos);
  EXPECT_EQ(all.find("tok0"), std::string::npos);

  EXPECT_EQ(lines[0].at("request_id").as_string(), "log-1");
  EXPECT_EQ(lines[0].at("endpoint").as_string(), "chat_completions");
  EXPECT_EQ(lines[0].at("model").as_string(), "gpt-4o-mini");
  EXPECT_EQ(lines[0].at("upstream").as_string(), "mock");
  EXPECT_EQ(lines[0].at("status").as_int64(), 200);
  EXPECT_FALSE(lines[0].at("stream").as_bool());
  EXPECT_GT(lines[0].at("completion_tokens").as_int64(), 0);
  EXPECT_TRUE(lines[0].contains("ttfb_ms"));
  EXPECT_GT(lines[0].at("bytes_out").as_int64(), 0);

  EXPECT_EQ(lines[1].at("request_id").as_string(), "log-2");
  EXPECT_TRUE(lines[1].at("stream").as_bool());

  EXPECT_EQ(lines[2].at("status").as_int64(), 400);
  EXPECT_EQ(lines[2].at("error").as_string(), "invalid_request");
  std::filesystem::remove(path);
}

TEST(access_log, a_refused_request_names_its_error_source_and_why_retrying_stopped) {
  auto path = std::filesystem::temp_directory_path() /
              ("switchyard-access-stop-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    rig r(R"(
listen: 127.0.0.1:0
workers: 1
upstreams: [ { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1" } ]
models: [ { name: gpt-4o-mini, upstream: mock } ]
retry: { max_attempts: 2, base: 1ms, cap: 2ms }
log: { level: off, access: )" +
          path.string() + R"( }
)");
    client c(r.port());
    const std::string body =
        R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]})";
    // A retriable answer every time: two attempts, then the last answer is relayed.
    EXPECT_EQ(c.post("/v1/chat/completions", body, {{"x-mock-fault", "status=503"}}).status, 503u);
    // An answer no retry can change: relayed at once.
    EXPECT_EQ(c.post("/v1/chat/completions", body, {{"x-mock-fault", "status=400"}}).status, 400u);
    // Refused by the gateway before any upstream: no retry state to report.
    EXPECT_EQ(c.post("/v1/chat/completions",
                     R"({"model":"nope","messages":[{"role":"user","content":"x"}]})")
                  .status,
              404u);
  }
  std::vector<boost::json::object> lines;
  ASSERT_TRUE(eventually([&] {
    std::istringstream in(read_file(path));
    lines.clear();
    for (std::string line; std::getline(in, line);) {
      lines.push_back(boost::json::parse(line).as_object());
    }
    return lines.size() == 3;
  }));
  EXPECT_EQ(lines[0].at("attempts").as_int64(), 2);
  EXPECT_EQ(lines[0].at("retry_stop").as_string(), "max_attempts");
  EXPECT_EQ(lines[0].at("error").as_string(), "upstream_error");
  EXPECT_EQ(lines[0].at("error_source").as_string(), "upstream");

  EXPECT_EQ(lines[1].at("attempts").as_int64(), 1);
  EXPECT_EQ(lines[1].at("retry_stop").as_string(), "not_retriable");
  EXPECT_EQ(lines[1].at("error").as_string(), "invalid_request");
  EXPECT_EQ(lines[1].at("error_source").as_string(), "upstream");

  EXPECT_EQ(lines[2].at("error").as_string(), "invalid_request");
  EXPECT_EQ(lines[2].at("error_source").as_string(), "downstream");
  EXPECT_FALSE(lines[2].contains("retry_stop"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace switchyard::test
