#pragma once

#include "switchyard/core/error.hpp"

#include <string>

namespace switchyard {

/// Strict RFC 8259 check of a whole request body, including the parts the gateway never reads
/// (`"temperature": tru`, `{"a" 1}`, `01.`), and rejection of a duplicate key in any object
/// (`{"model":"a","model":"b"}` would let the gateway route one model and the upstream serve
/// another). `body` must have `simdjson::SIMDJSON_PADDING` bytes of capacity past its size.
/// Errors are 400 `invalid_request_error`; a duplicate names its key path in `param`.
result<void> validate_json_body(const std::string& body);

}  // namespace switchyard
