#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

/// What a request id attests: which experiment arm served the request, and when. Feedback that
/// names the id can then be attributed on any replica, after a restart, with no shared state.
struct feedback_claims {
  std::string experiment;
  std::string variant;
  std::string prompt_version;     // "" when the variant has no prompt
  std::int64_t unix_seconds = 0;  // when the request was served (selects the hour bucket)
  std::string nonce;              // makes ids unique: random bytes as text, e.g. 16 hex chars
  std::uint64_t unit = 0;         // the unit's fingerprint (0 = none, e.g. unit: request)

  bool operator==(const feedback_claims&) const = default;
};

/// Longest id `verify_feedback_id` accepts; `sign_feedback_id` never produces a longer one.
inline constexpr std::size_t max_feedback_id_size = 512;

/// The signed request id for `c` under `key`: "sy1." + base64url(payload) + "." +
/// base64url(first 16 bytes of HMAC-SHA256(key, "sy1." + base64url(payload))), base64url without
/// padding, so the id is URL- and header-safe ([A-Za-z0-9._-]). The payload is the fields joined
/// by 0x1F (unit separator), the nonce last so that it may contain anything. With a unit, the
/// prefix is "sy2." and the unit (16 lowercase hex digits) comes before the nonce, so feedback can
/// be analysed per unit; "sy1." ids stay valid.
///
/// Names come from config, which must keep them free of 0x1F and short enough for the id to fit
/// in `max_feedback_id_size` (about 360 bytes of fields); violating that is a bug and throws
/// std::invalid_argument.
std::string sign_feedback_id(const feedback_claims& c, std::string_view key);

/// The claims of `feedback_claims` as views, for signing without copying the names.
struct feedback_claims_view {
  std::string_view experiment;
  std::string_view variant;
  std::string_view prompt_version;
  std::int64_t unix_seconds = 0;
  std::string_view nonce;
  std::uint64_t unit = 0;
};

/// The same id written into `out` (replaced): with a reused `out` (capacity kept) signing
/// allocates nothing, which is how the request path calls it. Same errors as above; on error
/// `out` is unspecified.
void sign_feedback_id(const feedback_claims_view& c, std::string_view key, std::string& out);

/// Checks and decodes an id from `sign_feedback_id`. Errors are errc::invalid_request with param
/// "request_id", and tell apart "request_id is not a Switchyard request id" (empty, longer than
/// `max_feedback_id_size`, wrong prefix or shape, bad base64url) from "request_id signature does
/// not match: it was not issued by this gateway (or the feedback key differs)". The MAC is
/// compared in constant time.
result<feedback_claims> verify_feedback_id(std::string_view id, std::string_view key);

/// A new random feedback key: 32 bytes from OpenSSL's RAND_bytes as 64 lowercase hex chars.
/// Throws std::runtime_error if the random generator fails (startup only).
std::string generate_feedback_key();

}  // namespace switchyard
