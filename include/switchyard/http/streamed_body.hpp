#pragma once
// A local answer whose body is sent a piece at a time after its header, instead of built in
// memory first (a stored file's content: up to hundreds of MB). The header carries the body's
// Content-Length; the pieces come from `next`, called on the admin executor (a piece is a store
// read: SQLite's disk or Redis, never on a worker's loop), and each write has its own deadline.

#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/proxy/responses.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace switchyard {

class admin_executor;

struct streamed_body {
  std::uint64_t length = 0;  // the Content-Length the header announced
  /// The next piece (bounded by its source: a store's content piece), "" at the end.
  std::function<result<std::string>()> next;
};

/// Writes `head` (whose Content-Length is `body.length`, body empty) and then the pieces, each
/// write within `per_write`. `bytes_out` counts the body bytes written. False when the
/// connection must close: a write failed, or a piece failed or the source ended early (the
/// status was sent already, so the client learns it from the short body and the close).
/// `admin` null: the pieces are read on the calling thread (unit harnesses).
net::awaitable<bool> write_streamed(beast::tcp_stream& stream, string_response& head,
                                    streamed_body& body, admin_executor* admin,
                                    std::chrono::milliseconds per_write, std::uint64_t& bytes_out);

}  // namespace switchyard
