// What strict request validation costs: the On-Demand field pass alone, the full RFC 8259 check
// with duplicate-key detection alone, and both (what every proxied request pays), on a typical
// chat body and on a 64 KiB conversation.
#include "switchyard/proxy/json_validate.hpp"
#include "switchyard/proxy/request_body.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace switchyard {
namespace {

std::string small_body() {
  return R"({"model":"gpt-4o-mini","temperature":0.7,"stream":true,)"
         R"("stream_options":{"include_usage":true},"metadata":{"audience":"developers"},)"
         R"("messages":[{"role":"system","content":"You are a bot."},)"
         R"({"role":"user","content":"Summarise the following text in two sentences: lorem )"
         R"(ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."}]})";
}

std::string large_body() {
  std::string b = R"({"model":"gpt-4o-mini","messages":[)";
  for (int i = 0; b.size() < 64 * 1024; ++i) {
    b += std::string(i ? "," : "") + R"({"role":")" + (i % 2 ? "assistant" : "user") +
         R"(","content":"Message )" + std::to_string(i) +
         R"(: the quick brown fox jumps over the lazy dog, again and again and again."})";
  }
  return b + "]}";
}

const std::string& body_for(const benchmark::State& state) {
  static const std::string small = small_body();
  static const std::string large = large_body();
  return state.range(0) == 0 ? small : large;
}

void BM_body_ondemand_only(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  std::string b = body_for(state);
  pad_for_simdjson(b);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_request_body(endpoint::chat_completions, parser, b, false));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(b.size()));
}
BENCHMARK(BM_body_ondemand_only)->Arg(0)->Arg(1);

void BM_body_validate_only(benchmark::State& state) {
  std::string b = body_for(state);
  pad_for_simdjson(b);
  for (auto _ : state) {
    benchmark::DoNotOptimize(validate_json_body(b));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(b.size()));
}
BENCHMARK(BM_body_validate_only)->Arg(0)->Arg(1);

void BM_body_strict_parse(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  std::string b = body_for(state);
  pad_for_simdjson(b);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_request_body(endpoint::chat_completions, parser, b));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(b.size()));
}
BENCHMARK(BM_body_strict_parse)->Arg(0)->Arg(1);

}  // namespace
}  // namespace switchyard
