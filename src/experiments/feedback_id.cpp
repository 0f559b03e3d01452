#include "switchyard/experiments/feedback_id.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

// The low-level SHA-256 API (see mac_of) is deprecated in OpenSSL 3.0, not removed; this TU uses
// it knowingly. A pragma, not OPENSSL_SUPPRESS_DEPRECATED: with the precompiled header
// (CMakeLists.txt) OpenSSL's headers are already in before any define of this file.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace switchyard {

namespace {

constexpr std::string_view prefix = "sy1.";
constexpr std::string_view prefix_with_unit = "sy2.";  // same length
static_assert(prefix.size() == prefix_with_unit.size());
constexpr char separator = '\x1f';
constexpr std::size_t mac_size = 16;  // 128 bits: forging one takes 2^128 tries
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Unpadded base64url of `n` bytes into `dst` (base64url_size(n) chars), three bytes to four
// characters at a time: the per-bit writer this replaced was 1.5 % of a worker's CPU at c=64
// (bench/PROFILE.md, "Per-phase CPU at c=64").
char* encode_base64url(const unsigned char* in, std::size_t n, char* dst) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v =
        (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    dst[0] = alphabet[v >> 18];
    dst[1] = alphabet[(v >> 12) & 0x3f];
    dst[2] = alphabet[(v >> 6) & 0x3f];
    dst[3] = alphabet[v & 0x3f];
    dst += 4;
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16;
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 0x3f];
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8);
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 0x3f];
    *dst++ = alphabet[(v >> 6) & 0x3f];
  }
  return dst;
}

constexpr std::size_t base64url_size(std::size_t bytes) {
  return (bytes * 4 + 2) / 3;
}

int sextet(char c) noexcept {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  return c == '-' ? 62 : c == '_' ? 63 : -1;
}

// Strict unpadded base64url: only alphabet characters, no impossible length, and the unused low
// bits of the last character zero, so every byte string has exactly one accepted encoding.
bool decode_base64url(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1) {
    return false;
  }
  out.clear();
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = sextet(c);
    if (v < 0) {
      return false;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

// HMAC-SHA256 (RFC 2104) from SHA-256 states keyed once per thread, so a MAC allocates nothing.
// OpenSSL 3.0's EVP layer allocates a provider context on every digest init and context copy
// (EVP_MAC restarts by copying its keyed contexts: two to four heap blocks per id; even a
// reused EVP_MD_CTX gets a new one per EVP_DigestInit_ex), while the low-level SHA256_* API
// works on a plain struct on the stack with the same assembly. That API is deprecated in 3.0
// but present in every 3.x (OPENSSL_SUPPRESS_DEPRECATED above); the states after the key pads
// are kept, so a MAC is two copies of a struct and three SHA-256 blocks for a usual id.
constexpr std::size_t sha256_block = 64;

struct mac_state {
  std::string key;     // the key the states are for
  SHA256_CTX inner{};  // after absorbing key ^ ipad
  SHA256_CTX outer{};  // after absorbing key ^ opad
  bool keyed = false;
};

std::array<unsigned char, SHA256_DIGEST_LENGTH> mac_of(std::string_view signed_part,
                                                       std::string_view key) {
  thread_local mac_state m;
  bool ok = true;
  if (!m.keyed || m.key != key) {
    std::array<unsigned char, sha256_block> k0{};  // the key, hashed when longer than a block
    if (key.size() > sha256_block) {
      SHA256_CTX c;
      ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, key.data(), key.size()) == 1 &&
           SHA256_Final(k0.data(), &c) == 1;
    } else {
      std::copy(key.begin(), key.end(), reinterpret_cast<char*>(k0.data()));
    }
    std::array<unsigned char, sha256_block> ipad{};
    std::array<unsigned char, sha256_block> opad{};
    for (std::size_t i = 0; i < sha256_block; ++i) {
      ipad[i] = static_cast<unsigned char>(k0[i] ^ 0x36);
      opad[i] = static_cast<unsigned char>(k0[i] ^ 0x5c);
    }
    ok = ok && SHA256_Init(&m.inner) == 1 &&
         SHA256_Update(&m.inner, ipad.data(), ipad.size()) == 1 && SHA256_Init(&m.outer) == 1 &&
         SHA256_Update(&m.outer, opad.data(), opad.size()) == 1;
    OPENSSL_cleanse(k0.data(), k0.size());
    OPENSSL_cleanse(ipad.data(), ipad.size());
    OPENSSL_cleanse(opad.data(), opad.size());
    m.key.assign(key);
    m.keyed = ok;
  }
  std::array<unsigned char, SHA256_DIGEST_LENGTH> inner_md{};
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256_CTX inner = m.inner;
  SHA256_CTX outer = m.outer;
  ok = ok && SHA256_Update(&inner, signed_part.data(), signed_part.size()) == 1 &&
       SHA256_Final(inner_md.data(), &inner) == 1 &&
       SHA256_Update(&outer, inner_md.data(), inner_md.size()) == 1 &&
       SHA256_Final(md.data(), &outer) == 1;
  OPENSSL_cleanse(&inner, sizeof inner);
  OPENSSL_cleanse(&outer, sizeof outer);
  if (!ok) {
    m.keyed = false;
    throw std::runtime_error("HMAC-SHA256 failed");  // only without a usable libcrypto
  }
  return md;
}

error not_ours() {
  return make_error(errc::invalid_request, "request_id is not a Switchyard request id",
                    "request_id");
}

// Splits the payload into its five fields (six with a unit); the nonce takes the rest.
bool parse_payload(std::string_view payload, bool with_unit, feedback_claims& c) {
  std::array<std::string_view, 5> head;
  const std::size_t fields = with_unit ? 5 : 4;
  for (std::size_t i = 0; i < fields; ++i) {
    const std::size_t end = payload.find(separator);
    if (end == std::string_view::npos) {
      return false;
    }
    head[i] = payload.substr(0, end);
    payload.remove_prefix(end + 1);
  }
  const char* last = head[3].data() + head[3].size();
  const auto [ptr, ec] = std::from_chars(head[3].data(), last, c.unix_seconds);
  if (ec != std::errc{} || ptr != last || head[3].empty()) {
    return false;
  }
  if (with_unit) {
    const char* end = head[4].data() + head[4].size();
    const auto [uptr, uec] = std::from_chars(head[4].data(), end, c.unit, 16);
    if (uec != std::errc{} || uptr != end || head[4].size() != 16 || c.unit == 0) {
      return false;
    }
  }
  c.experiment = head[0];
  c.variant = head[1];
  c.prompt_version = head[2];
  c.nonce = payload;
  return true;
}

}  // namespace

std::string sign_feedback_id(const feedback_claims& c, std::string_view key) {
  std::string id;
  sign_feedback_id(feedback_claims_view{c.experiment, c.variant, c.prompt_version, c.unix_seconds,
                                        c.nonce, c.unit},
                   key, id);
  return id;
}

void sign_feedback_id(const feedback_claims_view& c, std::string_view key, std::string& out) {
  for (std::string_view name : {c.experiment, c.variant, c.prompt_version}) {
    if (name.find(separator) != std::string_view::npos) {
      throw std::invalid_argument("feedback id: name contains 0x1F: " + std::string(name));
    }
  }
  char seconds[24];
  const auto sec = std::to_chars(seconds, seconds + sizeof seconds, c.unix_seconds);
  const std::string_view seconds_text(seconds, static_cast<std::size_t>(sec.ptr - seconds));
  char hex[17];
  std::string_view unit_text;
  if (c.unit != 0) {
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(c.unit));
    unit_text = std::string_view(hex, 16);
  }
  const std::size_t payload_size =
      c.experiment.size() + c.variant.size() + c.prompt_version.size() + seconds_text.size() +
      (unit_text.empty() ? 0 : unit_text.size() + 1) + c.nonce.size() + 4;  // the separators
  const std::size_t size =
      prefix.size() + base64url_size(payload_size) + 1 + base64url_size(mac_size);
  if (size > max_feedback_id_size) {
    throw std::invalid_argument("feedback id: claims too long for a request id");
  }
  // The payload is gathered on the stack (the size check above bounds it), then encoded in one
  // pass straight into `out`, which is sized once.
  std::array<unsigned char, max_feedback_id_size> payload;
  std::size_t at = 0;
  const auto put = [&](std::string_view bytes) {
    if (!bytes.empty()) {  // an empty view (a variant without a prompt) may have no data()
      std::memcpy(payload.data() + at, bytes.data(), bytes.size());
      at += bytes.size();
    }
  };
  const std::string_view sep(&separator, 1);
  put(c.experiment);
  put(sep);
  put(c.variant);
  put(sep);
  put(c.prompt_version);
  put(sep);
  put(seconds_text);
  put(sep);
  if (!unit_text.empty()) {
    put(unit_text);
    put(sep);
  }
  put(c.nonce);
  out.resize(size);
  char* const start = out.data();
  std::memcpy(start, (c.unit != 0 ? prefix_with_unit : prefix).data(), prefix.size());
  char* end = encode_base64url(payload.data(), at, start + prefix.size());
  const auto mac = mac_of(std::string_view(start, static_cast<std::size_t>(end - start)), key);
  *end++ = '.';
  end = encode_base64url(mac.data(), mac_size, end);
  assert(static_cast<std::size_t>(end - start) == size);  // base64url_size counted it
}

result<feedback_claims> verify_feedback_id(std::string_view id, std::string_view key) {
  const bool with_unit = id.starts_with(prefix_with_unit);
  if (id.empty() || id.size() > max_feedback_id_size || !(id.starts_with(prefix) || with_unit)) {
    return not_ours();
  }
  const std::size_t dot = id.find('.', prefix.size());
  if (dot == std::string_view::npos || dot == prefix.size()) {
    return not_ours();
  }
  std::string payload;
  std::string mac;
  if (!decode_base64url(id.substr(prefix.size(), dot - prefix.size()), payload) ||
      !decode_base64url(id.substr(dot + 1), mac) || mac.size() != mac_size) {
    return not_ours();
  }
  const auto expected = mac_of(id.substr(0, dot), key);
  if (CRYPTO_memcmp(expected.data(), mac.data(), mac_size) != 0) {
    return make_error(errc::invalid_request,
                      "request_id signature does not match: it was not issued by this gateway (or "
                      "the feedback key differs)",
                      "request_id");
  }
  feedback_claims c;
  if (!parse_payload(payload, with_unit, c)) {
    return not_ours();  // correctly signed, so only a different id version could get here
  }
  return c;
}

std::string generate_feedback_key() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no entropy for a feedback key");
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

}  // namespace switchyard
