#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"

#include <optional>
#include <string_view>

namespace switchyard {

/// Whether `given` equals `expected`, in time that depends on neither the position of the first
/// difference nor the secret's length (SHA-256 digests compared with CRYPTO_memcmp).
bool same_secret(std::string_view given, std::string_view expected);

/// The token of an `Authorization: Bearer <token>` value ("" when it is not one).
std::string_view bearer_of(std::string_view authorization);

/// Admin writes (POST /api/v1/…): nullopt when `authorization` carries the admin token, else
/// the 401 to answer (also when no admin token is configured: the routes are disabled).
std::optional<error> admin_denied(std::string_view authorization, const config& cfg);

/// The read API (analysis, prompt texts): public unless `api_token` is set; then it or the
/// admin token is needed. nullopt = allowed, else the 401 to answer.
std::optional<error> reader_denied(std::string_view authorization, const config& cfg);

}  // namespace switchyard
