// The access line's cost per request (log/access_log.cpp): the record a proxied chat completion
// in an experiment leaves, appended to a batch whose capacity has grown, as the worker does.

#include "switchyard/log/access_log.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

switchyard::access_record typical_record() {
  switchyard::access_record r;
  r.request_id =
      "sy2.ZXhwLWEfdmFyaWFudC1iH3YzHzE3NDE1NzAyODMfMGExYjJjM2Q0ZTVmNjA3MR8xYjJjM2Q0ZTVmNjA3MThh"
      ".bW9jay1tYWMtYnl0ZXMtMTY";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.endpoint = "chat_completions";
  r.model = "gpt-4o-mini";
  r.upstream = "static";
  r.status = 200;
  r.duration_ms = 0.412;
  r.ttfb_ms = 0.187;
  r.bytes_in = 142;
  r.bytes_out = 611;
  r.usage = switchyard::token_usage{.prompt_tokens = 19, .completion_tokens = 9};
  r.attempts = 1;
  r.experiment = "prompt-test";
  r.variant = "concise";
  r.prompt_version = "v3";
  r.assignment = "assigned";
  return r;
}

void BM_access_line(benchmark::State& state) {
  const auto r = typical_record();
  std::string batch;
  batch.reserve(64 * 1024);
  for (auto _ : state) {
    if (batch.size() > 60 * 1024) {
      batch.clear();
    }
    switchyard::append_access_line(batch, r);
    batch += '\n';
    benchmark::DoNotOptimize(batch.data());
  }
}
BENCHMARK(BM_access_line);

}  // namespace
