#pragma once

#include "switchyard/core/net.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/proxy/request_body.hpp"
#include "switchyard/proxy/request_context.hpp"
#include "switchyard/runtime/worker.hpp"

namespace switchyard {

/// The life of one proxied request, as named phases over one `request_context`:
/// parse → assign → route → rewrite → admit (pure, proxy/phases.hpp) → forward → relay (with
/// sockets: attempts, retries and fallbacks, then the response, SSE event by event) → account.
/// A refusal at any phase leaves through `fail` (proxy/fail.hpp). The client is watched all
/// along: if it goes away, the upstream exchange is cancelled at once and its connection is not
/// reused.
///
/// Writes exactly one response to `client` (or none if the client left first), fills `rec`,
/// and returns whether the client connection may be kept alive. `buffers` is the connection's
/// reusable storage (one request at a time); `client_buffer` keeps pipelined bytes.
net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer, exchange_buffers& buffers,
                                   client_request& req, endpoint ep, access_record& rec);

}  // namespace switchyard
