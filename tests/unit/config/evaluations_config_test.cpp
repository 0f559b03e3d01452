// The `evaluations:` section: named defaults, every key read, each invalid value refused with the
// key's path and what to write instead, the model keys checked against the routes, and hot keys
// (a reload applies them); the precedence run > config > default (resolve_eval_settings).
#include "switchyard/config/config.hpp"
#include "switchyard/jobs/eval_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchyard {
namespace {

const std::string base = R"(
upstreams:
  - { name: up, base_url: "http://127.0.0.1:9/v1" }
  - { name: claude, type: anthropic, base_url: "http://127.0.0.1:9/v1" }
  - { name: embed_only, base_url: "http://127.0.0.1:9/v1", apis: [embeddings] }
models:
  - { name: small, upstream: up }
  - { name: sonnet, upstream: claude }
  - { name: vectors, upstream: embed_only }
experiments:
  - name: tone
    match: { model: assistant }
    variants: [ { name: a, model: small }, { name: b, model: sonnet } ]
)";

std::string error_of(const std::string& extra) {
  auto c = parse_config(base + extra);
  return c ? "(valid)" : c.error().message;
}

TEST(evaluations_config, named_defaults_without_the_section) {
  auto c = parse_config(base);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->evaluations, evaluations_config{});
  EXPECT_EQ(c->evaluations.judge_model, "");
  EXPECT_EQ(c->evaluations.concurrency, 4u);
  EXPECT_EQ(c->evaluations.max_concurrency, 64u);
  EXPECT_EQ(c->evaluations.request_timeout.count(), 120'000);
  EXPECT_LT(c->evaluations.min_pass_rate, 0) << "no gate unless asked for";
  EXPECT_EQ(c->evaluations.max_cases, 10'000u);
  EXPECT_EQ(c->evaluations.max_running, 2u);
  EXPECT_EQ(c->evaluations.keep, 1'000u);
}

TEST(evaluations_config, reads_every_key) {
  auto c = parse_config(base + R"(evaluations:
  judge_model: sonnet
  embedding_model: vectors
  concurrency: 3
  max_concurrency: 8
  request_timeout: 45s
  min_pass_rate: 0.95
  max_cases: 500
  max_running: 1
  keep: 20
  rate_limit_waits: 0
  rate_limit_max_wait: 2s
  max_response_bytes: 65536
)");
  ASSERT_TRUE(c) << c.error().message;
  const auto& e = c->evaluations;
  EXPECT_EQ(e.judge_model, "sonnet");  // anthropic: chat is translated to Messages
  EXPECT_EQ(e.embedding_model, "vectors");
  EXPECT_EQ(e.concurrency, 3u);
  EXPECT_EQ(e.max_concurrency, 8u);
  EXPECT_EQ(e.request_timeout.count(), 45'000);
  EXPECT_DOUBLE_EQ(e.min_pass_rate, 0.95);
  EXPECT_EQ(e.max_cases, 500u);
  EXPECT_EQ(e.max_running, 1u);
  EXPECT_EQ(e.keep, 20u);
  EXPECT_EQ(e.rate_limit_waits, 0u);
  EXPECT_EQ(e.rate_limit_max_wait.count(), 2'000);
  EXPECT_EQ(e.max_response_bytes, 65536u);
  // An experiment's match model routes too (to its variants).
  EXPECT_EQ(error_of("evaluations: { judge_model: assistant }\n"), "(valid)");
}

TEST(evaluations_config, each_invalid_value_names_its_key_and_what_to_write) {
  for (auto [extra, expected] : std::vector<std::pair<std::string, std::string>>{
           {"evaluations: { judge_model: gpt-5 }\n",
            "evaluations.judge_model: no route serves `gpt-5`: write the name of one of models: "
            "(small, sonnet, vectors), or an experiment's match.model (line 14)"},
           {"evaluations: { embedding_model: nope }\n",
            "evaluations.embedding_model: no route serves `nope`: write the name of one of "
            "models: (small, sonnet, vectors), one whose upstream serves embeddings (line 14)"},
           {"evaluations: { embedding_model: sonnet }\n",
            "evaluations.embedding_model: model `sonnet` routes to upstream `claude` (apis: "
            "messages), which does not serve embeddings: name a model whose upstream has "
            "embeddings in its apis (line 14)"},
           {"evaluations: { judge_model: vectors }\n",
            "evaluations.judge_model: model `vectors` routes to upstream `embed_only` (apis: "
            "embeddings), which does not serve chat completions: name a chat model (line 14)"},
           {"evaluations: { concurrency: 0 }\n",
            "evaluations.concurrency: must be an integer in [1, 64]"},
           {"evaluations: { concurrency: 65 }\n",
            "evaluations.concurrency: must be an integer in [1, 64]"},
           {"evaluations: { concurrency: 9, max_concurrency: 8 }\n",
            "evaluations.concurrency: must be ≤ max_concurrency (8); lower it or raise "
            "max_concurrency"},
           {"evaluations: { request_timeout: 30 }\n",
            "evaluations.request_timeout: must be a positive duration with a unit"},
           {"evaluations: { min_pass_rate: 95 }\n", "evaluations.min_pass_rate: must be at most 1"},
           {"evaluations: { min_pass_rate: -0.5 }\n",
            "evaluations.min_pass_rate: must be a number ≥ 0"},
           {"evaluations: { max_cases: 0 }\n", "evaluations.max_cases: must be an integer in [1,"},
           {"evaluations: { max_running: 0 }\n",
            "evaluations.max_running: must be an integer in [1, 64]"},
           {"evaluations: { keep: 0 }\n", "evaluations.keep: must be an integer in [1,"},
           {"evaluations: { rate_limit_waits: 101 }\n",
            "evaluations.rate_limit_waits: must be an integer in [0, 100]"},
           {"evaluations: { rate_limit_max_wait: 0s }\n",
            "evaluations.rate_limit_max_wait: must be a positive duration"},
           {"evaluations: { max_response_bytes: 10 }\n",
            "evaluations.max_response_bytes: must be an integer in [1024,"},
           {"evaluations: { judge: small }\n", "judge"},
           {"evaluations: [ small ]\n", "evaluations"},
       }) {
    const std::string e = error_of(extra);
    EXPECT_NE(e.find(expected), std::string::npos) << extra << " gave: " << e;
  }
  // Every problem at once, as --check-config prints them.
  const std::string both =
      error_of("evaluations: { judge_model: gpt-5, embedding_model: sonnet, keep: 0 }\n");
  EXPECT_NE(both.find("evaluations.judge_model"), std::string::npos) << both;
  EXPECT_NE(both.find("evaluations.embedding_model"), std::string::npos) << both;
  EXPECT_NE(both.find("evaluations.keep"), std::string::npos) << both;
}

TEST(evaluations_config, every_key_is_hot) {
  auto a = parse_config(base);
  auto b = parse_config(base + R"(evaluations:
  { judge_model: small, embedding_model: vectors, concurrency: 2, max_running: 5, keep: 3 }
)");
  ASSERT_TRUE(a && b) << (a ? b.error().message : a.error().message);
  EXPECT_EQ(boot_difference(*a, *b), "");
  EXPECT_EQ(restart_required(*a, *b), "");
  const auto keys = config_keys();
  std::size_t seen = 0;
  for (const auto& k : keys) {
    if (k.path.starts_with("evaluations.")) {
      ++seen;
      EXPECT_TRUE(k.reloadable) << k.path;
    }
  }
  EXPECT_EQ(seen, 12u);
  const auto judge = std::find_if(keys.begin(), keys.end(), [](const config_key_info& k) {
    return k.path == "evaluations.judge_model";
  });
  ASSERT_NE(judge, keys.end());
  EXPECT_EQ(judge->type, "text");
}

TEST(evaluations_config, precedence_run_over_config_over_default) {
  evaluations_config cfg;  // the named defaults
  eval_options run;
  auto s = resolve_eval_settings(cfg, run);
  EXPECT_EQ(s.concurrency, 4u);
  EXPECT_EQ(s.request_timeout.count(), 120'000);
  EXPECT_EQ(s.judge_model, "");
  EXPECT_EQ(s.judge_from, eval_source::none);
  EXPECT_FALSE(s.min_pass_rate);
  EXPECT_EQ(s.max_rate_limit_waits, 5u);

  cfg.judge_model = "judge-config";
  cfg.embedding_model = "embed-config";
  cfg.concurrency = 7;
  cfg.request_timeout = std::chrono::seconds(9);
  cfg.min_pass_rate = 0.9;
  cfg.rate_limit_waits = 1;
  cfg.rate_limit_max_wait = std::chrono::seconds(3);
  cfg.max_response_bytes = 4096;
  s = resolve_eval_settings(cfg, run);
  EXPECT_EQ(s.judge_model, "judge-config");
  EXPECT_EQ(s.judge_from, eval_source::config);
  EXPECT_EQ(s.embedding_model, "embed-config");
  EXPECT_EQ(s.concurrency, 7u);
  EXPECT_EQ(s.request_timeout.count(), 9'000);
  ASSERT_TRUE(s.min_pass_rate);
  EXPECT_DOUBLE_EQ(*s.min_pass_rate, 0.9);
  EXPECT_EQ(s.max_rate_limit_waits, 1u);
  EXPECT_EQ(s.max_rate_limit_wait.count(), 3'000);
  EXPECT_EQ(s.max_response_bytes, 4096u);

  run.judge_model = "judge-run";
  run.concurrency = 2;
  run.request_timeout = std::chrono::seconds(1);
  run.min_pass_rate = 0.0;  // a run may lower the gate to nothing, explicitly
  s = resolve_eval_settings(cfg, run);
  EXPECT_EQ(s.judge_model, "judge-run");
  EXPECT_EQ(s.judge_from, eval_source::run);
  EXPECT_EQ(s.embedding_model, "embed-config") << "each member on its own";
  EXPECT_EQ(s.embedding_from, eval_source::config);
  EXPECT_EQ(s.concurrency, 2u);
  EXPECT_EQ(s.request_timeout.count(), 1'000);
  ASSERT_TRUE(s.min_pass_rate);
  EXPECT_DOUBLE_EQ(*s.min_pass_rate, 0.0);
  EXPECT_EQ(eval_source_name(s.judge_from), "run");
  EXPECT_EQ(eval_source_name(s.embedding_from), "config");
}

}  // namespace
}  // namespace switchyard
