#pragma once

#include <string_view>

namespace switchyard {

/// `s` without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110 §5.6.3).
constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

/// ASCII case-insensitive equality (header names, auth schemes, tokens).
constexpr bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, RFC 9110
/// §11.1), "" when the value is not a bearer credential.
constexpr std::string_view bearer_token(std::string_view authorization) noexcept {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() ||
      !iequals_ascii(authorization.substr(0, scheme.size()), scheme)) {
    return {};
  }
  return trim(authorization.substr(scheme.size()));
}

/// Whether two secrets are equal, in time that reveals neither where they differ nor the
/// expected secret's length: both are hashed (SHA-256) and the digests compared with
/// CRYPTO_memcmp.
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace switchyard
