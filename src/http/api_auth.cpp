#include "switchyard/http/api_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <boost/beast/core/string.hpp>

namespace switchyard {

bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

std::string_view bearer_of(std::string_view authorization) {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() <= prefix.size() ||
      !boost::beast::iequals(authorization.substr(0, prefix.size()), prefix)) {
    return {};
  }
  return authorization.substr(prefix.size());
}

std::optional<error> admin_denied(std::string_view authorization, const config& cfg) {
  if (cfg.admin_token.empty()) {
    return make_error(errc::unauthorized,
                      "Admin routes are disabled: set admin_token in the configuration.");
  }
  auto token = bearer_of(authorization);
  if (token.empty() || !same_secret(token, cfg.admin_token)) {
    return make_error(errc::unauthorized, "Admin routes need Authorization: Bearer <admin_token>.");
  }
  return std::nullopt;
}

std::optional<error> reader_denied(std::string_view authorization, const config& cfg) {
  if (cfg.api_token.empty()) {
    return std::nullopt;
  }
  auto token = bearer_of(authorization);
  if (!token.empty() && (same_secret(token, cfg.api_token) ||
                         (!cfg.admin_token.empty() && same_secret(token, cfg.admin_token)))) {
    return std::nullopt;
  }
  return make_error(errc::unauthorized,
                    "The read API needs Authorization: Bearer <api_token> (or the admin token).");
}

}  // namespace switchyard
