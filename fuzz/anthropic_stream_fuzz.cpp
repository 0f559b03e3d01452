// libFuzzer target: the Anthropic ⇄ OpenAI chat translations (src/providers/anthropic_*).
// The first byte picks what the rest is fed to:
//   0 (and any byte not below): an Anthropic SSE body, parsed with sse_parser and fed event by
//     event to anthropic_to_chat_stream (seeds: the SDK's fixture streams); the output must be
//     SSE whose data are JSON objects or a final [DONE], with nothing after [DONE] or an error
//     chunk, and the end state must agree with what was written;
//   1: a chat request body for translate_chat_request: a success is a JSON object with model,
//      max_tokens and a non-empty messages array;
//   2: a Messages body for translate_messages_response: a success is a chat.completion;
//   3: an error body for map_anthropic_error (status from the second byte): always JSON.
//
// Links: src/providers/anthropic_*.cpp src/sse/sse_parser.cpp src/core/error.cpp
// src/core/json_text.cpp (+ Boost.JSON)

#include "switchyard/providers/anthropic_chat.hpp"
#include "switchyard/providers/anthropic_errors.hpp"
#include "switchyard/providers/anthropic_response.hpp"
#include "switchyard/providers/anthropic_stream.hpp"
#include "switchyard/sse/sse_parser.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace switchyard;

boost::json::value must_parse(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) {
    std::abort();  // a translation wrote something that is not JSON
  }
  return v;
}

void check_stream(std::string_view body) {
  sse_parser in(1 << 16);
  std::vector<sse_event> events;
  (void)in.feed(body, events);  // an oversized event ends the input; what came before counts
  anthropic_to_chat_stream s({.model = "", .created = 1, .include_usage = (body.size() & 1) != 0});
  std::string out;
  for (const auto& e : events) {
    s.feed(e.event, e.data, out);
  }
  sse_parser back(1 << 24);
  std::vector<sse_event> chunks;
  if (!back.feed(out, chunks) || back.pending_bytes() != 0) {
    std::abort();  // the output is not whole SSE events
  }
  bool done = false;
  bool error = false;
  for (const auto& c : chunks) {
    if (done || error || !c.event.empty()) {
      std::abort();  // something after the end, or a named event in a chat stream
    }
    if (c.data == "[DONE]") {
      done = true;
      continue;
    }
    auto v = must_parse(c.data);
    if (!v.is_object()) {
      std::abort();
    }
    error = v.as_object().contains("error");
  }
  const auto end = s.finish();
  if ((end == anthropic_to_chat_stream::end::clean) != done ||
      (end == anthropic_to_chat_stream::end::failed) != error ||
      (error && !s.failure().has_value())) {
    std::abort();  // the reported end disagrees with what the client was sent
  }
  const auto& u = s.usage();
  if (u.input_tokens < 0 || u.output_tokens < 0 || u.cache_read_input_tokens < 0 ||
      u.cache_creation_input_tokens < 0) {
    std::abort();
  }
}

void check_request(std::string_view body) {
  auto r = translate_chat_request(body, {.model = (body.size() & 1) ? "claude" : ""});
  if (!r) {
    if (r.error().code != errc::invalid_request) {
      std::abort();
    }
    return;
  }
  auto v = must_parse(r->body);
  const auto& o = v.as_object();
  if (!o.contains("model") || !o.contains("max_tokens") || !o.at("messages").is_array() ||
      o.at("messages").as_array().empty()) {
    std::abort();
  }
}

void check_response(std::string_view body) {
  auto r = translate_messages_response(body, {.model = "", .created = 1});
  if (r) {
    auto v = must_parse(r->body);
    if (v.as_object().at("object") != "chat.completion") {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 1:
      check_request(rest);
      break;
    case 2:
      check_response(rest);
      break;
    case 3: {
      const unsigned status = rest.empty() ? 0 : 200u + static_cast<unsigned char>(rest[0]) * 2;
      must_parse(map_anthropic_error(status, rest).body);
      break;
    }
    default:
      check_stream(rest);
      break;
  }
  return 0;
}
