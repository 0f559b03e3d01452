#include "switchyard/http/api_auth.hpp"

#include "switchyard/core/text.hpp"

namespace switchyard {

std::optional<error> admin_denied(std::string_view authorization, const hot_config& cfg) {
  if (cfg.admin_token.empty()) {
    return make_error(errc::unauthorized,
                      "Admin routes are disabled: set admin_token in the configuration.");
  }
  auto token = bearer_token(authorization);
  if (token.empty() || !same_secret(token, cfg.admin_token)) {
    return make_error(errc::unauthorized, "Admin routes need Authorization: Bearer <admin_token>.");
  }
  return std::nullopt;
}

std::optional<error> reader_denied(std::string_view authorization, const hot_config& cfg) {
  if (cfg.api_token.empty()) {
    return std::nullopt;
  }
  auto token = bearer_token(authorization);
  if (!token.empty() && (same_secret(token, cfg.api_token) ||
                         (!cfg.admin_token.empty() && same_secret(token, cfg.admin_token)))) {
    return std::nullopt;
  }
  return make_error(errc::unauthorized,
                    "The read API needs Authorization: Bearer <api_token> (or the admin token).");
}

}  // namespace switchyard
