// modelab's server API and `hash: modelab` through the real gateway (docs/compat-modelab.md):
// the three ingest endpoints with X-API-Key, idempotent retries, orphans, 400/401/404/413 in
// modelab's {"detail"} shape; the flags report; the flags listed by the analysis API; the
// records kept across a restart; the gateway's own experiment assigning like modelab's SDK.
#include "harness.hpp"
#include "switchyard/experiments/modelab_hash.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>
#include <vector>

namespace switchyard::test {
namespace {

namespace json = boost::json;
using headers = std::vector<std::pair<std::string, std::string>>;

const headers key{{"x-api-key", "ml-key"}, {"content-type", "application/json"}};

std::string yaml(const std::string& dir, bool enabled = true) {
  return default_yaml("data_dir: " + dir + R"(
api_token: test-reader
compat:
  modelab: { enabled: )" +
                      (enabled ? "true" : "false") +
                      R"(, api_key: ml-key, max_batch_records: 50 }
experiments:
  - name: migrate
    match: { model: gpt-4o-mini }
    hash: modelab
    seed: checkout-flow
    rollout_pct: 60
    variants: [ { name: control, weight: 3 }, { name: treatment, weight: 7 } ]
)");
}

json::value body_json(const response& r) {
  return json::parse(r.body);
}

std::string detail(const response& r) {
  auto v = body_json(r);
  return v.is_object() && v.as_object().contains("detail")
             ? std::string(v.as_object().at("detail").as_string())
             : "(no detail: " + r.body + ")";
}

std::string assignments_body(int from, int to) {
  json::array a;
  for (int i = from; i < to; ++i) {
    a.push_back(json::object{{"assignment_id", "a" + std::to_string(i)},
                             {"flag_name", "summarize"},
                             {"variant_name", i % 2 ? "treatment" : "control"},
                             {"user_id", "user-" + std::to_string(i)},
                             {"session_id", nullptr},
                             {"config_json", "{}"},
                             {"assigned_at", "2024-05-01T13:00:00.000001"}});
  }
  return json::serialize(a);
}

TEST(Modelab, IngestReportAndRefusals) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());

  // Wrong or missing key: 401 in modelab's shape, nothing stored.
  auto bad = c.post("/api/v1/ingest/assignments", assignments_body(0, 2), {{"x-api-key", "nope"}});
  EXPECT_EQ(bad.status, 401u);
  EXPECT_NE(detail(bad).find("API key"), std::string::npos);
  EXPECT_EQ(c.post("/api/v1/ingest/assignments", assignments_body(0, 2)).status, 401u);

  auto ok = c.post("/api/v1/ingest/assignments", assignments_body(0, 40), key);
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(body_json(ok).at("accepted").as_int64(), 40);
  // The SDK's retried flush: the same records again count once.
  auto again = c.post("/api/v1/ingest/assignments", assignments_body(0, 40), key);
  EXPECT_EQ(body_json(again).at("accepted").as_int64(), 0);
  EXPECT_EQ(body_json(again).at("duplicates").as_int64(), 40);

  json::array ex, ev;
  for (int i = 0; i < 40; ++i) {
    ex.push_back(json::object{{"assignment_id", "a" + std::to_string(i)},
                              {"latency_ms", 100 + i},
                              {"input_tokens", 10},
                              {"output_tokens", i},
                              {"cost", 0.001},
                              {"error", i == 3 ? json::value("timeout") : json::value(nullptr)},
                              {"metadata_json", "{}"},
                              {"recorded_at", "2024-05-01T13:00:01+00:00"}});
    ev.push_back(json::object{{"event_id", "e" + std::to_string(i)},
                              {"assignment_id", "a" + std::to_string(i)},
                              {"event_type", i % 4 == 0 ? "failure" : "success"}});
  }
  ev.push_back(json::object{{"event_id", "c1"},
                            {"assignment_id", "a1"},
                            {"event_type", "custom"},
                            {"event_name", "copied"}});
  ev.push_back(json::object{
      {"event_id", "o1"}, {"assignment_id", "unknown-assignment"}, {"event_type", "success"}});
  ASSERT_EQ(c.post("/api/v1/ingest/executions", json::serialize(ex), key).status, 200u);
  auto evr = c.post("/api/v1/ingest/events", json::serialize(ev), key);
  ASSERT_EQ(evr.status, 200u) << evr.body;
  EXPECT_EQ(body_json(evr).at("orphans").as_int64(), 1);  // counted, kept, not rejected

  auto flag = c.request(http::verb::get, "/api/v1/flags/summarize", {}, key);
  ASSERT_EQ(flag.status, 200u) << flag.body;
  auto f = body_json(flag).as_object();
  const auto& variants = f.at("variants").as_array();
  ASSERT_EQ(variants.size(), 2u);
  const auto& control = variants[0].as_object();
  EXPECT_EQ(control.at("variant_name").as_string(), "control");
  EXPECT_EQ(control.at("assignments").as_int64(), 20);
  EXPECT_EQ(control.at("executions").as_int64(), 20);
  // control = even i: failure when i % 4 == 0 → 10 of 20.
  EXPECT_DOUBLE_EQ(control.at("success_rate").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(control.at("avg_latency_ms").as_double(), 119);  // mean of 100 + even i
  EXPECT_EQ(control.at("total_input_tokens").as_int64(), 200);
  const auto& treatment = variants[1].as_object();
  EXPECT_EQ(treatment.at("errors").as_int64(), 1);
  EXPECT_EQ(treatment.at("custom_events").as_object().at("copied").as_int64(), 1);
  EXPECT_DOUBLE_EQ(treatment.at("success_rate").as_double(), 1.0);
  const auto& sy = f.at("switchyard").as_object();
  EXPECT_EQ(sy.at("orphans").as_object().at("events").as_int64(), 1);
  EXPECT_EQ(sy.at("comparisons").as_array().size(), 1u);

  // Bad input: malformed, wrong type, oversized batch, unknown flag, bad bucket.
  auto malformed = c.post("/api/v1/ingest/events", "[{\"event_id\": ", key);
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_NE(detail(malformed).find("not valid JSON"), std::string::npos);
  auto typed = c.post("/api/v1/ingest/events",
                      R"([{"event_id":"x","assignment_id":"a1","event_type":"liked"}])", key);
  EXPECT_EQ(typed.status, 400u);
  EXPECT_EQ(detail(typed), "[0].event_type: must be success, failure or custom");
  auto big = c.post("/api/v1/ingest/assignments", assignments_body(100, 151), key);
  EXPECT_EQ(big.status, 413u);
  EXPECT_NE(detail(big).find("at most 50"), std::string::npos);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/flags/nope", {}, key).status, 404u);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/flags/summarize/timeline?bucket_seconds=1", {}, key)
                .status,
            400u);
  auto tl = c.request(http::verb::get, "/api/v1/flags/summarize/timeline", {}, key);
  ASSERT_EQ(tl.status, 200u);
  // Assignments and executions carry 2024-05-01 times; the events none (→ when received).
  EXPECT_EQ(body_json(tl).at("buckets").as_array().size(), 2u);

  auto list = c.request(http::verb::get, "/api/v1/flags", {}, key);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(body_json(list).as_array().at(0).at("flag_name").as_string(), "summarize");

  // The analysis API lists the flag as a client-side experiment.
  auto exps = c.request(http::verb::get, "/api/v1/experiments", {},
                        {{"authorization", "Bearer test-reader"}});
  ASSERT_EQ(exps.status, 200u);
  bool found = false;
  const auto listed = body_json(exps);  // kept: the loop reads into it
  for (const auto& e : listed.at("data").as_array()) {
    if (e.at("name").as_string() == "summarize") {
      found = true;
      EXPECT_EQ(e.at("source").as_string(), "modelab");
    }
  }
  EXPECT_TRUE(found) << exps.body;
}

TEST(Modelab, KeptAcrossRestartAndDisabledIs404) {
  temp_dir dir;
  {
    rig r(yaml(dir.path));
    client c(r.port());
    ASSERT_EQ(c.post("/api/v1/ingest/assignments", assignments_body(0, 3), key).status, 200u);
  }
  {
    rig r(yaml(dir.path));
    client c(r.port());
    auto f = c.request(http::verb::get, "/api/v1/flags/summarize", {}, key);
    ASSERT_EQ(f.status, 200u);
    EXPECT_EQ(body_json(f).at("variants").as_array().at(0).at("assignments").as_int64(), 2);
  }
  rig r(yaml(dir.path, false));
  client c(r.port());
  auto off = c.post("/api/v1/ingest/assignments", assignments_body(0, 3), key);
  EXPECT_EQ(off.status, 404u);
  EXPECT_EQ(detail(off), "Not Found");
}

// The gateway's own experiment under hash: modelab puts each user where modelab's SDK would.
TEST(Modelab, GatewayAssignsLikeTheSdk) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const std::vector<std::uint64_t> w{3, 7};
  const auto threshold = modelab_threshold(60);
  int in = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string user = "migrating-user-" + std::to_string(i);
    auto res = c.post("/v1/chat/completions", chat_body, {{"x-user-id", user}});
    ASSERT_EQ(res.status, 200u) << res.body;
    const int expected = modelab_assign("checkout-flow", user, threshold, w);
    if (expected < 0) {
      EXPECT_EQ(res.header("x-switchyard-experiment"), "") << user;
    } else {
      ++in;
      EXPECT_EQ(res.header("x-switchyard-variant"), expected == 0 ? "control" : "treatment")
          << user;
    }
  }
  EXPECT_GT(in, 80);
  EXPECT_LT(in, 160);
}

}  // namespace
}  // namespace switchyard::test
