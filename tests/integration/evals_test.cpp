// Evaluations end to end (docs/evaluations.md): the real gateway in front of a fake upstream
// whose models answer deterministically, so every variant's pass rate is known in advance —
// model-a answers cases 0..47 of 50 correctly, model-b cases 10..49 — and with it McNemar's
// discordant counts (10 vs 2, exact p = 158/4096). Also the judge and embedding assertions
// against fake models, the API path (a job thread, results stored and shown next to the live
// experiment), and that evaluation traffic never enters the live statistics even though the
// experiment refuses client overrides.
#include "fake_upstream.hpp"
#include "harness.hpp"
#include "switchyard/http/server.hpp"
#include "switchyard/jobs/eval_runner.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <cmath>
#include <string>

namespace switchyard::test {
namespace {

namespace json = boost::json;

const std::vector<std::pair<std::string, std::string>> admin{
    {"authorization", "Bearer test-admin"}};

std::string reply(const json::value& body) {
  const std::string text = json::serialize(body);
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\n\r\n" + text;
}

json::value chat_answer(const std::string& content) {
  return json::object{
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"model", "x"},
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"message", json::object{{"role", "assistant"}, {"content", content}}},
                      {"finish_reason", "stop"}}}},
      {"usage",
       json::object{{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}}};
}

// The number N of the user's "case N" message, or -1.
int case_number(const json::array& messages) {
  for (const auto& m : messages) {
    const auto& content = m.as_object().at("content");
    if (m.as_object().at("role") == "user" && content.is_string()) {
      std::string s(content.as_string());
      if (s.starts_with("case ")) {
        return std::stoi(s.substr(5));
      }
    }
  }
  return -1;
}

json::array vector_of(std::string_view text) {
  if (text.find("close to answer") != std::string_view::npos) {
    return {1.0, 0.2, 0.0};
  }
  if (text.find("answer") != std::string_view::npos) {
    return {1.0, 0.0, 0.0};
  }
  return {0.0, 1.0, 0.0};
}

// The fake models. Chat: model-a right on cases < 48, model-b right on cases ≥ 10; judge
// scores "answer" outputs 0.9, others 0.1 (fenced), and refuses to answer in JSON when the output
// says "garbage". Embeddings: vector_of.
scripted_reply fake_models(const http::request<http::string_body>& req, int) {
  auto body = json::parse(req.body());
  const auto& o = body.as_object();
  const std::string model(o.at("model").as_string());
  if (std::string_view(req.target()).ends_with("/embeddings")) {
    json::array data;
    std::size_t i = 0;
    for (const auto& in : o.at("input").as_array()) {
      data.push_back(json::object{
          {"object", "embedding"}, {"index", i++}, {"embedding", vector_of(in.as_string())}});
    }
    return {{reply(json::object{{"object", "list"}, {"data", std::move(data)}, {"model", model}})}};
  }
  const auto& messages = o.at("messages").as_array();
  if (model == "judge") {
    const std::string prompt(messages.back().as_object().at("content").as_string());
    if (prompt.find("<output>\ngarbage") != std::string::npos) {
      return {{reply(chat_answer("I would rather not say."))}};
    }
    if (prompt.find("<output>\nanswer") != std::string::npos) {
      return {{reply(chat_answer(R"({"pass": true, "score": 0.9, "reason": "correct"})"))}};
    }
    return {{reply(chat_answer("```json\n{\"score\": 0.1, \"reason\": \"wrong\"}\n```"))}};
  }
  const int n = case_number(messages);
  if (n >= 1000) {  // the model-graded cases: the output is chosen by the case
    return {{reply(chat_answer(n == 1000 ? "answer" : n == 1001 ? "wrong" : "garbage"))}};
  }
  const bool right = model == "model-a" ? n < 48 : n >= 10;
  return {{reply(chat_answer(right ? "answer " + std::to_string(n) : "wrong"))}};
}

std::string yaml(std::uint16_t fake, const std::string& dir, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nworkers: 1\ndata_dir: " + dir + R"(
admin_token: test-admin
stats_flush: 100ms
log: { level: off, access: off }
retry: { max_attempts: 1 }
upstreams:
  - { name: fake, base_url: "http://127.0.0.1:)" +
         std::to_string(fake) + R"(/v1", api_key: sk-up, breaker: { enabled: false } }
models:
  - { name: model-a, upstream: fake, price: { input_per_mtok: 1, output_per_mtok: 2 } }
  - { name: model-b, upstream: fake }
  - { name: judge, upstream: fake }
  - { name: embed, upstream: fake }
prompts:
  - name: qa
    versions:
      - { version: v1, template: "Answer case {{n}} briefly." }
      - { version: v2, template: "Answer case {{n}} for {{audience}}.", defaults: { audience: all } }
experiments:
  - name: qa_models
    match: { model: qa }
    unit: header:x-user-id
    allow_override: false
    variants:
      - { name: a, prompt: qa@v1, model: model-a }
      - { name: b, prompt: qa@v2, model: model-b }
)" + extra;
}

// 50 cases: "case N" with the expected "answer N".
std::string golden_jsonl() {
  std::string text;
  for (int n = 0; n < 50; ++n) {
    text +=
        json::serialize(json::object{
            {"id", "case-" + std::to_string(n)},
            {"messages",
             json::array{json::object{{"role", "user"}, {"content", "case " + std::to_string(n)}}}},
            {"vars", json::object{{"n", n}}},
            {"assert", json::array{json::object{{"type", "contains"},
                                                {"value", "answer " + std::to_string(n)},
                                                {"metric", "correct"}},
                                   json::object{{"type", "finish-reason"}, {"value", "stop"}}}}}) +
        "\n";
  }
  return text;
}

json::value get_json(std::uint16_t port, const std::string& target) {
  client c(port);
  auto res = c.request(http::verb::get, target, {}, admin);
  EXPECT_EQ(res.status, 200u) << target << " " << res.body;
  return res.status == 200 ? json::parse(res.body) : json::value(json::object{});
}

std::int64_t live_requests(std::uint16_t port) {
  auto e = get_json(port, "/api/v1/experiments/qa_models");
  std::int64_t n = 0;
  for (const auto& v : e.at("variants").as_array()) {
    n += v.at("requests").to_number<std::int64_t>();
  }
  return n;
}

TEST(Evals, known_pass_rates_mcnemar_and_no_live_statistics) {
  temp_dir dir;
  fake_upstream fake(fake_models);
  rig r(yaml(fake.port(), dir.path));
  auto ds = parse_dataset(golden_jsonl());
  ASSERT_TRUE(ds.problems.empty()) << describe_problems(ds.problems);
  eval_options o;
  o.experiment = "qa_models";
  o.dataset_name = "golden.jsonl";
  o.concurrency = 4;
  o.min_pass_rate = 0.95;
  auto ep = prepare_eval(*r.gateway().snapshot().current(), o, ds.cases);
  ASSERT_TRUE(ep.problems.empty()) << describe_problems(ep.problems);
  eval_report report;
  std::atomic<std::size_t> last{0};
  run_eval(
      ep, ds.cases, {"127.0.0.1", r.port()}, report,
      [&](std::size_t done, std::size_t total) {
        EXPECT_EQ(total, 100u);
        last = done;
      },
      nullptr);
  EXPECT_EQ(last.load(), 100u);
  ASSERT_EQ(report.variants.size(), 2u);
  const auto& a = report.variants[0];
  const auto& b = report.variants[1];
  EXPECT_EQ(a.info.prompt_version, "qa@v1");
  EXPECT_EQ(a.info.model, "model-a");
  EXPECT_EQ(a.passed, 48u);
  EXPECT_EQ(a.errors, 0u);
  EXPECT_EQ(b.passed, 40u);
  EXPECT_NEAR(a.interval.lo, 0.8654, 1e-4);
  EXPECT_NEAR(b.interval.hi, 0.8876, 1e-4);
  EXPECT_EQ(a.prompt_tokens, 500);
  EXPECT_EQ(a.completion_tokens, 250);
  EXPECT_NEAR(a.cost_usd, (500 * 1.0 + 250 * 2.0) / 1e6, 1e-12);  // model-a's prices
  ASSERT_EQ(a.metrics.size(), 1u);
  EXPECT_EQ(a.metrics[0].passed, 48u);
  ASSERT_EQ(report.pairs.size(), 1u);
  EXPECT_EQ(report.pairs[0].a_only, 10u);
  EXPECT_EQ(report.pairs[0].b_only, 2u);
  EXPECT_NEAR(report.pairs[0].test.p_value, 158.0 / 4096.0, 1e-12);
  EXPECT_FALSE(report.gate_passed);  // b: 80 % < 95 %
  // Forced although the experiment refuses client overrides, and each variant's prompt and
  // model applied: the fake saw the rendered system prompt.
  bool saw_v2 = false;
  for (const auto& req : fake.received()) {
    EXPECT_TRUE(req["x-switchyard-eval"].empty()) << "the secret left the process";
    saw_v2 = saw_v2 || req.body().find("Answer case 7 for all.") != std::string::npos;
  }
  EXPECT_TRUE(saw_v2);
  // Not one of the 100 requests counted in the live experiment.
  EXPECT_EQ(live_requests(r.port()), 0);
  // A client cannot force a variant here (allow_override: false), secret or not.
  client c(r.port());
  auto res = c.post(
      "/v1/chat/completions",
      R"({"model":"qa","messages":[{"role":"user","content":"case 3"}],"metadata":{"n":"3"}})",
      {{"x-user-id", "u1"},
       {"x-switchyard-variant", "qa_models=b"},
       {"x-switchyard-eval", "guess"}});
  EXPECT_EQ(res.status, 200u);
  ASSERT_TRUE(eventually([&] { return live_requests(r.port()) == 1; }, 5s));
}

TEST(Evals, judge_and_embedding_assertions) {
  temp_dir dir;
  fake_upstream fake(fake_models);
  rig r(yaml(fake.port(), dir.path));
  auto line = [](int n, const std::string& assertion) {
    return R"({"messages":[{"role":"user","content":"case )" + std::to_string(n) +
           R"("}],"vars":{"n":1},"assert":[)" + assertion + "]}\n";
  };
  const std::string judge = R"({"type":"llm-rubric","value":"says answer","threshold":0.5})";
  const std::string similar =
      R"({"type":"similar","value":"close to answer","threshold":0.95,"model":"embed"})";
  auto ds = parse_dataset(line(1000, judge) + line(1001, judge) + line(1002, judge) +
                          line(1000, similar) + line(1001, similar));
  ASSERT_TRUE(ds.problems.empty()) << describe_problems(ds.problems);
  eval_options o;
  o.experiment = "qa_models";
  o.variants = {"a"};
  o.judge_model = "judge";
  auto ep = prepare_eval(*r.gateway().snapshot().current(), o, ds.cases);
  ASSERT_TRUE(ep.problems.empty()) << describe_problems(ep.problems);
  eval_report report;
  run_eval(ep, ds.cases, {"127.0.0.1", r.port()}, report, {}, nullptr);
  ASSERT_EQ(report.results.size(), 5u);
  auto verdict = [&](std::size_t i) { return report.results[i].asserts.at(0); };
  EXPECT_TRUE(verdict(0).pass);
  EXPECT_NEAR(verdict(0).score, 0.9, 1e-12);
  EXPECT_FALSE(verdict(1).pass);  // fenced answer, score 0.1
  EXPECT_FALSE(verdict(1).error);
  EXPECT_FALSE(verdict(2).pass);  // no JSON verdict: an error, not a pass
  EXPECT_TRUE(verdict(2).error);
  EXPECT_TRUE(report.results[2].error);
  // cos([1,0,0], [1,0.2,0]) = 1/√1.04 = 0.98058 ≥ 0.95; cos([0,1,0], [1,0.2,0]) = 0.19612.
  EXPECT_TRUE(verdict(3).pass);
  EXPECT_NEAR(verdict(3).score, 1 / std::sqrt(1.04), 1e-9);
  EXPECT_FALSE(verdict(4).pass);
  EXPECT_NEAR(verdict(4).score, 0.2 / std::sqrt(1.04), 1e-9);
  EXPECT_EQ(report.variants[0].passed, 2u);
  EXPECT_EQ(report.variants[0].errors, 1u);
  // Judge and embedding calls are evaluation traffic too.
  EXPECT_EQ(live_requests(r.port()), 0);

  // Problems found before anything runs: a judge model missing, an unknown model, a variable.
  auto bad =
      parse_dataset(line(1, judge) + line(2, R"({"type":"similar","value":"x","model":"nope"})") +
                    R"({"messages":[{"role":"user","content":"hi"}],"expected":"x"})" + "\n");
  ASSERT_TRUE(bad.problems.empty());
  eval_options none;
  none.experiment = "qa_models";
  auto problems = prepare_eval(*r.gateway().snapshot().current(), none, bad.cases).problems;
  const std::string text = describe_problems(problems);
  EXPECT_NE(text.find("line 1: assert[0]: llm-rubric needs a judge model"), std::string::npos)
      << text;
  EXPECT_NE(text.find("line 2: assert[0].model: no model `nope`"), std::string::npos) << text;
  EXPECT_NE(text.find("line 3: vars.n: variant `a` (prompt qa@v1) needs this variable"),
            std::string::npos)
      << text;
  none.variants = {"c"};
  EXPECT_NE(describe_problems(prepare_eval(*r.gateway().snapshot().current(), none, {}).problems)
                .find("has no variant `c`"),
            std::string::npos);
}

TEST(Evals, api_runs_on_a_job_thread_and_stores_results_next_to_the_experiment) {
  temp_dir dir;
  fake_upstream fake(fake_models);
  rig r(yaml(fake.port(), dir.path));
  client c(r.port());
  json::object body{{"experiment", "qa_models"},
                    {"dataset", "golden"},
                    {"jsonl", golden_jsonl()},
                    {"min_pass_rate", 0.75},
                    {"concurrency", 3}};
  // The admin token is required.
  EXPECT_EQ(c.post("/api/v1/evaluations", json::serialize(body)).status, 401u);
  // Dataset problems come back with their line numbers, before anything runs.
  json::object bad{{"experiment", "qa_models"},
                   {"jsonl",
                    "{\"vars\":{\"n\":1},\"expected\":\"x\"}\nnot json\n"
                    "{\"vars\":{\"n\":1},\"assert\":[{\"type\":\"bogus\"}]}\n"}};
  auto refused = c.post("/api/v1/evaluations", json::serialize(bad), admin);
  EXPECT_EQ(refused.status, 400u);
  const std::string err(json::parse(refused.body).at("error").at("message").as_string());
  EXPECT_NE(err.find("line 2: not valid JSON"), std::string::npos) << err;
  EXPECT_NE(err.find("line 3: assert[0].type: unknown assertion type `bogus`"), std::string::npos);
  EXPECT_EQ(fake.requests(), 0);

  auto started = c.post("/api/v1/evaluations", json::serialize(body), admin);
  ASSERT_EQ(started.status, 202u) << started.body;
  const std::string id(json::parse(started.body).at("id").as_string());
  json::value done;
  ASSERT_TRUE(eventually(
      [&] {
        done = get_json(r.port(), "/api/v1/evaluations/" + id);
        return done.at("status") == "completed";
      },
      20s));
  EXPECT_EQ(done.at("variants").as_array().at(0).at("passed").to_number<std::uint64_t>(), 48u);
  EXPECT_EQ(done.at("variants").as_array().at(1).at("passed").to_number<std::uint64_t>(), 40u);
  EXPECT_EQ(done.at("gate_passed"), json::value(true));
  EXPECT_EQ(done.at("cases").as_array().size(), 100u);
  EXPECT_NEAR(done.at("pairs").as_array().at(0).at("p_value").as_double(), 158.0 / 4096.0, 1e-12);
  auto list = get_json(r.port(), "/api/v1/evaluations?experiment=qa_models");
  ASSERT_EQ(list.at("data").as_array().size(), 1u);
  EXPECT_EQ(list.at("data").as_array().at(0).at("id"), json::value(id));
  auto e = get_json(r.port(), "/api/v1/experiments/qa_models");
  ASSERT_EQ(e.at("evaluations").as_array().size(), 1u);
  EXPECT_EQ(e.at("evaluations")
                .as_array()
                .at(0)
                .at("variants")
                .as_array()
                .at(0)
                .at("pass_rate")
                .as_double(),
            0.96);
  EXPECT_EQ(live_requests(r.port()), 0);
  EXPECT_EQ(c.request(http::verb::get, "/api/v1/evaluations/eval_nope", {}, admin).status, 404u);
}

// The `evaluations:` section supplies what a run leaves out: the judge for llm-rubric, the gate,
// the concurrency bound; the run's own values win.
TEST(Evals, configuration_defaults_apply_when_the_run_leaves_them_out) {
  temp_dir dir;
  fake_upstream fake(fake_models);
  rig r(yaml(fake.port(), dir.path,
             "evaluations: { judge_model: judge, min_pass_rate: 0.97, max_concurrency: 4 }\n"));
  client c(r.port());
  std::string jsonl = golden_jsonl();
  // One more case, judged: no judge_model in the request, the configuration's is used.
  jsonl += R"({"id":"judged","messages":[{"role":"user","content":"case 1000"}],"vars":{"n":1},)"
           R"("assert":[{"type":"llm-rubric","value":"says answer","threshold":0.5}]})"
           "\n";
  json::object body{{"experiment", "qa_models"}, {"variants", json::array{"a"}}, {"jsonl", jsonl}};

  // Above evaluations.max_concurrency: refused before anything runs.
  json::object greedy = body;
  greedy["concurrency"] = 5;
  auto refused = c.post("/api/v1/evaluations", json::serialize(greedy), admin);
  EXPECT_EQ(refused.status, 400u) << refused.body;
  EXPECT_NE(refused.body.find("evaluations.max_concurrency"), std::string::npos) << refused.body;
  EXPECT_EQ(fake.requests(), 0);

  auto run = [&](const json::object& b) {
    auto started = c.post("/api/v1/evaluations", json::serialize(b), admin);
    EXPECT_EQ(started.status, 202u) << started.body;
    if (started.status != 202u) {
      return json::value(json::object{});
    }
    const std::string id(json::parse(started.body).at("id").as_string());
    json::value done;
    EXPECT_TRUE(eventually(
        [&] {
          done = get_json(r.port(), "/api/v1/evaluations/" + id);
          return done.at("status") == "completed";
        },
        20s));
    return done;
  };
  auto done = run(body);
  ASSERT_TRUE(done.is_object() && done.as_object().contains("variants")) << done;
  EXPECT_EQ(done.at("judge_model"), json::value("judge"));
  // 48 of the 50 golden cases pass on variant a, and the judged one (score 0.9): 49 / 51.
  EXPECT_EQ(done.at("variants").as_array().at(0).at("passed").to_number<std::uint64_t>(), 49u);
  EXPECT_EQ(done.at("min_pass_rate"), json::value(0.97));
  EXPECT_EQ(done.at("gate_passed"), json::value(false)) << "0.961 < the configured 0.97";

  // The run's own gate wins over the configuration's.
  body["min_pass_rate"] = 0.9;
  auto lowered = run(body);
  ASSERT_TRUE(lowered.is_object() && lowered.as_object().contains("variants")) << lowered;
  EXPECT_EQ(lowered.at("min_pass_rate"), json::value(0.9));
  EXPECT_EQ(lowered.at("gate_passed"), json::value(true));
}

}  // namespace
}  // namespace switchyard::test
