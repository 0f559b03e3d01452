#include "switchyard/proxy/responses.hpp"

#include "switchyard/core/deadlines.hpp"

namespace switchyard {

string_response json_response(http::status status, std::string body, unsigned version,
                              bool keep_alive, std::string_view request_id) {
  string_response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "switchyard");
  res.set("x-request-id", request_id);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

string_response error_response(const error& e, unsigned version, bool keep_alive,
                               std::string_view request_id) {
  const error_info& info = describe(e.code);
  auto res = json_response(info.status, error_body(e), version,
                           keep_alive && !info.close_connection, request_id);
  if (!info.retry_may_help) {
    res.set("x-should-retry", "false");  // the same request will fail the same way
  }
  return res;
}

net::awaitable<bool> write_response(beast::tcp_stream& stream, string_response& res,
                                    std::chrono::milliseconds timeout) {
  // Swept by the worker's timer (core/deadlines.hpp): no timer syscall for the write.
  deadline limit(stream.socket(), timeout);
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  co_return !limit.check(ec);
}

}  // namespace switchyard
