// libFuzzer target: the upstream event classifier and the non-stream usage scanner. Any input
// must classify without crashing; removing `"usage": null` members from a valid document must
// leave valid JSON; the scanner must give the same answer however the body is split.
//
// Links: src/proxy/stream_event.cpp src/proxy/usage_scanner.cpp (+ simdjson)

#include "switchyard/proxy/stream_event.hpp"
#include "switchyard/proxy/usage_scanner.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  static simdjson::ondemand::parser parser;
  std::string text(reinterpret_cast<const char*>(data), size);
  text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  auto facts = classify_event(
      parser, simdjson::padded_string_view(text.data(), text.size(), text.capacity()));
  // On-Demand is lazy and does not validate what it skips, so the promise is about valid
  // documents (checked fully by the DOM parser): the edit keeps them valid.
  static simdjson::dom::parser strict;
  if (facts.object && !facts.null_usage.empty() && !strict.parse(text).error()) {
    for (const auto& [b, e] : facts.null_usage) {
      if (b > e || e > text.size()) {
        std::abort();
      }
    }
    const std::string edited = without_null_usage(text, facts);
    if (strict.parse(edited).error()) {
      std::abort();  // the edit broke a valid document
    }
  }
  const std::size_t stride = size == 0 ? 1 : 1 + data[0] % 31;
  usage_scanner whole;
  whole.feed(text);
  usage_scanner pieces;
  for (std::size_t at = 0; at < text.size(); at += stride) {
    pieces.feed(std::string_view(text).substr(at, stride));
  }
  auto a = whole.finish(parser);
  auto b = pieces.finish(parser);
  if (a.has_value() != b.has_value() || (a && (a->prompt_tokens != b->prompt_tokens ||
                                               a->completion_tokens != b->completion_tokens))) {
    std::abort();
  }
  return 0;
}
