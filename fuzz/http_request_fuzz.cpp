// Bytes from a client connection in, the session's answers out: framing, limits, smuggling
// rules, then the proxied body parser on what passed. Must never crash, hang or leak; every
// refusal must render as an OpenAI error body.
#include "switchyard/http/request_rules.hpp"
#include "switchyard/proxy/request_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace switchyard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static simdjson::ondemand::parser json;
  for (auto& r : parse_requests(bytes, 2048, 64 * 1024)) {
    if (r.refusal) {
      // The session answers a refusal with this body and closes the connection.
      if (error_body(*r.refusal).empty() || !describe(r.refusal->code).close_connection) {
        __builtin_trap();
      }
      continue;
    }
    if (r.method == http::verb::post && !r.body.empty()) {
      pad_for_simdjson(r.body);
      (void)parse_request_body(endpoint::chat_completions, json, r.body);
    }
  }
  return 0;
}
