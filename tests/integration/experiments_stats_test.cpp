// The statistics of the analysis API end to end: users that send several requests each, through
// the real gateway and the mock LLM, and the API's always-valid interval checked against an
// independent computation here (per-user sums → delta method → Waudby-Smith half-width, written
// out from experiments.md §2.3 rather than through the gateway's own functions). Also: a
// conversation keeps its variant when the unit is the session header, and phases.
#include "harness.hpp"
#include "switchyard/experiments/assignment.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace switchyard::test {
namespace {

namespace json = boost::json;

const std::vector<std::pair<std::string, std::string>> admin{
    {"authorization", "Bearer test-admin"}};

std::string yaml(const std::string& dir) {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + R"(
admin_token: test-admin
feedback: { signing_key: "0123456789abcdef0123456789abcdef" }
stats_flush: 100ms
log: { level: off, access: off }
retry: { max_attempts: 1 }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock }
experiments:
  - name: users
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, model: gpt-4o-mini }
      - { name: treatment, model: gpt-4o-mini, params: { temperature: 0.2 } }
    analysis: { method: sequential, primary_metric: error_rate, planned_sample: 500 }
  - name: chat
    match: { model: chat }
    unit: header:x-session-id
    variants:
      - { name: short, model: gpt-4o-mini }
      - { name: long, model: gpt-4o-mini, params: { max_tokens: 400 } }
  - name: body
    match: { model: by-user }
    unit: body:user
    variants:
      - { name: a, model: gpt-4o-mini }
      - { name: b, model: gpt-4o-mini }
)";
}

std::string chat(std::string_view model, const std::string& messages) {
  return R"({"model":")" + std::string(model) + R"(","messages":)" + messages + "}";
}

json::value get_json(client& c, const std::string& target) {
  auto res = c.request(http::verb::get, target);
  if (res.status != 200u) {
    ADD_FAILURE() << target << " → " << res.status << " " << res.body;
    return json::object{};
  }
  return json::parse(res.body);
}

// One arm's per-user sums, as the delta method needs them.
struct arm_sums {
  double n = 0, m = 0, mm = 0, d = 0, dd = 0, md = 0;
  void add(double errors, double requests) {
    n += 1;
    m += errors;
    mm += errors * errors;
    d += requests;
    dd += requests * requests;
    md += errors * requests;
  }
  double ratio() const { return m / d; }
  // var_M/μD² + var_D·μM²/μD⁴ − 2·cov·μM/μD³ (GrowthBook utils.variance_of_ratios).
  double unit_variance() const {
    const double mu_m = m / n, mu_d = d / n;
    const double var_m = (mm - n * mu_m * mu_m) / (n - 1);
    const double var_d = (dd - n * mu_d * mu_d) / (n - 1);
    const double cov = (md - n * mu_m * mu_d) / (n - 1);
    return var_m / (mu_d * mu_d) + var_d * mu_m * mu_m / std::pow(mu_d, 4) -
           2 * cov * mu_m / std::pow(mu_d, 3);
  }
};

TEST(ExperimentStats, per_user_intervals_match_an_independent_delta_method_computation) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  // 80 users with 1–6 requests each; every fifth user's requests all fail (a user-level effect:
  // what makes requests of one user correlated).
  std::map<std::string, arm_sums> arms, feedback;
  std::vector<std::pair<std::string, bool>> verdicts;  // feedback id, success
  int total = 0;
  for (int u = 0; u < 80; ++u) {
    const std::string user = "user-" + std::to_string(u);
    const int requests = 1 + (u * 7) % 6;
    std::vector<std::pair<std::string, std::string>> headers{{"x-user-id", user}};
    if (u % 5 == 0) {
      headers.emplace_back("x-mock-fault", "status=500");
    }
    std::string variant;
    double errors = 0;
    for (int i = 0; i < requests; ++i) {
      auto res = c.post("/v1/chat/completions",
                        chat("assistant", R"([{"role":"user","content":"hi"}])"), headers);
      const std::string v = res.header("x-switchyard-variant");
      ASSERT_FALSE(v.empty()) << res.status << " " << res.body;
      ASSERT_TRUE(variant.empty() || variant == v) << user << " changed variant";
      variant = v;
      errors += res.status >= 500 || res.status == 429 ? 1 : 0;
      ++total;
      verdicts.emplace_back(res.header("x-switchyard-feedback-id"), u % 3 != 0);
    }
    arms[variant].add(errors, requests);
    feedback[variant].add(u % 3 != 0 ? requests : 0, requests);  // a user is happy or not
  }
  for (const auto& [id, success] : verdicts) {
    auto res = c.post("/v1/feedback", R"({"request_id":")" + id + R"(","event":")" +
                                          (success ? "success" : "failure") + R"("})");
    ASSERT_EQ(res.status, 200u) << res.body;
  }
  ASSERT_EQ(arms.size(), 2u);

  client api(r.port());
  json::value report;
  ASSERT_TRUE(eventually([&] {
    report = get_json(api, "/api/v1/experiments/users");
    double seen = 0;
    for (const auto& v : report.at("variants").as_array()) {
      seen += v.at("requests").to_number<double>();
    }
    return seen == total;
  })) << report;
  EXPECT_EQ(report.at("analysis").at("unit_of_analysis").as_string(), "unit") << report;
  EXPECT_EQ(report.at("analysis").at("method").as_string(), "sequential");
  EXPECT_EQ(report.at("phase").at("phase").as_int64(), 1);
  EXPECT_EQ(report.at("phase").at("units_multiple_variants").to_number<int>(), 0);

  // The independent computation.
  const arm_sums& ctl = arms["control"];
  const arm_sums& trt = arms["treatment"];
  const double diff = trt.ratio() - ctl.ratio();
  const double se = std::sqrt(ctl.unit_variance() / ctl.n + trt.unit_variance() / trt.n);
  const double alpha = 0.05, tuning = 2 * 500;  // 2 × planned_sample
  const double rho2 = (-2 * std::log(alpha) + std::log(-2 * std::log(alpha) + 1)) / tuning;
  const double n = ctl.n + trt.n, x = n * rho2;
  const double half = se * std::sqrt(2 * (x + 1) * std::log(std::sqrt(x + 1) / alpha) / x);
  const double z = diff / se;
  const double p = std::min(1.0, std::exp(-(x * z * z / (2 * (x + 1)) - 0.5 * std::log(x + 1))));

  const auto& vs = report.at("variants").at(1).at("vs_control").at("error_rate");
  EXPECT_NEAR(vs.at("diff").as_double(), diff, 1e-12) << vs;
  EXPECT_NEAR(vs.at("diff_ci").at(0).as_double(), diff - half, 1e-9) << vs;
  EXPECT_NEAR(vs.at("diff_ci").at(1).as_double(), diff + half, 1e-9) << vs;
  EXPECT_NEAR(vs.at("p_value").as_double(), p, 1e-9) << vs;
  // Feedback: the ids carry the user, so the success rate is a per-user ratio metric as well.
  const arm_sums& fc = feedback["control"];
  const arm_sums& ft = feedback["treatment"];
  const double fdiff = ft.ratio() - fc.ratio();
  const double fse = std::sqrt(fc.unit_variance() / fc.n + ft.unit_variance() / ft.n);
  const auto& sr = report.at("variants").at(1).at("vs_control").at("success_rate");
  EXPECT_NEAR(sr.at("diff").as_double(), fdiff, 1e-12) << sr;
  EXPECT_NEAR(sr.at("diff_ci").at(1).as_double(), fdiff + fse / se * half, 1e-9) << sr;
  EXPECT_EQ(report.at("srm").at("observed").at(0).to_number<double>(), ctl.n);
  EXPECT_EQ(report.at("srm").at("observed").at(1).to_number<double>(), trt.n);
}

TEST(ExperimentStats, a_conversation_keeps_its_variant_with_the_session_header) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const auto ranges = bucket_ranges(2, 1.0, std::vector<double>{0.5, 0.5});
  std::map<std::string, int> per_variant;
  for (int s = 0; s < 30; ++s) {
    const std::string session = "conv-" + std::to_string(s);
    const int want = assign_unit("chat", session, ranges).variant;
    std::string messages = R"([{"role":"user","content":"turn 0"})";
    for (int turn = 0; turn < 4; ++turn) {  // a growing conversation, one session id
      auto res = c.post("/v1/chat/completions", chat("chat", messages + "]"),
                        {{"x-session-id", session}, {"x-user-id", "same-user"}});
      ASSERT_EQ(res.status, 200u) << res.body;
      EXPECT_EQ(res.header("x-switchyard-variant"), want == 0 ? "short" : "long")
          << session << " turn " << turn;
      messages += R"(,{"role":"assistant","content":"ok"},{"role":"user","content":"more"})";
    }
    ++per_variant[want == 0 ? "short" : "long"];
  }
  // One user, many conversations: both variants are used (the session is the unit, not the user).
  EXPECT_GT(per_variant["short"], 0);
  EXPECT_GT(per_variant["long"], 0);
}

// GrowthBook's SDKs hash the JSON-decoded id: an escaped `user` lands where the plain one does.
TEST(ExperimentStats, body_user_is_hashed_after_json_decoding) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const auto ranges = bucket_ranges(2, 1.0, std::vector<double>{0.5, 0.5});
  auto variant = [&](const std::string& user_json) {
    auto res =
        c.post("/v1/chat/completions", R"({"model":"by-user","user":)" + user_json +
                                           R"(,"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_EQ(res.status, 200u) << res.body;
    return res.header("x-switchyard-variant");
  };
  int differs_raw = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    const std::string decoded = "jos\xc3\xa9-" + n + "\"q";  // josé-<i>"q
    const std::string want = assign_unit("body", decoded, ranges).variant == 0 ? "a" : "b";
    EXPECT_EQ(variant(R"("jos\u00e9-)" + n + R"(\"q")"), want) << i;  // escaped
    EXPECT_EQ(variant("\"jos\xc3\xa9-" + n + R"(\"q")"), want) << i;  // UTF-8, quote escaped
    differs_raw += assign_unit("body", R"(jos\u00e9-)" + n + R"(\"q)", ranges).variant !=
                   assign_unit("body", decoded, ranges).variant;
  }
  EXPECT_GT(differs_raw, 0);  // hashing the raw token would have put some elsewhere
}

TEST(ExperimentStats, a_weight_change_starts_a_phase_and_older_phases_stay_readable) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  for (int u = 0; u < 20; ++u) {
    auto res =
        c.post("/v1/chat/completions", chat("assistant", R"([{"role":"user","content":"hi"}])"),
               {{"x-user-id", "p" + std::to_string(u)}});
    ASSERT_EQ(res.status, 200u);
  }
  auto changed =
      c.post("/api/v1/experiments/users", R"({"action":"set_weights","weights":[0.2,0.8]})", admin);
  ASSERT_EQ(changed.status, 200u) << changed.body;
  auto now = get_json(c, "/api/v1/experiments/users");
  EXPECT_EQ(now.at("phase").at("phase").as_int64(), 2) << now;
  EXPECT_EQ(now.at("phase").at("reason").as_string(), "weights_changed");
  EXPECT_EQ(now.at("variants").at(0).at("requests").to_number<int>() +
                now.at("variants").at(1).at("requests").to_number<int>(),
            0);
  EXPECT_NEAR(now.at("srm").at("expected_share").at(1).as_double(), 0.8, 1e-12);
  ASSERT_EQ(now.at("phases").as_array().size(), 2u);
  auto before = get_json(c, "/api/v1/experiments/users?phase=1");
  EXPECT_EQ(before.at("phase").at("current").as_bool(), false);
  EXPECT_EQ(before.at("variants").at(0).at("requests").to_number<int>() +
                before.at("variants").at(1).at("requests").to_number<int>(),
            20);
  EXPECT_NEAR(before.at("srm").at("expected_share").at(1).as_double(), 0.5, 1e-12);
  EXPECT_FALSE(before.at("srm").at("mismatch").as_bool());
  auto bad = c.request(http::verb::get, "/api/v1/experiments/users?phase=7");
  EXPECT_EQ(bad.status, 400u) << bad.body;
  EXPECT_EQ(json::parse(bad.body).at("error").at("param").as_string(), "phase");

  // A pause and a resume start a third phase.
  ASSERT_EQ(c.post("/api/v1/experiments/users", R"({"action":"pause"})", admin).status, 200u);
  ASSERT_EQ(c.post("/api/v1/experiments/users", R"({"action":"resume"})", admin).status, 200u);
  auto resumed = get_json(c, "/api/v1/experiments/users");
  EXPECT_EQ(resumed.at("phase").at("phase").as_int64(), 3) << resumed;
  EXPECT_EQ(resumed.at("phase").at("reason").as_string(), "resumed");
}

}  // namespace
}  // namespace switchyard::test
