// What experiments add to a request: matching and assignment, the body rewrite (prompt, model,
// params) with its re-parse, signing the feedback id, and the per-request metrics.
#include "switchyard/core/json_text.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/experiments/plan.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/rewrite.hpp"
#include "switchyard/runtime/worker.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace switchyard {
namespace {

const char* yaml = R"(
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: small, upstream: up }, { name: big, upstream: up } ]
prompts:
  - name: p
    versions:
      - { version: v1, template: "You are a helpful assistant for {{audience}}. Answer briefly." }
experiments:
  - name: tone
    match: { model: virtual }
    variants:
      - { name: control, prompt: p@v1, model: small }
      - { name: treatment, prompt: p@v1, model: big, params: { temperature: 0.4 } }
)";

const std::string body =
    R"({"model":"virtual","metadata":{"audience":"developers"},"messages":[)"
    R"({"role":"system","content":"You are a bot."},)"
    R"({"role":"user","content":"Summarise the following text in two sentences: lorem ipsum )"
    R"(dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt."}]})";

std::shared_ptr<const plan> the_plan() {
  static auto p = [] {
    auto cfg = parse_config(yaml);
    return *build_plan(std::make_shared<const config>(std::move(*cfg)), {}, 1);
  }();
  return p;
}

request_view view(const std::string& user) {
  request_view r;
  r.model = "virtual";
  r.endpoint = "chat_completions";
  r.header = [&user](std::string_view name) {
    return name == "x-user-id" ? std::string_view(user) : std::string_view{};
  };
  return r;
}

void BM_assign(benchmark::State& state) {
  auto p = the_plan();
  std::string user = "user-12345";
  for (auto _ : state) {
    benchmark::DoNotOptimize(assign(*p, view(user)));
  }
}
BENCHMARK(BM_assign);

void BM_parse_only(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  for (auto _ : state) {
    std::string b = body;
    pad_for_simdjson(b);
    benchmark::DoNotOptimize(parse_request_body(endpoint::chat_completions, parser, b));
  }
}
BENCHMARK(BM_parse_only);

// Parse, render the prompt, splice model/params/system message, re-parse: the experiment path.
void BM_parse_assign_rewrite(benchmark::State& state) {
  auto p = the_plan();
  simdjson::ondemand::parser parser;
  std::string user = "user-12345";
  for (auto _ : state) {
    std::string b = body;
    pad_for_simdjson(b);
    auto f = parse_request_body(endpoint::chat_completions, parser, b);
    auto a = assign(*p, view(user));
    body_edit e;
    e.set.emplace_back("model", "\"" + a.variant->model->name + "\"");
    for (const auto& [k, v] : a.variant->params) {
      e.set.emplace_back(k, v);
    }
    auto text = a.variant->prompt->tmpl.render(
        [](std::string_view) { return std::optional<std::string_view>("developers"); }, {},
        a.variant->prompt->ref);
    append_json_escaped(e.system_message, *text);
    b = apply_edit(b, *f, e);
    pad_for_simdjson(b);
    benchmark::DoNotOptimize(parse_request_body(endpoint::chat_completions, parser, b));
  }
}
BENCHMARK(BM_parse_assign_rewrite);

void BM_sign_feedback_id(benchmark::State& state) {
  feedback_claims c{"tone", "treatment", "p@v1", 1764500000, "0123456789abcdef"};
  const std::string key = "0123456789abcdef0123456789abcdef";
  for (auto _ : state) {
    benchmark::DoNotOptimize(sign_feedback_id(c, key));
  }
}
BENCHMARK(BM_sign_feedback_id);

// As the request path signs: views of the names, into a reused string (no allocation).
void BM_sign_feedback_id_into(benchmark::State& state) {
  const feedback_claims_view c{"tone", "treatment", "p@v1", 1764500000, "0123456789abcdef"};
  const std::string key = "0123456789abcdef0123456789abcdef";
  std::string out;
  for (auto _ : state) {
    sign_feedback_id(c, key, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_sign_feedback_id_into);

// Everything a finished request adds to /metrics (counters, histograms, tokens, cost).
void BM_observe_request(benchmark::State& state) {
  static auto cfg = parse_config(yaml);
  static shared_state shared(*cfg);
  static gateway_metrics m(*cfg, 3, shared);
  access_record rec;
  rec.endpoint = "chat_completions";
  rec.model = "virtual";
  rec.routed_model = "big";
  rec.model_known = true;
  rec.upstream = "up";
  rec.experiment = "tone";
  rec.variant = "treatment";
  rec.prompt_version = "p@v1";
  rec.assignment = "assigned";
  rec.status = 200;
  rec.duration_ms = 812;
  rec.ttft_ms = 230;
  rec.upstream_ms = 811.9;
  rec.attempts = 1;
  rec.usage = token_usage{120, 40, 160};
  rec.cost_usd = 0.0007;
  for (auto _ : state) {
    m.observe(rec);
  }
}
BENCHMARK(BM_observe_request);

}  // namespace
}  // namespace switchyard
