#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/text.hpp"  // same_secret, bearer_token

#include <optional>
#include <string_view>

namespace switchyard {

/// Admin writes (POST /api/v1/…): nullopt when `authorization` carries the admin token, else
/// the 401 to answer (also when no admin token is configured: the routes are disabled).
std::optional<error> admin_denied(std::string_view authorization, const hot_config& cfg);

/// The read API (analysis, prompt texts): public unless `api_token` is set; then it or the
/// admin token is needed. nullopt = allowed, else the 401 to answer.
std::optional<error> reader_denied(std::string_view authorization, const hot_config& cfg);

}  // namespace switchyard
