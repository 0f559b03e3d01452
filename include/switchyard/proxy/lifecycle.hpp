#pragma once

#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/runtime/worker.hpp"

namespace switchyard {

/// The life of one proxied request, top to bottom: parse the body once → route by model →
/// rewrite the model → borrow an upstream connection → send → wait for the first byte → relay
/// the response (SSE event by event) → account. The client is watched all along: if it goes
/// away, the upstream exchange is cancelled at once and its connection is not reused.
///
/// Writes exactly one response to `client` (or none if the client left first), fills `rec`,
/// and returns whether the client connection may be kept alive.
net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer,
                                   http::request<http::string_body>& req, endpoint ep,
                                   access_record& rec);

}  // namespace switchyard
