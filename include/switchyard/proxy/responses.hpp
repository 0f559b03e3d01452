#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"

#include <string>
#include <string_view>

namespace switchyard {

using string_response = http::response<http::string_body>;

/// A JSON response with the gateway's standard headers.
string_response json_response(http::status status, std::string body, unsigned version,
                              bool keep_alive, std::string_view request_id);

/// The OpenAI-shaped error response for `e` (status, type and code from `describe`). Refusals
/// that retrying cannot fix carry `x-should-retry: false`.
string_response error_response(const error& e, unsigned version, bool keep_alive,
                               std::string_view request_id);

/// Writes `res` within `timeout`; false if the client is gone.
net::awaitable<bool> write_response(beast::tcp_stream& stream, string_response& res,
                                    std::chrono::milliseconds timeout);

}  // namespace switchyard
