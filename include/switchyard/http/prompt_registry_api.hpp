#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

struct local_call;

// The prompt registry's write API (docs/prompt-registry.md; the routes are in `gateway_routes`).
// Each runs on the admin executor and answers JSON, or an error value in the API's shape.

/// POST /api/v1/prompts/{name}/versions (admin): creates an immutable version; 201 when new,
/// 200 when the same content was already there, 409 when the version exists with other content.
result<string_response> create_prompt_version(const local_call& c);
/// DELETE /api/v1/prompts/{name} (admin): a registry prompt and its versions.
result<string_response> delete_prompt(const local_call& c);
/// DELETE /api/v1/prompts/{name}/versions/{version} (admin).
result<string_response> delete_prompt_version(const local_call& c);
/// GET /api/v1/prompts/export: every prompt and version as one document.
result<string_response> export_prompts(const local_call& c);
/// POST /api/v1/prompts/import (admin): imports such a document, all or nothing.
result<string_response> import_prompts(const local_call& c);

}  // namespace switchyard
