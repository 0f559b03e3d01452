#include "switchyard/experiments/feedback_id.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>

namespace switchyard {
namespace {

constexpr std::string_view key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

feedback_claims sample() {
  return feedback_claims{"summary-style", "concise", "summarizer@v2", 1'750'000'000,
                         "9f86d081884c7d65"};
}

bool is_signature_error(const result<feedback_claims>& r) {
  return !r && r.error().code == errc::invalid_request && r.error().param == "request_id" &&
         r.error().message.find("signature does not match") != std::string::npos;
}

bool is_shape_error(const result<feedback_claims>& r) {
  return !r && r.error().code == errc::invalid_request && r.error().param == "request_id" &&
         r.error().message.find("not a Switchyard request id") != std::string::npos;
}

TEST(feedback_id, round_trip) {
  const std::string id = sign_feedback_id(sample(), key);
  EXPECT_TRUE(id.starts_with("sy1."));
  const auto back = verify_feedback_id(id, key);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, sample());
  EXPECT_EQ(sign_feedback_id(sample(), key), id);  // deterministic for the same claims
}

// With the unit's fingerprint the id is "sy2." and carries it, so feedback can be analysed per
// unit; ids without a unit keep the "sy1." form, so ids issued before stay valid.
TEST(feedback_id, carries_the_unit_when_there_is_one) {
  feedback_claims c = sample();
  c.unit = 0xfedcba9876543210ull;
  const std::string id = sign_feedback_id(c, key);
  EXPECT_TRUE(id.starts_with("sy2.")) << id;
  const auto back = verify_feedback_id(id, key);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, c);
  c.unit = 1;
  EXPECT_EQ(verify_feedback_id(sign_feedback_id(c, key), key)->unit, 1u);
  // Tampering with the version (sy2 → sy1) breaks the signature; an sy1 id has no unit.
  std::string downgraded = id;
  downgraded[2] = '1';
  EXPECT_TRUE(is_signature_error(verify_feedback_id(downgraded, key)));
  EXPECT_EQ(verify_feedback_id(sign_feedback_id(sample(), key), key)->unit, 0u);
}

TEST(feedback_id, round_trip_of_edge_values) {
  feedback_claims c{"e", "v", "", -1, ""};
  EXPECT_EQ(*verify_feedback_id(sign_feedback_id(c, key), key), c);
  // The nonce is last, so it may hold any bytes, the separator included.
  c = feedback_claims{"exp.1", "arm_b", "p@v10", 0, std::string("\x1f\x00\xff.", 4)};
  EXPECT_EQ(*verify_feedback_id(sign_feedback_id(c, key), key), c);
  // An empty key still signs and verifies consistently.
  EXPECT_EQ(*verify_feedback_id(sign_feedback_id(sample(), ""), ""), sample());
}

TEST(feedback_id, tampering_or_another_key_fails_the_signature) {
  const std::string id = sign_feedback_id(sample(), key);
  std::string payload_tampered = id;
  payload_tampered[4] = payload_tampered[4] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(is_signature_error(verify_feedback_id(payload_tampered, key)));

  std::string mac_tampered = id;
  const std::size_t mac_at = id.rfind('.') + 1;
  mac_tampered[mac_at] = mac_tampered[mac_at] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(is_signature_error(verify_feedback_id(mac_tampered, key)));

  EXPECT_TRUE(is_signature_error(verify_feedback_id(id, "another key")));

  // Claims re-signed under another key do not pass either.
  EXPECT_TRUE(is_signature_error(verify_feedback_id(sign_feedback_id(sample(), "k2"), key)));
}

TEST(feedback_id, malformed_ids_are_not_ours) {
  const std::string id = sign_feedback_id(sample(), key);
  EXPECT_TRUE(is_shape_error(verify_feedback_id("", key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id("chatcmpl-abc123", key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id("sy1.", key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id("sy1..AAAA", key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id("sy3." + id.substr(4), key)));
  EXPECT_TRUE(is_signature_error(verify_feedback_id("sy2." + id.substr(4), key)));  // signed
  EXPECT_TRUE(is_shape_error(verify_feedback_id(id + ".x", key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id(id + "A", key)));  // MAC no longer 16 bytes
  EXPECT_TRUE(is_shape_error(verify_feedback_id(id.substr(0, id.rfind('.')), key)));
  for (std::size_t n = 0; n + 1 < id.size(); ++n) {
    EXPECT_FALSE(verify_feedback_id(id.substr(0, n), key)) << n;  // every truncation
  }
  std::string bad_char = id;
  bad_char[5] = '+';  // standard base64, not base64url
  EXPECT_TRUE(is_shape_error(verify_feedback_id(bad_char, key)));
  EXPECT_TRUE(is_shape_error(verify_feedback_id("sy1." + std::string(600, 'A') + ".x", key)));
}

TEST(feedback_id, random_strings_never_verify_or_crash) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> len(0, 80);
  std::uniform_int_distribution<std::size_t> pick(0, 65);
  const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+";
  for (int i = 0; i < 3000; ++i) {
    std::string id = "sy1.";
    const int n = len(rng);
    for (int k = 0; k < n; ++k) {
      id += chars[pick(rng)];
    }
    EXPECT_FALSE(verify_feedback_id(id, key)) << id;
  }
}

TEST(feedback_id, ids_are_url_and_header_safe_and_unique_per_nonce) {
  feedback_claims a = sample();
  feedback_claims b = sample();
  b.nonce = "0000000000000001";
  const std::string ia = sign_feedback_id(a, key);
  const std::string ib = sign_feedback_id(b, key);
  EXPECT_NE(ia, ib);
  for (const std::string& id : {ia, ib}) {
    EXPECT_LE(id.size(), max_feedback_id_size);
    EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    })) << id;
  }
}

TEST(feedback_id, names_with_the_separator_or_too_long_are_bugs) {
  feedback_claims c = sample();
  c.variant =
      "a\x1f"
      "b";
  EXPECT_THROW(sign_feedback_id(c, key), std::invalid_argument);
  c = sample();
  c.experiment = std::string(400, 'e');
  EXPECT_THROW(sign_feedback_id(c, key), std::invalid_argument);
}

// Ids computed independently (Python's hmac/hashlib/base64 over the documented format), so the
// implementation can change (buffer reuse, the digest API) without the ids changing: feedback
// sent for ids issued before an upgrade keeps verifying.
TEST(feedback_id, ids_match_the_documented_format_byte_for_byte) {
  EXPECT_EQ(sign_feedback_id(sample(), key),
            "sy1.c3VtbWFyeS1zdHlsZR9jb25jaXNlH3N1bW1hcml6ZXJAdjIfMTc1MDAwMDAwMB85Zjg2ZDA4MTg4NGM3"
            "ZDY1.zN5T5qUuxFiCW0JHwI_rog");
  feedback_claims c = sample();
  c.unit = 0xfedcba9876543210ull;
  EXPECT_EQ(sign_feedback_id(c, key),
            "sy2.c3VtbWFyeS1zdHlsZR9jb25jaXNlH3N1bW1hcml6ZXJAdjIfMTc1MDAwMDAwMB9mZWRjYmE5ODc2NTQz"
            "MjEwHzlmODZkMDgxODg0YzdkNjU.Hgtyyueup5E66HWlWgl-bQ");
  EXPECT_EQ(
      sign_feedback_id(feedback_claims{"tone", "control", "", -1, "0000000000000001", 1}, key),
      "sy2.dG9uZR9jb250cm9sHx8tMR8wMDAwMDAwMDAwMDAwMDAxHzAwMDAwMDAwMDAwMDAwMDE."
      "_jvcXV2V5OkR9khGYTflOg");
  EXPECT_EQ(sign_feedback_id(feedback_claims{"e", "v", "", -1, ""}, key),
            "sy1.ZR92Hx8tMR8.ItZvmvzetEleF9jd2laSMg");
  // A key longer than SHA-256's block is hashed first (RFC 2104); an empty key is all zeros.
  EXPECT_EQ(sign_feedback_id(sample(), std::string(100, 'k')),
            "sy1.c3VtbWFyeS1zdHlsZR9jb25jaXNlH3N1bW1hcml6ZXJAdjIfMTc1MDAwMDAwMB85Zjg2ZDA4MTg4NGM3"
            "ZDY1.QHKMbQQtHmK09eilJexT-A");
  EXPECT_EQ(sign_feedback_id(sample(), ""),
            "sy1.c3VtbWFyeS1zdHlsZR9jb25jaXNlH3N1bW1hcml6ZXJAdjIfMTc1MDAwMDAwMB85Zjg2ZDA4MTg4NGM3"
            "ZDY1.kUpOT2fvnbSBIw2fUcloOA");
}

// The request path signs into one reused buffer from views of the names: the same ids as the
// owning form, whatever the buffer held before, and keys switched back and forth (a reload, on
// one thread's cached key pads) sign under the right key each time.
TEST(feedback_id, signing_into_a_reused_buffer_gives_the_same_ids) {
  std::string out = std::string(600, 'x');  // longer than any id: must be replaced, not kept
  const feedback_claims long_one{std::string(100, 'e'), "variant",          "p@v1",
                                 1'750'000'000,         "0123456789abcdef", 42};
  const std::string other_key = "another key";
  for (int round = 0; round < 3; ++round) {
    for (const feedback_claims& c : {sample(), long_one, feedback_claims{"e", "v", "", 0, ""}}) {
      for (std::string_view k : {key, std::string_view(other_key)}) {
        sign_feedback_id(feedback_claims_view{c.experiment, c.variant, c.prompt_version,
                                              c.unix_seconds, c.nonce, c.unit},
                         k, out);
        EXPECT_EQ(out, sign_feedback_id(c, k));
        const auto back = verify_feedback_id(out, k);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(*back, c);
      }
    }
  }
  // The separator and length checks hold for the view form too.
  EXPECT_THROW(sign_feedback_id(feedback_claims_view{"a\x1f", "v", "", 0, "", 0}, key, out),
               std::invalid_argument);
  const std::string huge(400, 'e');
  EXPECT_THROW(sign_feedback_id(feedback_claims_view{huge, "v", "", 0, "", 0}, key, out),
               std::invalid_argument);
}

TEST(feedback_id, generated_keys_are_64_hex_chars_and_differ) {
  const std::string k1 = generate_feedback_key();
  const std::string k2 = generate_feedback_key();
  EXPECT_EQ(k1.size(), 64u);
  EXPECT_TRUE(std::all_of(k1.begin(), k1.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  EXPECT_NE(k1, k2);
}

}  // namespace
}  // namespace switchyard
