#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/proxy/request_body.hpp"

#include <string>
#include <string_view>

namespace switchyard {

/// Appends the request target (origin-form path and query) of endpoint `ep` on upstream `up` for
/// the upstream model (or Azure deployment) `model` to `out`:
/// - openai:    path_prefix + endpoint path ("/v1/chat/completions");
/// - azure:     "/openai/deployments/{model}/chat/completions?api-version=…" (percent-encoded),
///              or "/openai/v1/chat/completions" when api_version is "v1";
/// - anthropic: path_prefix + "/messages" (or "/messages/count_tokens").
/// Pure; `ep` is what the upstream receives (after any translation).
void append_upstream_target(const upstream_config& up, endpoint ep, std::string_view model,
                            std::string& out);

}  // namespace switchyard
