#include "switchyard/core/eval_secret.hpp"

#include "switchyard/core/text.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace switchyard {

const std::string& eval_secret() {
  static const std::string secret = [] {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
      throw std::runtime_error("evaluations: no random bytes for the process secret");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(64);
    for (unsigned char b : bytes) {
      s.push_back(hex[b >> 4]);
      s.push_back(hex[b & 15]);
    }
    return s;
  }();
  return secret;
}

bool is_eval_request(std::string_view header_value) {
  return !header_value.empty() && same_secret(header_value, eval_secret());
}

}  // namespace switchyard
