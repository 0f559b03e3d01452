// The relay's cost per SSE event: the response meter (SSE framing, event classification, usage,
// removal of the usage the gateway injected) over realistic OpenAI-style chat chunks.

#include "switchyard/proxy/response_meter.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using switchyard::response_meter;

// One content chunk as OpenAI sends it (compact JSON, ~230 bytes), with `"usage":null` as when
// `stream_options.include_usage` is on.
std::string content_chunk(int i, bool spaced) {
  std::string token = "tok" + std::to_string(i % 97);
  if (spaced) {  // Python json.dumps default: `"key": value`
    return "data: {\"id\": \"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\", \"object\": "
           "\"chat.completion.chunk\", \"created\": 1741570283, \"model\": \"gpt-4o-2024-08-06\", "
           "\"system_fingerprint\": \"fp_eb9dce56a8\", \"choices\": [{\"index\": 0, \"delta\": "
           "{\"content\": \"" +
           token + "\"}, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n\n";
  }
  return "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion."
         "chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":"
         "\"fp_eb9dce56a8\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
         token + "\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";
}

std::vector<std::string> stream_reads(int events, int per_read, bool spaced) {
  std::vector<std::string> reads;
  std::string cur;
  for (int i = 0; i < events; ++i) {
    cur += content_chunk(i, spaced);
    if ((i + 1) % per_read == 0) {
      reads.push_back(std::move(cur));
      cur.clear();
    }
  }
  cur +=
      "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion."
      "chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{"
      "\"prompt_tokens\":19,\"completion_tokens\":200,\"total_tokens\":219,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{"
      "\"reasoning_tokens\":0}}}\n\ndata: [DONE]\n\n";
  reads.push_back(std::move(cur));
  return reads;
}

// Arguments: events per read, strip the injected usage (0/1), spaced JSON (0/1).
void BM_relay_meter(benchmark::State& state) {
  const int events = 200;
  const auto per_read = static_cast<int>(state.range(0));
  const bool strip = state.range(1) != 0;
  const auto reads = stream_reads(events, per_read, state.range(2) != 0);
  simdjson::ondemand::parser json;
  std::size_t bytes = 0;
  for (auto _ : state) {
    response_meter m(true, 4u << 20);
    m.strip_usage(strip);
    for (const auto& r : reads) {
      if (!m.feed(r, json)) {
        state.SkipWithError("feed failed");
        return;
      }
      bytes += m.ready().size();
      m.ready().clear();
    }
    benchmark::DoNotOptimize(m.usage());
  }
  state.SetItemsProcessed(state.iterations() * (events + 2));
  state.counters["ns_per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations() * (events + 2)),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_relay_meter)
    ->ArgNames({"per_read", "strip", "spaced"})
    ->Args({1, 0, 0})
    ->Args({1, 1, 0})
    ->Args({4, 1, 0})
    ->Args({1, 1, 1});

// A non-stream chat completion body with usage at the end (~1.2 KB), in two reads.
void BM_relay_meter_body(benchmark::State& state) {
  std::string body =
      "{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\",\"created\":1741570283,\"model\":"
      "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
      "\"" +
      std::string(1000, 'x') +
      "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":"
      "250,\"total_tokens\":269}}";
  const auto half = body.size() / 2;
  simdjson::ondemand::parser json;
  for (auto _ : state) {
    response_meter m(false, 4u << 20);
    (void)m.feed(std::string_view(body).substr(0, half), json);
    (void)m.feed(std::string_view(body).substr(half), json);
    m.finish(json);
    benchmark::DoNotOptimize(m.usage());
  }
}
BENCHMARK(BM_relay_meter_body);

}  // namespace
