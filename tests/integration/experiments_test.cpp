// Experiments end to end: assignment, the rewritten upstream request, feedback, the analysis and
// admin API, restarts, hot reload and /metrics, through the real gateway and the mock LLM.
#include "harness.hpp"
#include "switchyard/experiments/assignment.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace switchyard::test {
namespace {

namespace json = boost::json;

const std::vector<std::pair<std::string, std::string>> admin{
    {"authorization", "Bearer test-admin"}};

/// What the tests vary in the config.
struct knobs {
  std::string control_weight = "0.5", treatment_weight = "0.5";
  std::string treatment_prompt = "assistant@v2";
  std::string extra_versions;  // more entries of prompts[0].versions
  std::string workers = "1";
};

// The config of the brief, plus `split` (80/20) and `strict` (a variable without a default).
std::string yaml(const std::string& dir, const knobs& k = {}) {
  return "listen: 127.0.0.1:0\nworkers: " + k.workers + "\ndata_dir: " + dir + R"(
admin_token: test-admin
feedback: { signing_key: "0123456789abcdef0123456789abcdef" }
stats_flush: 100ms
log: { level: off, access: off }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:{MOCK}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
  - { name: gpt-4o, upstream: mock, price: { input_per_mtok: 2.5, output_per_mtok: 10 } }
prompts:
  - name: assistant
    versions:
      - version: v1
        template: "You are helpful to {{audience}}."
        defaults: { audience: everyone }
      - { version: v2, template: "Be concise.", mode: replace }
)" + k.extra_versions +
         R"(
  - name: translate
    versions:
      - { version: v1, template: "Answer in {{language}}." }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, weight: )" +
         k.control_weight + R"(, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: treatment, weight: )" +
         k.treatment_weight + ", prompt: " + k.treatment_prompt +
         R"(, model: gpt-4o, params: { temperature: 0.4 } }
  - name: split
    match: { model: writer }
    variants:
      - { name: a, weight: 0.8, model: gpt-4o-mini }
      - { name: b, weight: 0.2, model: gpt-4o-mini }
  - name: strict
    match: { model: translator }
    variants:
      - { name: a, prompt: translate@v1, model: gpt-4o-mini }
      - { name: b, prompt: translate@v1, model: gpt-4o-mini }
)";
}

std::string chat(std::string_view model, std::string_view extra = "",
                 std::string_view messages = R"([{"role":"user","content":"hello"}])") {
  return std::string(R"({"model":")") + std::string(model) + "\"," + std::string(extra) +
         R"("messages":)" + std::string(messages) + "}";
}

response ask(client& c, const std::string& user, std::string_view model = "assistant",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
  if (!user.empty()) {
    headers.emplace_back("x-user-id", user);
  }
  return c.post("/v1/chat/completions", chat(model), std::move(headers));
}

// What GrowthBook (and so the gateway) assigns `user` in an experiment with these weights.
int expected_variant(std::string_view seed, const std::string& user, std::vector<double> w) {
  auto ranges = bucket_ranges(w.size(), 1.0, w);
  return assign_unit(seed, user, ranges).variant;
}

json::value get_json(client& c, const std::string& target) {
  auto res = c.request(http::verb::get, target);
  if (res.status != 200u) {
    ADD_FAILURE() << target << " → " << res.status << " " << res.body;
    return json::object{};
  }
  return json::parse(res.body);
}

const json::object& variant_of(const json::value& report, std::string_view name) {
  for (const auto& v : report.at("variants").as_array()) {
    if (v.at("name").as_string() == name) {
      return v.as_object();
    }
  }
  throw std::runtime_error("no variant " + std::string(name) + " in the report");
}

std::int64_t requests_of(const json::value& report, std::string_view variant) {
  return variant_of(report, variant).at("requests").to_number<std::int64_t>();
}

// Sum of the samples of metric `name` whose labels include every `k="v"` in `labels`.
double metric_sum(const std::string& text, std::string_view name,
                  std::initializer_list<std::string_view> labels) {
  double sum = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    std::string_view line(text.data() + at, (end == std::string::npos ? text.size() : end) - at);
    at = end == std::string::npos ? text.size() : end + 1;
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != '{') {
      continue;
    }
    bool all = true;
    for (auto l : labels) {
      all = all && line.find(l) != std::string_view::npos;
    }
    if (all) {
      sum += std::strtod(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr);
    }
  }
  return sum;
}

std::string metrics_text(client& c) {
  return c.request(http::verb::get, "/metrics").body;
}

// The system message the upstream received (first message), or "" when it had none.
std::string upstream_system(rig& r) {
  auto body = json::parse(r.upstream().last_request().body);
  const auto& first = body.at("messages").at(0);
  return first.at("role").as_string() == "system" ? std::string(first.at("content").as_string())
                                                  : "";
}

// Assigns `users` distinct users in `model` and checks the split against `weights` (4σ).
void check_split(rig& r, std::string_view model, std::string_view seed, std::vector<double> w,
                 int users) {
  client c(r.port());
  std::map<std::string, int> counts;
  const auto& names = seed == "tone" ? std::vector<std::string>{"control", "treatment"}
                                     : std::vector<std::string>{"a", "b"};
  int mismatches = 0;
  for (int i = 0; i < users; ++i) {
    auto user = "u" + std::to_string(i);
    auto res = ask(c, user, model);
    ASSERT_EQ(res.status, 200u) << res.body;
    auto v = res.header("x-switchyard-variant");
    ++counts[v];
    int want = expected_variant(seed, user, w);
    mismatches += v != names[static_cast<std::size_t>(want)] ? 1 : 0;
  }
  EXPECT_EQ(mismatches, 0) << "the gateway must assign as GrowthBook's hash does";
  const double n = users, p = w[0];
  const double share = counts[names[0]] / n, sigma = std::sqrt(p * (1 - p) / n);
  EXPECT_LT(std::abs(share - p), 4 * sigma) << names[0] << " share " << share;
  EXPECT_EQ(counts[names[0]] + counts[names[1]], users);
}

TEST(Experiments, users_split_by_weight_and_match_growthbook_hashing) {
  temp_dir dir;
  rig r(yaml(dir.path));
  constexpr int users = 10'000;  // ~3 s per split on a 2-core box
  check_split(r, "assistant", "tone", {0.5, 0.5}, users);
  check_split(r, "writer", "split", {0.8, 0.2}, users);
}

TEST(Experiments, a_user_keeps_its_variant_and_no_unit_means_no_experiment) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  std::map<std::string, std::string> first;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 50; ++i) {
      auto user = "repeat-" + std::to_string(i);
      auto v = ask(c, user).header("x-switchyard-variant");
      ASSERT_FALSE(v.empty());
      auto [it, fresh] = first.emplace(user, v);
      EXPECT_EQ(it->second, v) << user << " changed variant in round " << round;
    }
  }
  auto res = ask(c, "");
  ASSERT_EQ(res.status, 200u) << res.body;
  for (auto h : {"x-switchyard-experiment", "x-switchyard-variant", "x-switchyard-prompt-version",
                 "x-switchyard-feedback-id"}) {
    EXPECT_EQ(res.header(h), "") << h;
  }
}

// First user (u0, u1, …) that the tone experiment puts in `variant` (0 control, 1 treatment).
std::string user_in(int variant) {
  for (int i = 0; i < 1000; ++i) {
    auto user = "u" + std::to_string(i);
    if (expected_variant("tone", user, {0.5, 0.5}) == variant) {
      return user;
    }
  }
  throw std::runtime_error("no user found");
}

TEST(Experiments, upstream_gets_the_variants_model_params_and_rendered_prompt) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const auto control = user_in(0), treatment = user_in(1);

  auto res = ask(c, treatment);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-experiment"), "tone");
  EXPECT_EQ(res.header("x-switchyard-variant"), "treatment");
  EXPECT_EQ(res.header("x-switchyard-prompt-version"), "assistant@v2");
  auto seen = json::parse(r.upstream().last_request().body);
  EXPECT_EQ(seen.at("model").as_string(), "gpt-4o");
  EXPECT_DOUBLE_EQ(seen.at("temperature").to_number<double>(), 0.4);

  // v2 replaces the client's system message.
  auto replaced =
      c.post("/v1/chat/completions",
             chat("assistant", "",
                  R"([{"role":"system","content":"Be verbose."},{"role":"user","content":"hi"}])"),
             {{"x-user-id", treatment}});
  ASSERT_EQ(replaced.status, 200u) << replaced.body;
  seen = json::parse(r.upstream().last_request().body);
  ASSERT_EQ(seen.at("messages").as_array().size(), 2u) << seen;
  EXPECT_EQ(upstream_system(r), "Be concise.");
  EXPECT_EQ(seen.at("messages").at(1).at("content").as_string(), "hi");

  // v1 prepends, with metadata.audience or its default.
  res = c.post("/v1/chat/completions", chat("assistant", R"("metadata":{"audience":"kids"},)"),
               {{"x-user-id", control}});
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(res.header("x-switchyard-variant"), "control");
  seen = json::parse(r.upstream().last_request().body);
  EXPECT_EQ(seen.at("model").as_string(), "gpt-4o-mini");
  EXPECT_EQ(seen.as_object().if_contains("temperature"), nullptr);
  EXPECT_EQ(upstream_system(r), "You are helpful to kids.");
  EXPECT_EQ(seen.at("messages").at(1).at("content").as_string(), "hello");
  ASSERT_EQ(ask(c, control).status, 200u);
  EXPECT_EQ(upstream_system(r), "You are helpful to everyone.");

  // A variable without a default must be sent.
  auto before = r.upstream().counters().requests.load();
  auto missing = ask(c, "someone", "translator");
  ASSERT_EQ(missing.status, 400u) << missing.body;
  auto e = json::parse(missing.body).at("error");
  EXPECT_EQ(e.at("param").as_string(), "metadata.language");
  EXPECT_NE(e.at("message").as_string().find("language"), std::string::npos);
  EXPECT_EQ(r.upstream().counters().requests.load(), before);
}

TEST(Experiments, qa_override_forces_a_variant_and_unknown_ones_are_ignored) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const auto control = user_in(0);
  auto forced = ask(c, control, "assistant", {{"x-switchyard-variant", "tone=treatment"}});
  ASSERT_EQ(forced.status, 200u);
  EXPECT_EQ(forced.header("x-switchyard-variant"), "treatment");
  EXPECT_EQ(json::parse(r.upstream().last_request().body).at("model").as_string(), "gpt-4o");
  auto unknown = ask(c, control, "assistant", {{"x-switchyard-variant", "tone=nope"}});
  EXPECT_EQ(unknown.header("x-switchyard-variant"), "control");
}

TEST(Experiments, feedback_is_recorded_once_verified_and_attributed_on_another_replica) {
  temp_dir dir_a, dir_b;
  rig a(yaml(dir_a.path));
  rig b(yaml(dir_b.path));  // same signing key, nothing else shared
  client ca(a.port()), cb(b.port());
  auto res = ask(ca, user_in(1));
  ASSERT_EQ(res.status, 200u);
  auto id = res.header("x-switchyard-feedback-id");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(res.header("x-request-id"), id) << "no client id: the request id is the signed one";

  auto send = [](client& c, const std::string& rid) {
    return c.post("/v1/feedback", R"({"request_id":")" + rid + R"(","event":"success"})");
  };
  auto first = send(ca, id);
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(json::parse(first.body).at("status").as_string(), "recorded");
  EXPECT_EQ(json::parse(send(ca, id).body).at("status").as_string(), "duplicate");

  auto forged = id;
  auto& ch = forged[forged.size() - 6];  // inside the MAC, clear of base64 padding bits
  ch = ch == 'A' ? 'B' : 'A';
  auto bad = send(ca, forged);
  ASSERT_EQ(bad.status, 400u) << bad.body;
  auto e = json::parse(bad.body).at("error");
  EXPECT_EQ(e.at("param").as_string(), "request_id");
  EXPECT_NE(e.at("message").as_string().find("signature"), std::string::npos) << e;

  auto other = send(cb, id);
  ASSERT_EQ(other.status, 200u) << other.body;
  auto v = json::parse(other.body);
  EXPECT_EQ(v.at("status").as_string(), "recorded");
  EXPECT_EQ(v.at("experiment").as_string(), "tone");
  EXPECT_EQ(v.at("variant").as_string(), "treatment");
  auto report = get_json(cb, "/api/v1/experiments/tone");
  const auto& fb = variant_of(report, "treatment").at("feedback");
  EXPECT_EQ(fb.at("events").at("success").to_number<int>(), 1) << fb;
}

TEST(Experiments, analysis_api_reports_traffic_timeline_and_prompts) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  std::map<std::string, std::int64_t> sent;
  for (int i = 0; i < 40; ++i) {
    auto res = ask(c, "a" + std::to_string(i % 20));  // 20 users, twice each
    ASSERT_EQ(res.status, 200u);
    ++sent[res.header("x-switchyard-variant")];
  }
  client api(r.port());
  json::value report;
  EXPECT_TRUE(eventually([&] {
    report = get_json(api, "/api/v1/experiments/tone");
    return requests_of(report, "control") + requests_of(report, "treatment") == 40;
  })) << report;
  EXPECT_EQ(requests_of(report, "control"), sent["control"]);
  EXPECT_EQ(requests_of(report, "treatment"), sent["treatment"]);
  EXPECT_EQ(variant_of(report, "control").at("units").to_number<std::int64_t>() +
                variant_of(report, "treatment").at("units").to_number<std::int64_t>(),
            20);
  EXPECT_TRUE(report.at("verdict").at("state").is_string()) << report;
  EXPECT_EQ(report.at("status").as_string(), "running");

  auto list = get_json(api, "/api/v1/experiments");
  std::set<std::string> names;
  for (const auto& e : list.at("data").as_array()) {
    names.emplace(e.at("name").as_string());
  }
  EXPECT_TRUE(names.contains("tone"));

  auto timeline = get_json(api, "/api/v1/experiments/tone/timeline?bucket=1h");
  ASSERT_FALSE(timeline.at("buckets").as_array().empty()) << timeline;
  const auto& bucket = timeline.at("buckets").at(0).at("variants");
  EXPECT_EQ(bucket.at("control").at("requests").to_number<std::int64_t>() +
                bucket.at("treatment").at("requests").to_number<std::int64_t>(),
            40);

  auto prompt = get_json(api, "/api/v1/prompts/assistant");
  EXPECT_EQ(prompt.at("versions").at(0).at("version").as_string(), "v1");
  EXPECT_EQ(prompt.at("versions").at(0).at("calls").to_number<std::int64_t>(), sent["control"]);
  auto compare = get_json(api, "/api/v1/prompts/assistant/compare?a=v1&b=v2");
  auto diff = std::string(compare.at("diff").as_string());
  EXPECT_NE(diff.find("-You are helpful to {{audience}}."), std::string::npos) << diff;
  EXPECT_NE(diff.find("+Be concise."), std::string::npos) << diff;
}

// The variants of users u0..u19 on a fresh connection: "*" when each got its hashed one.
std::set<std::string> variants_now(rig& r) {
  client c(r.port());
  std::set<std::string> seen;
  bool all_hashed = true;
  for (int i = 0; i < 20; ++i) {
    auto user = "u" + std::to_string(i);
    auto v = ask(c, user).header("x-switchyard-variant");
    all_hashed =
        all_hashed && v == (expected_variant("tone", user, {0.5, 0.5}) ? "treatment" : "control");
    seen.insert(v);
  }
  return all_hashed ? std::set<std::string>{"*"} : seen;
}

TEST(Experiments, admin_pause_resume_conclude_persist_across_restart) {
  temp_dir dir;
  using set = std::set<std::string>;
  auto act = [](client& c, std::string_view body, bool authorised = true) {
    return c.post("/api/v1/experiments/tone", std::string(body),
                  authorised ? admin : decltype(admin){});
  };
  {
    rig r(yaml(dir.path));
    client c(r.port());
    auto denied = act(c, R"({"action":"pause"})", false);
    EXPECT_EQ(denied.status, 401u) << denied.body;
    EXPECT_EQ(variants_now(r), set{"*"}) << "an unauthorised pause changes nothing";
    auto paused = act(c, R"({"action":"pause"})");
    ASSERT_EQ(paused.status, 200u) << paused.body;
    EXPECT_EQ(json::parse(paused.body).at("status").as_string(), "paused");
    EXPECT_EQ(variants_now(r), set{"control"});
    ASSERT_EQ(act(c, R"({"action":"resume"})").status, 200u);
    EXPECT_EQ(variants_now(r), set{"*"});
    auto concluded = act(c, R"({"action":"conclude","winner":"treatment"})");
    ASSERT_EQ(concluded.status, 200u) << concluded.body;
    EXPECT_EQ(variants_now(r), set{"treatment"});
  }
  rig again(yaml(dir.path));
  EXPECT_EQ(variants_now(again), set{"treatment"}) << "the conclusion survives a restart";
  client c(again.port());
  auto report = get_json(c, "/api/v1/experiments/tone");
  EXPECT_EQ(report.at("status").as_string(), "concluded");
  EXPECT_EQ(report.at("winner").as_string(), "treatment");
  ASSERT_EQ(act(c, R"({"action":"resume"})").status, 200u);
  EXPECT_EQ(variants_now(again), set{"*"});
}

TEST(Experiments, restart_keeps_the_analysis) {
  temp_dir dir;
  std::map<std::string, std::int64_t> sent;
  {
    rig r(yaml(dir.path));
    client c(r.port());
    for (int i = 0; i < 30; ++i) {
      ++sent[ask(c, "r" + std::to_string(i)).header("x-switchyard-variant")];
    }
  }  // stopped right away: the last flush happens on shutdown
  rig again(yaml(dir.path));
  client c(again.port());
  auto report = get_json(c, "/api/v1/experiments/tone");
  EXPECT_EQ(requests_of(report, "control"), sent["control"]) << report;
  EXPECT_EQ(requests_of(report, "treatment"), sent["treatment"]) << report;
}

// A gateway started from a config file, so that POST /api/v1/reload can re-read it.
class file_rig {
 public:
  file_rig(const std::string& dir, const knobs& k) : path_(dir + "/switchyard.yaml") {
    mock_.start();
    write(k);
    auto cfg = load_config_file(path_);
    if (!cfg) {
      throw std::runtime_error("test config: " + cfg.error().message);
    }
    gateway_ = std::make_unique<server>(std::make_shared<const config>(std::move(*cfg)), path_);
    gateway_->start();
  }
  ~file_rig() {
    gateway_->drain();
    gateway_->wait(steady_clock::now() + 5s);
    gateway_.reset();
    mock_.stop();
  }
  file_rig(const file_rig&) = delete;
  file_rig& operator=(const file_rig&) = delete;

  void write(const knobs& k) {
    auto text = yaml(std::filesystem::path(path_).parent_path().string(), k);
    for (auto at = text.find("{MOCK}"); at != std::string::npos; at = text.find("{MOCK}")) {
      text.replace(at, 6, std::to_string(mock_.port()));
    }
    std::ofstream(path_, std::ios::trunc) << text;
  }
  void write_raw(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::uint16_t port() const { return gateway_->port(); }
  mock::server& upstream() { return mock_; }

 private:
  std::string path_;
  mock::server mock_{mock::options{}};
  std::unique_ptr<server> gateway_;
};

TEST(Experiments, hot_reload_rejects_bad_configs_and_applies_good_ones) {
  temp_dir dir;
  file_rig r(dir.path, {});
  client c(r.port());
  const auto control = user_in(0);
  auto reload = [&] { return c.post("/api/v1/reload", "{}", admin); };
  EXPECT_EQ(c.post("/api/v1/reload", "{}").status, 401u);

  knobs broken;
  broken.treatment_prompt = "assistant@v9";
  r.write(broken);
  auto rejected = reload();
  EXPECT_EQ(rejected.status, 409u) << rejected.body;
  EXPECT_NE(rejected.body.find("assistant@v9"), std::string::npos) << rejected.body;
  r.write_raw("listen: [unclosed\n");
  EXPECT_EQ(reload().status, 409u);
  knobs restart;
  restart.workers = "2";
  r.write(restart);
  rejected = reload();
  EXPECT_EQ(rejected.status, 409u);
  EXPECT_NE(rejected.body.find("workers"), std::string::npos) << rejected.body;
  auto still = ask(c, user_in(1));
  ASSERT_EQ(still.status, 200u) << "the old config keeps serving";
  EXPECT_EQ(still.header("x-switchyard-prompt-version"), "assistant@v2");

  knobs next;
  next.control_weight = "0";
  next.treatment_weight = "1";
  next.treatment_prompt = "assistant@v3";
  next.extra_versions = R"(      - { version: v3, template: "Reply in one line.", mode: replace }
)";
  r.write(next);
  auto applied = reload();
  ASSERT_EQ(applied.status, 200u) << applied.body;
  EXPECT_EQ(json::parse(applied.body).at("status").as_string(), "reloaded");
  auto res = ask(c, control);
  ASSERT_EQ(res.status, 200u);
  EXPECT_EQ(res.header("x-switchyard-variant"), "treatment") << "weights 0/1 after the reload";
  EXPECT_EQ(res.header("x-switchyard-prompt-version"), "assistant@v3");
  auto seen = json::parse(r.upstream().last_request().body);
  EXPECT_EQ(seen.at("messages").at(0).at("content").as_string(), "Reply in one line.");
}

TEST(Experiments, metrics_count_experiment_traffic_and_pass_promtool) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  std::map<std::string, int> sent;
  for (int i = 0; i < 30; ++i) {
    ++sent[ask(c, "m" + std::to_string(i)).header("x-switchyard-variant")];
  }
  ASSERT_GT(sent["control"], 0);
  ASSERT_GT(sent["treatment"], 0);
  std::string text;
  auto count = [&](std::string_view variant) {
    return metric_sum(text, "switchyard_requests_total", {R"(experiment="tone")", variant});
  };
  EXPECT_TRUE(eventually([&] {
    text = metrics_text(c);
    return count(R"(variant="control")") + count(R"(variant="treatment")") == 30;
  })) << text;
  EXPECT_EQ(count(R"(variant="control")"), sent["control"]);
  EXPECT_EQ(count(R"(variant="treatment")"), sent["treatment"]);
  EXPECT_GT(metric_sum(text, "switchyard_cost_usd_total", {R"(experiment="tone")"}), 0);
  EXPECT_EQ(metric_sum(text, "switchyard_experiment_assignments_total",
                       {R"(experiment="tone")", R"(variant="treatment")"}),
            sent["treatment"]);

  if (!std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "promtool is not installed";
  }
  temp_dir out;
  std::ofstream(out.path + "/metrics.txt") << text;
  std::string cmd = "/usr/bin/promtool check metrics < " + out.path + "/metrics.txt 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string report;
  char buf[512];
  for (int i = 0; i < 10'000 && std::fgets(buf, sizeof buf, p); ++i) {
    report += buf;
  }
  EXPECT_EQ(::pclose(p), 0) << report;
}

TEST(Experiments, streams_count_reported_usage_without_showing_it_unasked) {
  temp_dir dir;
  rig r(yaml(dir.path));
  client c(r.port());
  const auto user = user_in(0);
  auto body = chat("assistant", R"("stream":true,)");
  auto head = c.start_stream("/v1/chat/completions", body, {{"x-user-id", user}});
  ASSERT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("x-switchyard-variant"), "control");
  std::vector<std::string> events;
  for (int i = 0; i < 1000; ++i) {
    auto e = c.next_event();
    if (!e) {
      break;
    }
    events.push_back(*e);
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) {
    EXPECT_EQ(e.find("\"usage\""), std::string::npos) << e;
  }
  auto seen = json::parse(r.upstream().last_request().body);
  EXPECT_TRUE(seen.at("stream_options").at("include_usage").as_bool()) << seen;

  std::string text;
  EXPECT_TRUE(eventually([&] {
    text = metrics_text(c);
    return metric_sum(text, "switchyard_tokens_total",
                      {R"(experiment="tone")", R"(source="reported")"}) > 0;
  })) << text;
  EXPECT_EQ(metric_sum(text, "switchyard_tokens_total",
                       {R"(experiment="tone")", R"(source="estimated")"}),
            0);
  EXPECT_GT(metric_sum(text, "switchyard_cost_usd_total", {R"(experiment="tone")"}), 0);

  auto asked = chat("assistant", R"("stream":true,"stream_options":{"include_usage":true},)");
  ASSERT_EQ(c.start_stream("/v1/chat/completions", asked, {{"x-user-id", user}}).status, 200u);
  events.clear();
  for (int i = 0; i < 1000; ++i) {
    auto e = c.next_event();
    if (!e) {
      break;
    }
    events.push_back(*e);
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto usage = json::parse(events[events.size() - 2]);
  EXPECT_GT(usage.at("usage").at("total_tokens").to_number<std::int64_t>(), 0) << usage;
}

}  // namespace
}  // namespace switchyard::test
