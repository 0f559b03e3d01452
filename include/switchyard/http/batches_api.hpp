#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

namespace switchyard {

struct local_call;

// OpenAI's Files and Batches API as the gateway serves it (docs/batches.md; the routes are in
// `gateway_routes`, with the access of the proxied /v1 routes). Each runs on the admin executor
// and answers OpenAI's objects, or an error in OpenAI's shape.

/// POST /v1/files (multipart/form-data: `file`, `purpose`).
result<string_response> upload_file(const local_call& c);
/// GET /v1/files[?purpose=&limit=&order=&after=].
result<string_response> list_files(const local_call& c);
/// GET /v1/files/{id}.
result<string_response> get_file(const local_call& c);
/// GET /v1/files/{id}/content.
result<string_response> get_file_content(const local_call& c);
/// DELETE /v1/files/{id}.
result<string_response> delete_file(const local_call& c);
/// POST /v1/batches.
result<string_response> create_batch(const local_call& c);
/// GET /v1/batches[?after=&limit=].
result<string_response> list_batches(const local_call& c);
/// GET /v1/batches/{id}.
result<string_response> get_batch(const local_call& c);
/// POST /v1/batches/{id}/cancel.
result<string_response> cancel_batch(const local_call& c);

}  // namespace switchyard
