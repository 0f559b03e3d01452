// libFuzzer target: the Responses ⇄ chat translations (providers/responses_chat). The first
// byte picks what the rest is: a Responses request, a chat answer, or a chat stream (events
// separated by '\n'). Any input must translate or fail with an error value, never crash; every
// output must be valid JSON (a stream: `event:`/`data:` blocks whose data is a JSON object with
// that `type` and sequence numbers 0, 1, 2…); a stream ends in exactly one terminal event once
// finished.
//
// Links: src/providers/responses_*.cpp src/core/error.cpp (+ Boost.JSON)

#include "switchyard/providers/responses_chat.hpp"
#include "switchyard/providers/responses_stream.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchyard;

void require_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  if (ec) {
    std::abort();
  }
}

/// Checks the SSE the translator wrote; returns how many terminal events it holds.
int check_events(std::string_view out, std::uint64_t& sequence) {
  int terminals = 0;
  while (!out.empty()) {
    const auto end = out.find("\n\n");
    if (end == std::string_view::npos || !out.starts_with("event: ")) {
      std::abort();
    }
    std::string_view block = out.substr(0, end);
    out.remove_prefix(end + 2);
    const auto nl = block.find("\ndata: ");
    if (nl == std::string_view::npos) {
      std::abort();
    }
    const std::string_view name = block.substr(7, nl - 7);
    const std::string_view data = block.substr(nl + 7);
    if (data.find('\n') != std::string_view::npos) {
      std::abort();  // one data line: the JSON is serialized without raw newlines
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(data, ec);
    if (ec || !v.is_object()) {
      std::abort();
    }
    const auto& o = v.get_object();
    const auto* type = o.if_contains("type");
    const auto* seq = o.if_contains("sequence_number");
    if (type == nullptr || !type->is_string() || type->get_string() != name || seq == nullptr ||
        !seq->is_int64() || seq->get_int64() < 0 ||
        static_cast<std::uint64_t>(seq->get_int64()) != sequence) {
      std::abort();
    }
    ++sequence;
    terminals +=
        name == "response.completed" || name == "response.incomplete" || name == "response.failed";
  }
  return terminals;
}

responses_context fuzz_context() {
  responses_context c;
  c.response_id = "resp_fuzz";
  c.created_at = 1;
  c.custom_tools = {"apply_patch", "f"};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::uint8_t mode = data[0] % 3;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    responses_request_options o;
    if ((data[0] & 0x80) != 0) {
      o.instructions = "gateway prompt";
    }
    auto t = translate_responses_request(text, o);
    if (t) {
      require_json(t->body);
      // Its context must produce a valid answer too.
      t->context.response_id = "resp_fuzz";
      auto r = translate_chat_response(
          R"({"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]})",
          t->context);
      if (!r) {
        std::abort();
      }
      require_json(*r);
    } else if (t.error().code != errc::invalid_request) {
      std::abort();
    }
    return 0;
  }
  if (mode == 1) {
    auto r = translate_chat_response(text, fuzz_context());
    if (r) {
      require_json(*r);
    }
    return 0;
  }
  chat_to_responses_stream stream(fuzz_context());
  std::string out;
  std::uint64_t sequence = 0;
  int terminals = 0;
  std::string_view rest = text;
  for (int events = 0; !rest.empty() && events < 4096; ++events) {
    const auto nl = rest.find('\n');
    const std::string_view event = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    (void)stream.feed(event, out);
    terminals += check_events(out, sequence);
    out.clear();
  }
  if ((data[0] & 0x40) != 0) {
    stream.fail(make_error(errc::upstream_broken, "cut"), out);
  } else {
    (void)stream.finish(out);
  }
  terminals += check_events(out, sequence);
  if (terminals != 1 || stream.state() == responses_stream_state::open) {
    std::abort();
  }
  return 0;
}
