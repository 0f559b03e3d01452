#pragma once

#include "switchyard/proxy/responses.hpp"
#include "switchyard/runtime/worker.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// Routes the gateway answers itself beyond health: `/metrics`, `/v1/models`, `/v1/feedback`,
/// `/api/v1/experiments…`, `/api/v1/prompts…`, `/api/v1/reload`. nullopt = not one of these.
/// Writes (POST under /api/v1) need `Authorization: Bearer <admin_token>`.
std::optional<string_response> handle_api(worker& w, const http::request<http::string_body>& req,
                                          std::string_view path, bool keep,
                                          const std::string& request_id);

}  // namespace switchyard
