#include "switchyard/http/streamed_body.hpp"

#include "switchyard/core/deadlines.hpp"
#include "switchyard/runtime/admin_executor.hpp"

#include <spdlog/spdlog.h>

namespace switchyard {

net::awaitable<bool> write_streamed(beast::tcp_stream& stream, string_response& head,
                                    streamed_body& body, admin_executor* admin,
                                    std::chrono::milliseconds per_write, std::uint64_t& bytes_out) {
  head.content_length(body.length);
  http::response_serializer<http::string_body> sr(head);
  {
    deadline limit(stream.socket(), per_write);
    auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
    if (limit.check(ec)) {
      co_return false;
    }
  }
  while (bytes_out < body.length) {
    std::optional<result<std::string>> piece;
    if (admin) {
      piece = co_await admin->run([&body] { return body.next(); });
    } else {
      piece = body.next();
    }
    if (!piece || !*piece || (*piece)->empty()) {
      // Busy admin queue, a store error, or fewer bytes than announced: the answer cannot be
      // completed; closing tells the client (a short body).
      spdlog::warn("streamed body: ended after {} of {} bytes: {}", bytes_out, body.length,
                   !piece    ? "the admin executor is busy"
                   : !*piece ? (*piece).error().message
                             : "the source ended early");
      co_return false;
    }
    auto& bytes = **piece;
    const auto room = body.length - bytes_out;
    const std::size_t n = bytes.size() < room ? bytes.size() : static_cast<std::size_t>(room);
    deadline limit(stream.socket(), per_write);
    auto [ec, written] = co_await net::async_write(stream, net::buffer(bytes.data(), n), use_tuple);
    if (limit.check(ec)) {
      co_return false;
    }
    bytes_out += n;
  }
  co_return true;
}

}  // namespace switchyard
