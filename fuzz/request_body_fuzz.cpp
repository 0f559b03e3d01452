// A request body in: the strict validator and the On-Demand field pass must agree, and any body
// they accept must still be valid JSON, with the same model, after the gateway's rewrites
// (model swap, params, system message or prompt, stream usage).
#include "switchyard/proxy/json_validate.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/proxy/rewrite.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace switchyard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static simdjson::ondemand::parser json;
  // The first byte picks the endpoint; the rest is the body.
  const auto ep = static_cast<endpoint>(data[0] % 3);
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  pad_for_simdjson(body);
  auto fields = parse_request_body(ep, json, body);
  if (!fields) {
    return 0;
  }
  if (!validate_json_body(body)) {
    __builtin_trap();  // the field pass accepted what the validator rejects
  }
  body_edit edit;
  edit.set.emplace_back("model", "\"fuzz-model\"");
  edit.set.emplace_back("temperature", "0.4");
  if (ep == endpoint::chat_completions) {
    edit.system_message = "Be brief.";
    edit.replace_system = (data[0] & 4) != 0;
  } else if (ep == endpoint::completions) {
    edit.prompt = "wrapped";
  }
  if (auto so = usage_stream_options(body, *fields)) {
    edit.set.emplace_back("stream_options", std::move(*so));
  }
  std::string out = apply_edit(body, *fields, edit);
  pad_for_simdjson(out);
  if (!validate_json_body(out)) {
    __builtin_trap();  // a rewrite produced invalid JSON or a duplicate key
  }
  auto again = parse_request_body(ep, json, out);
  if (!again || again->model != "fuzz-model") {
    __builtin_trap();
  }
  return 0;
}
