// Feedback request ids (experiments/feedback_id.cpp): clients send them back in POST
// /v1/feedback and as x-request-id, so verify_feedback_id parses outside data. The first byte
// picks a mode:
//   even: the rest is an id as a client would send it; verifying must not crash, and only an
//         id this key signed may pass (one from the seed corpus, or none).
//   odd:  the rest is split into claims (experiment, variant, prompt, seconds, unit, nonce),
//         signed, and verified: the round trip gives the claims back; then one byte of the id is
//         changed, and the changed id either fails or (a base64url character's unused low bits)
//         gives back exactly the same claims.
#include "switchyard/experiments/feedback_id.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace switchyard;

namespace {

constexpr std::string_view key = "fuzz-feedback-key-0123456789abcdef";

// The next field of `rest`, up to a '|' (the fuzzer's own separator, so seeds stay readable).
std::string_view next(std::string_view& rest) {
  const auto bar = rest.find('|');
  const std::string_view field = rest.substr(0, bar);
  rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
  return field;
}

template <class T>
T read_number(std::string_view text) {
  T v{};
  if (!text.empty()) {  // (an empty view's data() may be null, which memcpy must not get)
    std::memcpy(&v, text.data(), std::min(sizeof v, text.size()));
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    auto claims = verify_feedback_id(input, key);
    if (claims && sign_feedback_id(*claims, key).empty()) {
      __builtin_trap();  // an accepted id whose claims cannot be signed again
    }
    return 0;
  }
  std::string_view rest = input;
  feedback_claims c;
  c.experiment = next(rest);
  c.variant = next(rest);
  c.prompt_version = next(rest);
  c.unix_seconds = read_number<std::int64_t>(next(rest));
  c.unit = read_number<std::uint64_t>(next(rest));
  c.nonce = rest;
  std::string id;
  try {
    id = sign_feedback_id(c, key);
  } catch (const std::invalid_argument&) {
    return 0;  // a name with 0x1F, or claims too long: refused by design
  }
  if (id.size() > max_feedback_id_size ||
      id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
          std::string::npos) {
    __builtin_trap();  // ids must fit and be URL- and header-safe
  }
  auto back = verify_feedback_id(id, key);
  if (!back || !(*back == c)) {
    __builtin_trap();  // the round trip lost or changed a claim
  }
  if (verify_feedback_id(id, "another key")) {
    __builtin_trap();  // the MAC did not bind the key
  }
  const std::size_t at = (c.unix_seconds & 0x7fffffff) % id.size();
  std::string changed = id;
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  if (auto forged = verify_feedback_id(changed, key); forged && !(*forged == c)) {
    __builtin_trap();  // a changed id verified with different claims: a forgery
  }
  return 0;
}
