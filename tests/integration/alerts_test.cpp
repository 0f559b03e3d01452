// The alert engine and the dashboard's API end to end, through the real gateway and the mock LLM:
// an error-rate rule fires on failing traffic, is acknowledged with the admin token only, leaves
// the active list, is kept across a restart and resolves when traffic recovers; the always-on
// SRM rule fires for a skewed experiment; the traffic endpoint counts exactly what was sent; the
// experiment series serialises missing data as null.
#include "harness.hpp"
#include "switchyard/experiments/assignment.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>
#include <vector>

namespace switchyard::test {
namespace {

namespace json = boost::json;
using headers = std::vector<std::pair<std::string, std::string>>;

const headers reader{{"authorization", "Bearer test-reader"}};
const headers admin{{"authorization", "Bearer test-admin"}};

std::string yaml(const std::string& dir, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + R"(
admin_token: test-admin
api_token: test-reader
stats_flush: 100ms
log: { level: off, access: off }
retry: { max_attempts: 1 }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
models:
  - { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 1, output_per_mtok: 2 } }
alerts:
  evaluation_interval: 50ms
  rules:
    - { name: errors, metric: error_rate, above: 0.2, window: 5m, scope: model,
        model: gpt-4o-mini, min_samples: 5, severity: critical }
)" + extra;
}

json::value get_json(client& c, const std::string& target) {
  auto res = c.request(http::verb::get, target, {}, reader);
  if (res.status != 200u) {
    ADD_FAILURE() << target << " → " << res.status << " " << res.body;
    return json::object{};
  }
  return json::parse(res.body);
}

// The alerts of `state` (the API's list).
json::array alerts(client& c, const std::string& state) {
  auto v = get_json(c, "/api/v1/alerts?state=" + state);
  return v.is_object() && v.as_object().contains("data") ? v.at("data").as_array() : json::array{};
}

void send(client& c, int n, bool failing) {
  for (int i = 0; i < n; ++i) {
    headers h;
    if (failing) {
      h.emplace_back("x-mock-fault", "status=500");
    }
    auto res = c.post("/v1/chat/completions", chat_body, h);
    ASSERT_EQ(res.status, failing ? 500u : 200u) << res.body;
  }
}

std::string error_param(const response& res) {
  auto v = json::parse(res.body);
  const auto& p = v.at("error").at("param");
  return p.is_string() ? std::string(p.as_string()) : "";
}

TEST(alerts, an_error_rate_alert_fires_is_acknowledged_survives_a_restart_and_resolves) {
  temp_dir dir;
  std::int64_t id = 0, acknowledged_at = 0;
  {
    rig r(yaml(dir.path));
    client c(r.port());
    EXPECT_TRUE(alerts(c, "all").empty());
    send(c, 5, true);
    json::array firing;
    ASSERT_TRUE(eventually([&] {
      firing = alerts(c, "active");
      return firing.size() == 1;
    }));
    const auto& a = firing[0].as_object();
    id = a.at("id").as_int64();
    EXPECT_EQ(a.at("rule"), "errors");
    EXPECT_EQ(a.at("kind"), "rule");
    EXPECT_EQ(a.at("metric"), "error_rate");
    EXPECT_EQ(a.at("severity"), "critical");
    EXPECT_EQ(a.at("state"), "firing");
    EXPECT_EQ(a.at("scope"), (json::object{{"model", "gpt-4o-mini"}}));
    EXPECT_DOUBLE_EQ(a.at("value").as_double(), 1.0);
    EXPECT_DOUBLE_EQ(a.at("threshold").as_double(), 0.2);
    EXPECT_EQ(a.at("window_seconds").as_int64(), 300);
    EXPECT_NE(a.at("message").as_string().find("(5 of 5 requests)"), std::string::npos)
        << a.at("message");
    EXPECT_TRUE(a.at("resolved_at").is_null());
    EXPECT_TRUE(a.at("acknowledged_at").is_null());

    // Reading needs the api token; acknowledging needs the admin token.
    EXPECT_EQ(c.request(http::verb::get, "/api/v1/alerts").status, 401u);
    const std::string ack = "/api/v1/alerts/" + std::to_string(id) + "/acknowledge";
    EXPECT_EQ(c.post(ack, "").status, 401u);
    EXPECT_EQ(c.post(ack, "", reader).status, 401u);
    EXPECT_EQ(c.post("/api/v1/alerts/999/acknowledge", "", admin).status, 404u);
    EXPECT_EQ(c.post("/api/v1/alerts/abc/acknowledge", "", admin).status, 404u);
    auto done = c.post(ack, "", admin);
    ASSERT_EQ(done.status, 200u) << done.body;
    auto acked = json::parse(done.body);
    EXPECT_EQ(acked.at("state"), "acknowledged");
    acknowledged_at = acked.at("acknowledged_at").as_int64();
    auto again = c.post(ack, "", admin);  // idempotent
    ASSERT_EQ(again.status, 200u);
    EXPECT_EQ(json::parse(again.body).at("acknowledged_at").as_int64(), acknowledged_at);

    EXPECT_TRUE(alerts(c, "active").empty()) << "acknowledged: out of the active list";
    ASSERT_EQ(alerts(c, "acknowledged").size(), 1u);
    auto list = get_json(c, "/api/v1/alerts?state=all&limit=10");
    EXPECT_EQ(list.at("counts").at("acknowledged").to_number<std::uint64_t>(), 1u);
    EXPECT_EQ(list.at("counts").at("firing").to_number<std::uint64_t>(), 0u);

    // Bad parameters get the API's own error shape.
    auto bad = c.request(http::verb::get, "/api/v1/alerts?state=open", {}, reader);
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(error_param(bad), "state");
    bad = c.request(http::verb::get, "/api/v1/alerts?limit=0", {}, reader);
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(error_param(bad), "limit");
  }
  // A restart keeps the alert and its acknowledgement; with no traffic yet nothing is known of
  // the window, so it stays open.
  rig r(yaml(dir.path));
  client c(r.port());
  auto kept = alerts(c, "acknowledged");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].at("id").as_int64(), id);
  EXPECT_EQ(kept[0].at("acknowledged_at").as_int64(), acknowledged_at);
  ASSERT_TRUE(eventually(
      [&] { return !get_json(c, "/api/v1/alerts/config").at("last_evaluation_at").is_null(); }));
  ASSERT_EQ(alerts(c, "acknowledged").size(), 1u) << "an evaluation without data keeps it";

  // Traffic recovers: resolved, acknowledged_at kept.
  send(c, 10, false);
  json::array resolved;
  ASSERT_TRUE(eventually([&] {
    resolved = alerts(c, "resolved");
    return resolved.size() == 1;
  }));
  EXPECT_EQ(resolved[0].at("id").as_int64(), id);
  EXPECT_FALSE(resolved[0].at("resolved_at").is_null());
  EXPECT_EQ(resolved[0].at("acknowledged_at").as_int64(), acknowledged_at);
  EXPECT_TRUE(alerts(c, "acknowledged").empty());

  // It breaks again: a new alert with the next id (ids go on across restarts).
  send(c, 5, true);  // 5 of 15 in the window
  json::array firing;
  ASSERT_TRUE(eventually([&] {
    firing = alerts(c, "active");
    return firing.size() == 1;
  }));
  EXPECT_EQ(firing[0].at("id").as_int64(), id + 1);
  // The value is the window's when the rule first held: 5 of 15 if every error request was
  // flushed before an evaluation, fewer if an evaluation (every 50 ms) fell between them — 3 of
  // 13 is already above 0.2. Either way the window holds the earlier successes too.
  const double value = firing[0].at("value").as_double();
  EXPECT_GT(value, 0.2);
  EXPECT_LE(value, 5.0 / 15 + 1e-12);
}

TEST(alerts, config_lists_the_rules_and_the_always_on_ones) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  auto cfg = get_json(c, "/api/v1/alerts/config");
  EXPECT_EQ(cfg.at("object"), "alerts_config");
  EXPECT_DOUBLE_EQ(cfg.at("evaluation_interval_seconds").as_double(), 0.05);
  const auto& rules = cfg.at("rules").as_array();
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].at("name"), "errors");
  EXPECT_EQ(rules[0].at("scope"), "model");
  EXPECT_EQ(rules[0].at("filter"), (json::object{{"model", "gpt-4o-mini"}}));
  EXPECT_EQ(rules[1].at("kind"), "srm");
  EXPECT_EQ(rules[2].at("kind"), "guardrail");
}

TEST(alerts, traffic_counts_what_was_sent) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  double in = 0, out = 0;
  for (int i = 0; i < 7; ++i) {
    auto res = c.post("/v1/chat/completions", chat_body);
    ASSERT_EQ(res.status, 200u);
    const auto usage = json::parse(res.body).at("usage");
    in += usage.at("prompt_tokens").to_number<double>();
    out += usage.at("completion_tokens").to_number<double>();
  }
  send(c, 3, true);
  auto t = get_json(c, "/api/v1/traffic?hours=1");
  EXPECT_EQ(t.at("object"), "traffic");
  EXPECT_EQ(t.at("bucket_seconds").as_int64(), 300) << "5m buckets for short ranges";
  EXPECT_EQ(t.at("buckets").as_array().size(), 12u);
  const auto& totals = t.at("totals");
  EXPECT_EQ(totals.at("requests").to_number<std::uint64_t>(), 10u);
  EXPECT_EQ(totals.at("errors").to_number<std::uint64_t>(), 3u);
  EXPECT_DOUBLE_EQ(totals.at("input_tokens").to_number<double>(), in);
  EXPECT_DOUBLE_EQ(totals.at("output_tokens").to_number<double>(), out);
  EXPECT_NEAR(totals.at("cost_usd").as_double(), (in * 1 + out * 2) / 1e6, 1e-12);
  ASSERT_EQ(t.at("models").as_array().size(), 1u);
  const auto& m = t.at("models").at(0);
  EXPECT_EQ(m.at("model"), "gpt-4o-mini");
  const auto& req = m.at("requests").as_array();
  std::uint64_t sum = 0;
  for (const auto& x : req) {
    sum += x.is_null() ? 0 : x.to_number<std::uint64_t>();
  }
  EXPECT_EQ(sum, 10u);
  EXPECT_TRUE(req.front().is_null()) << "an hour ago the gateway was not running";
  EXPECT_FALSE(req.back().is_null());
  ASSERT_EQ(t.at("upstreams").as_array().size(), 1u);
  EXPECT_EQ(t.at("upstreams").at(0).at("upstream"), "mock");
  EXPECT_EQ(t.at("upstreams").at(0).at("totals").at("errors").to_number<std::uint64_t>(), 3u);
  // The API's own calls are not traffic.
  auto again = get_json(c, "/api/v1/traffic?hours=24");
  EXPECT_EQ(again.at("bucket_seconds").as_int64(), 3600);
  EXPECT_EQ(again.at("totals").at("requests").to_number<std::uint64_t>(), 10u);

  for (const char* q :
       {"hours=0", "hours=49", "hours=two", "hours=1&bucket=2m", "hours=24&bucket=5m"}) {
    auto bad = c.request(http::verb::get, std::string("/api/v1/traffic?") + q, {}, reader);
    EXPECT_EQ(bad.status, 400u) << q;
    EXPECT_EQ(error_param(bad),
              std::string(q).find("bucket") != std::string::npos ? "bucket" : "hours")
        << q;
  }
}

// 50/50 by x-user-id; users chosen locally with the gateway's own assignment so that control
// gets 60 units and treatment 6.
const char* skewed = R"(
experiments:
  - name: split
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: gpt-4o-mini }
)";

TEST(alerts, srm_fires_for_a_skewed_experiment_and_the_series_has_nulls_not_nan) {
  temp_dir dir;
  rig r(yaml(dir.path, skewed));
  client c(r.port());
  const std::vector<double> weights{0.5, 0.5};
  const auto ranges = bucket_ranges(2, 1.0, weights);
  int control = 0, treatment = 0;
  for (int i = 0; i < 1000 && (control < 60 || treatment < 6); ++i) {
    const std::string user = "user-" + std::to_string(i);
    const int v = assign_unit("split", user, ranges).variant;
    if ((v == 0 && control >= 60) || (v == 1 && treatment >= 6)) {
      continue;
    }
    auto res = c.post("/v1/chat/completions",
                      R"({"model":"assistant","messages":[{"role":"user","content":"hi"}]})",
                      {{"x-user-id", user}});
    ASSERT_EQ(res.status, 200u) << res.body;
    ASSERT_EQ(res.header("x-switchyard-variant"), v == 0 ? "control" : "treatment");
    (v == 0 ? control : treatment)++;
  }
  ASSERT_EQ(control, 60);
  ASSERT_EQ(treatment, 6);
  json::array srm;
  ASSERT_TRUE(eventually(
      [&] {
        srm.clear();
        for (const auto& a : alerts(c, "active")) {
          // Until the last flush reaches the store the alert may show fewer units.
          if (a.at("kind") == "srm" &&
              a.at("message").as_string().find("observed 60 / 6 units") != std::string::npos) {
            srm.push_back(a);
          }
        }
        return srm.size() == 1;
      },
      std::chrono::seconds(10)));
  const auto& a = srm[0].as_object();
  EXPECT_EQ(a.at("rule"), "srm");
  EXPECT_EQ(a.at("scope"), (json::object{{"experiment", "split"}}));
  EXPECT_LT(a.at("value").as_double(), 0.001);
  EXPECT_NE(a.at("message").as_string().find("observed 60 / 6 units"), std::string::npos)
      << a.at("message");
  // The report agrees.
  auto report = get_json(c, "/api/v1/experiments/split");
  EXPECT_TRUE(report.at("srm").at("mismatch").as_bool());
  EXPECT_DOUBLE_EQ(report.at("srm").at("p_value").as_double(), a.at("value").as_double());

  // The series: requests per variant, no feedback and no streams → nulls, never NaN.
  auto res = c.request(http::verb::get, "/api/v1/experiments/split/series", {}, reader);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.body.find("NaN"), std::string::npos);
  EXPECT_EQ(res.body.find("Infinity"), std::string::npos);
  auto s = json::parse(res.body);
  EXPECT_EQ(s.at("metric"), "feedback_success");
  EXPECT_EQ(s.at("control"), "control");
  const auto& buckets = s.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 1u);
  const auto& ctl = buckets[0].at("variants").at("control");
  const auto& trt = buckets[0].at("variants").at("treatment");
  EXPECT_EQ(ctl.at("requests").to_number<std::uint64_t>(), 60u);
  EXPECT_EQ(trt.at("requests").to_number<std::uint64_t>(), 6u);
  EXPECT_FALSE(ctl.at("latency_ms").at("p95").is_null());
  EXPECT_TRUE(ctl.at("ttft_ms").at("p50").is_null());
  EXPECT_TRUE(ctl.at("ttft_ms").at("mean").is_null());
  EXPECT_TRUE(ctl.at("cumulative").at("value").is_null());
  EXPECT_TRUE(trt.at("cumulative").at("diff").is_null());
  EXPECT_TRUE(trt.at("cumulative").at("diff_ci").is_null());
  EXPECT_TRUE(trt.at("cumulative").at("p_value").is_null());
  EXPECT_DOUBLE_EQ(buckets[0].at("weights").at("treatment").as_double(), 0.5);
  EXPECT_EQ(s.at("health").at("variants").at("control").at("requests").to_number<std::uint64_t>(),
            60u);
  EXPECT_DOUBLE_EQ(s.at("health").at("variants").at("control").at("fallback_rate").as_double(),
                   0.0);

  EXPECT_EQ(c.request(http::verb::get, "/api/v1/experiments/nope/series", {}, reader).status, 404u);
  auto bad = c.request(http::verb::get, "/api/v1/experiments/split/series?bucket=30m", {}, reader);
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(error_param(bad), "bucket");
}

}  // namespace
}  // namespace switchyard::test
