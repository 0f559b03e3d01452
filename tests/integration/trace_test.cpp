// The trace log and guardrails, as an operator sees them: one JSON line per proxied request with
// the experiment's labels and cost; text only when asked for; a failing variant paused.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace switchyard::test {
namespace {

namespace json = boost::json;

std::string config(const temp_dir& dir, bool include_text, const std::string& extra = "") {
  return R"(
listen: 127.0.0.1:0
workers: 1
data_dir: )" +
         dir.path +
         R"(
admin_token: test-admin
stats_flush: 50ms
log: { level: off, access: off }
trace: { path: )" +
         (std::filesystem::path(dir.path) / "trace.jsonl").string() +
         ", include_text: " + (include_text ? "true" : "false") + R"( }
upstreams: [ { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1" } ]
models:
  - { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 1, output_per_mtok: 2 } }
experiments:
  - name: tone
    match: { model: assistant }
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: gpt-4o-mini }
)" + extra;
}

std::vector<json::object> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<json::object> out;
  for (std::string line; std::getline(in, line);) {
    out.push_back(json::parse(line).as_object());
  }
  return out;
}

const std::string ask =
    R"({"model":"assistant","messages":[{"role":"user","content":"SECRET-PROMPT"}]})";

TEST(trace, one_line_per_request_with_experiment_cost_and_no_text_by_default) {
  temp_dir dir;
  {
    rig r(config(dir, false));
    client c(r.port());
    ASSERT_EQ(c.post("/v1/chat/completions", ask, {{"x-user-id", "u1"}}).status, 200u);
    ASSERT_EQ(c.request(http::verb::get, "/healthz").status, 200u);  // not traced
  }
  std::vector<json::object> lines;
  ASSERT_TRUE(eventually([&] {
    lines = read_lines(std::filesystem::path(dir.path) / "trace.jsonl");
    return lines.size() == 1;
  }));
  const auto& l = lines[0];
  EXPECT_EQ(l.at("experiment"), "tone");
  EXPECT_TRUE(l.at("variant") == "control" || l.at("variant") == "treatment");
  EXPECT_EQ(l.at("model"), "assistant");
  EXPECT_EQ(l.at("routed_model"), "gpt-4o-mini");
  EXPECT_EQ(l.at("upstream"), "mock");
  EXPECT_EQ(l.at("status").to_number<int>(), 200);
  EXPECT_GT(l.at("cost_usd").to_number<double>(), 0);
  EXPECT_GT(l.at("prompt_tokens").to_number<int>(), 0);
  EXPECT_EQ(l.at("attempts").to_number<int>(), 1);
  std::ifstream in(std::filesystem::path(dir.path) / "trace.jsonl");
  std::stringstream all;
  all << in.rdbuf();
  EXPECT_EQ(all.str().find("SECRET-PROMPT"), std::string::npos);
}

TEST(trace, include_text_adds_the_prompt_and_the_completion) {
  temp_dir dir;
  {
    rig r(config(dir, true));
    client c(r.port());
    auto res = c.post("/v1/chat/completions", ask, {{"x-user-id", "u1"}});
    ASSERT_EQ(res.status, 200u);
    auto content =
        json::parse(res.body).at("choices").at(0).at("message").at("content").as_string();
    std::vector<json::object> lines;
    ASSERT_TRUE(eventually([&] {
      lines = read_lines(std::filesystem::path(dir.path) / "trace.jsonl");
      return lines.size() == 1;
    }));
    EXPECT_NE(lines[0].at("request_text").as_string().find("SECRET-PROMPT"), std::string::npos);
    EXPECT_NE(lines[0].at("response_text").as_string().find(std::string(content)),
              std::string::npos);
  }
}

TEST(guardrails, a_variant_failing_more_than_control_is_paused_and_reported) {
  temp_dir dir;
  // No retries and no breaker: each failure is one failed request, and control keeps working.
  // The guardrail is a sequential test tuned by the planned sample: a small plan, small data.
  auto yaml =
      config(dir, false, R"(    guardrails: { max_error_rate_increase: 0.05, min_requests: 40 }
    analysis: { planned_sample: 100 }
retry: { max_attempts: 1 }
)");
  yaml.replace(yaml.find("/v1\" }"), 6, "/v1\", breaker: { enabled: false } }");
  rig r(yaml);
  client c(r.port());
  int control = 0, treatment = 0;
  for (int i = 0; i < 2000 && (control < 60 || treatment < 25); ++i) {
    std::string user = "user-" + std::to_string(i);
    auto probe = c.post("/v1/chat/completions", ask, {{"x-user-id", user}});
    ASSERT_EQ(probe.status, 200u);
    if (probe.header("x-switchyard-variant") == "treatment") {
      // Every other treatment user then fails twice: treatment's error rate is ~1/3, and the
      // users differ (the unit of analysis is the user: errors are compared per user).
      const bool failing = treatment % 2 == 0;
      for (int k = 0; k < 2; ++k) {
        std::vector<std::pair<std::string, std::string>> headers{{"x-user-id", user}};
        if (failing) {
          headers.emplace_back("x-mock-fault", "status=503");
        }
        auto again = c.post("/v1/chat/completions", ask, headers);
        EXPECT_EQ(again.status, failing ? 503u : 200u);
      }
      ++treatment;
    } else {
      ++control;
    }
  }
  ASSERT_GE(treatment, 20);  // 60+ treatment requests: three per user
  ASSERT_GE(control, 40);
  json::value report;
  ASSERT_TRUE(eventually(
      [&] {
        auto res = c.request(http::verb::get, "/api/v1/experiments/tone");
        report = json::parse(res.body);
        const auto& paused = report.at("paused_variants").as_array();
        return !paused.empty() && paused[0] == "treatment";
      },
      std::chrono::seconds(10)))
      << json::serialize(report);
  EXPECT_EQ(report.at("guardrails").at(0).at("reason"), "error_rate");
  for (int i = 0; i < 20; ++i) {  // its units now get control
    auto res = c.post("/v1/chat/completions", ask, {{"x-user-id", "user-" + std::to_string(i)}});
    EXPECT_EQ(res.header("x-switchyard-variant"), "control");
  }
  auto metrics = c.request(http::verb::get, "/metrics").body;
  // The operator resumes it: its units come back from control, so a new phase starts.
  auto resumed = c.post("/api/v1/experiments/tone", R"({"action":"resume"})",
                        {{"authorization", "Bearer test-admin"}});
  ASSERT_EQ(resumed.status, 200u) << resumed.body;
  auto after = json::parse(c.request(http::verb::get, "/api/v1/experiments/tone").body);
  EXPECT_EQ(after.at("phase").at("phase").as_int64(), 2) << after;
  EXPECT_EQ(after.at("phase").at("reason").as_string(), "resumed");
  EXPECT_TRUE(after.at("paused_variants").as_array().empty());
  EXPECT_NE(metrics.find("switchyard_guardrail_trips_total{experiment=\"tone\","
                         "variant=\"treatment\",reason=\"error_rate\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace switchyard::test
