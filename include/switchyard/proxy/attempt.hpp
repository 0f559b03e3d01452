#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/proxy/request_context.hpp"
#include "switchyard/proxy/responses.hpp"
#include "switchyard/proxy/stream_event.hpp"
#include "switchyard/runtime/worker.hpp"
#include "switchyard/upstream/retry_state.hpp"

#include <chrono>
#include <optional>
#include <variant>

namespace switchyard {

namespace metrics {
class histogram;
}

/// What an attempt works with: the request's context and its retry state, plus the sockets'
/// owners. Built with designated initialisers by the forward phase.
struct attempt_io {
  worker& w;
  beast::tcp_stream& client;
  request_context& ctx;
  retry_state& retries;
  metrics::histogram* inter_token = nullptr;  // gaps between content events, for /metrics
};

/// The response went (or started going) to the client, or the client left: the request is done.
struct attempt_committed {
  bool keep_client = false;
  std::optional<token_usage> usage{};
};

/// The attempt failed and the client has seen nothing: `err.retry` says whether the same target
/// may be tried again; otherwise the next target, or the client gets `answer` (the upstream's
/// error answer, when it sent one) or `err`.
struct attempt_retry {
  error err{};
  std::optional<string_response> answer{};
  std::optional<std::chrono::milliseconds> retry_floor{};  // the answer's retry-after(-ms)
};

/// An upstream answer no retry can change (400, 401, insufficient_quota…): the client gets it.
struct attempt_final {
  error err;
  string_response answer;
};

/// How one upstream attempt ended.
using attempt_outcome = std::variant<attempt_committed, attempt_retry, attempt_final>;

/// An upstream's complete error answer (status ≥ 400, header `up`, whole `body`, decoded when
/// `decoded`) as the attempt's outcome: `attempt_retry` when the retry table says a retry may
/// help (with the answer's retry-after as the floor), else `attempt_final`. The answer is built
/// for a client speaking HTTP/1.`client_version % 10`, its status kept as sent. Pure apart from
/// the reused parser.
/// The upstream response's header as the attempt parses it (recycled fields).
using upstream_header = http::response_header<pooled_fields>;

attempt_outcome error_answer(const upstream_header& up, std::string body, bool decoded,
                             unsigned client_version, simdjson::ondemand::parser& json);

struct response_translation;

/// The upstream request as sent, rendered once per target: its header block and its body (views
/// into the connection's buffers and the client request, which outlive the attempts), and how
/// its answer reaches the client.
struct upstream_request {
  std::string_view head;
  std::string_view body;
  /// The API of the upstream's answer (the meter's dialect).
  api_kind dialect = api_kind::chat;
  /// Null: the answer is relayed as sent; else it is translated for the client (the
  /// connection's buffers own it).
  const response_translation* translation = nullptr;
};

/// One try against one upstream: borrow a connection, send, wait for the first byte within
/// `timeouts.first_byte`, classify the answer, relay it (see relay.hpp). A retriable failure
/// sends nothing to the client; a stream is held back until its first content event (within
/// `retry.stream_hold_*`) so that an upstream failing before any content can still be retried;
/// from then on the response is relayed and a later failure becomes the final SSE error event.
net::awaitable<attempt_outcome> run_attempt(attempt_io& io, upstream_pool& pool,
                                            const upstream_request& upstream_req);

}  // namespace switchyard
