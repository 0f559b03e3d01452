#include "switchyard/experiments/feedback_id.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace switchyard {

namespace {

constexpr std::string_view prefix = "sy1.";
constexpr std::string_view prefix_with_unit = "sy2.";  // same length
constexpr char separator = '\x1f';
constexpr std::size_t mac_size = 16;  // 128 bits: forging one takes 2^128 tries
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : bytes) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) {
    out += alphabet[(acc << (6 - bits)) & 0x3f];
  }
  return out;
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

// One HMAC context per thread, keyed once: OpenSSL 3's one-shot HMAC() fetches the algorithm
// and builds a context on every call (about 1 µs), and ids are signed on the request path.
struct mac_context {
  EVP_MAC_CTX* ctx = nullptr;
  std::string key;
  mac_context() = default;
  mac_context(const mac_context&) = delete;
  mac_context& operator=(const mac_context&) = delete;
  ~mac_context() { EVP_MAC_CTX_free(ctx); }
};

std::array<unsigned char, EVP_MAX_MD_SIZE> mac_of(std::string_view signed_part,
                                                  std::string_view key) {
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  thread_local mac_context m;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  std::size_t md_len = 0;
  bool ok = hmac != nullptr;
  if (ok && (!m.ctx || m.key != key)) {
    EVP_MAC_CTX_free(m.ctx);
    m.ctx = EVP_MAC_CTX_new(hmac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    static const unsigned char no_key = 0;  // a non-null pointer even for an empty key
    const auto* key_ptr =
        key.empty() ? &no_key : reinterpret_cast<const unsigned char*>(key.data());
    ok = m.ctx && EVP_MAC_init(m.ctx, key_ptr, key.size(), params) == 1;
    m.key = ok ? std::string(key) : std::string();
  } else if (ok) {
    ok = EVP_MAC_init(m.ctx, nullptr, 0, nullptr) == 1;  // same key: restart the MAC
  }
  ok = ok &&
       EVP_MAC_update(m.ctx, reinterpret_cast<const unsigned char*>(signed_part.data()),
                      signed_part.size()) == 1 &&
       EVP_MAC_final(m.ctx, md.data(), &md_len, md.size()) == 1 && md_len >= mac_size;
  if (!ok) {
    EVP_MAC_CTX_free(m.ctx);
    m.ctx = nullptr;
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
  for (const std::string* name : {&c.experiment, &c.variant, &c.prompt_version}) {
    if (name->find(separator) != std::string::npos) {
      throw std::invalid_argument("feedback id: name contains 0x1F: " + *name);
    }
  }
  std::string payload = c.experiment;
  payload += separator;
  payload += c.variant;
  payload += separator;
  payload += c.prompt_version;
  payload += separator;
  payload += std::to_string(c.unix_seconds);
  payload += separator;
  if (c.unit != 0) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(c.unit));
    payload += hex;
    payload += separator;
  }
  payload += c.nonce;
  std::string id = std::string(c.unit != 0 ? prefix_with_unit : prefix) + base64url(payload);
  const auto mac = mac_of(id, key);
  id += '.';
  id += base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_size));
  if (id.size() > max_feedback_id_size) {
    throw std::invalid_argument("feedback id: claims too long for a request id");
  }
  return id;
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
