#pragma once

#include "switchyard/proxy/attempt.hpp"
#include "switchyard/upstream/pool.hpp"

namespace switchyard {

/// The upstream response parser an attempt hands to the relay, its header read.
/// Its fields come from the worker thread's free lists (core/arena.hpp).
using upstream_parser = http::response_parser<http::buffer_body, recycling_allocator<char>>;

/// Relays the upstream response whose header `parser` holds, from the header on. An error answer
/// (≥ 400) is read whole (bounded) and classified: retriable → `attempt_retry` with the answer,
/// otherwise `attempt_final`. A 2xx stream is held until its first content event (within
/// `retry.stream_hold_*`), so that a failure before any content is still an `attempt_retry`;
/// then the response is committed: relayed chunk by chunk (SSE event by event, decoded when the
/// upstream compressed it, usage stripped when the gateway asked for it), the breaker told of
/// the success at the first write, and a later failure sent as the final SSE error event.
/// Returns the connection to the pool when the exchange ended cleanly.
///
/// With `req.translation`, the answer is translated for the client (proxy/translation.hpp):
/// Anthropic error answers are mapped to OpenAI's shape and statuses (529 → 503, retried), a
/// 2xx body is read whole and translated (then sent with its own Content-Length), a stream is
/// translated event by event (chunked), held until the translator has output, retried when it
/// fails in-band before any (an overloaded error event), and ended by the translator.
net::awaitable<attempt_outcome> relay_response(attempt_io& io, upstream_pool& pool,
                                               upstream_lease& lease, upstream_parser& parser,
                                               const upstream_request& req);

}  // namespace switchyard
