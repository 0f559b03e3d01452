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

/// Writes `buffers` to `socket`, which is in user non-blocking mode: at once when the socket
/// takes them all — no event-loop turn, the usual case for a header block and a body that fit
/// the send buffer (a completed asynchronous write still posts its completion: one more
/// epoll_wait) — and what is left asynchronously. The caller arms the deadline.
template <class ConstBufferSequence>
net::awaitable<beast::error_code> write_all(tcp::socket& socket,
                                            const ConstBufferSequence& buffers) {
  beast::error_code ec;
  const std::size_t total = net::buffer_size(buffers);
  const std::size_t n = socket.write_some(buffers, ec);
  if (!ec && n == total) {
    co_return ec;
  }
  if (ec && ec != net::error::would_block && ec != net::error::try_again) {
    co_return ec;
  }
  beast::buffers_suffix<ConstBufferSequence> rest(buffers);
  rest.consume(n);
  auto [wec, wn] = co_await net::async_write(socket, rest, use_tuple);
  co_return wec;
}

/// Writes `res` within `timeout`; false if the client is gone.
net::awaitable<bool> write_response(beast::tcp_stream& stream, string_response& res,
                                    std::chrono::milliseconds timeout);

}  // namespace switchyard
