// libFuzzer target: the SSE parser and the relay's response meter. Whatever the bytes and
// wherever they are split, the parser must not crash, must give the same events for one feed as
// for many, and the meter (without stripping) must forward exactly the bytes it was given.
//
// Links: src/sse/sse_parser.cpp src/proxy/response_meter.cpp src/proxy/stream_event.cpp
//        src/proxy/usage_scanner.cpp src/core/error.cpp (+ simdjson, Boost.JSON for error.cpp)

#include "switchyard/proxy/response_meter.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  if (size < 1) {
    return 0;
  }
  // The first byte picks the split stride; the rest is the stream.
  const std::size_t stride = 1 + data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  sse_parser whole(1 << 16);
  std::vector<sse_event> a;
  const bool whole_ok = whole.feed(body, a).has_value();

  sse_parser pieces(1 << 16);
  std::vector<sse_event> b;
  bool pieces_ok = true;
  for (std::size_t at = 0; at < body.size() && pieces_ok; at += stride) {
    pieces_ok = pieces.feed(body.substr(at, stride), b).has_value();
  }
  if (whole_ok && pieces_ok) {
    if (a.size() != b.size()) {
      std::abort();
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      // An event is dispatched at the CR of a CRLF blank line when the LF has not arrived yet:
      // its end may then lie one byte short (the LF counts as between blocks).
      const bool lf_pending = b[i].end + 1 == a[i].end && body[b[i].end] == '\n';
      if (a[i].data != b[i].data || a[i].event != b[i].event || a[i].id != b[i].id ||
          a[i].begin != b[i].begin || (a[i].end != b[i].end && !lf_pending) ||
          a[i].end > body.size()) {
        std::abort();
      }
    }
  }

  static simdjson::ondemand::parser json;
  response_meter m(true, 1 << 16);
  std::string out;
  bool ok = true;
  for (std::size_t at = 0; at < body.size() && ok; at += stride) {
    ok = m.feed(body.substr(at, stride), json).has_value();
    out += m.ready();
    m.ready().clear();
  }
  if (ok) {
    m.release_held();
    out += m.ready();
    if (out != body) {
      std::abort();  // without stripping, the relay forwards the upstream's bytes exactly
    }
  }
  // The pass-through dialects (a Responses or Messages upstream) classify with their own
  // parsers (responses_event.cpp, messages_event.cpp) and forward the bytes exactly too; the
  // usage they read must not depend on the split.
  for (api_kind dialect : {api_kind::responses, api_kind::messages}) {
    response_meter whole(true, 1 << 16, dialect);
    response_meter split(true, 1 << 16, dialect);
    std::string relayed;
    bool whole_ok = whole.feed(body, json).has_value();
    bool split_ok = true;
    for (std::size_t at = 0; at < body.size() && split_ok; at += stride) {
      split_ok = split.feed(body.substr(at, stride), json).has_value();
      relayed += split.ready();
      split.ready().clear();
    }
    if (split_ok) {
      split.release_held();
      relayed += split.ready();
      if (relayed != body) {
        std::abort();
      }
    }
    if (whole_ok && split_ok) {
      const auto& a = whole.usage();
      const auto& b = split.usage();
      if (a.has_value() != b.has_value() ||
          (a && (a->prompt_tokens != b->prompt_tokens ||
                 a->completion_tokens != b->completion_tokens))) {
        std::abort();
      }
    }
  }
  // With stripping: must not crash, and what goes out must hold no usage-only chunk.
  response_meter s(true, 1 << 16);
  s.strip_usage(true);
  std::string stripped;
  bool fed = true;
  for (std::size_t at = 0; at < body.size() && fed; at += stride) {
    fed = s.feed(body.substr(at, stride), json).has_value();
    stripped += s.ready();
    s.ready().clear();
  }
  if (fed) {
    sse_parser again(1 << 20);
    std::vector<sse_event> events;
    if (again.feed(stripped, events)) {
      for (auto& e : events) {
        auto f = classify_event(
            json, simdjson::padded_string_view(e.data.data(), e.data.size(), e.data.capacity()));
        if (f.usage_only) {
          std::abort();
        }
      }
    }
  }
  return 0;
}
