#include "switchyard/jobs/eval_client.hpp"

#include <boost/asio/as_tuple.hpp>

namespace switchyard {

eval_connection::eval_connection(net::any_io_executor ex, tcp::endpoint gateway, duration timeout,
                                 std::size_t max_response_bytes)
    : stream_(std::move(ex)),
      gateway_(gateway),
      timeout_(timeout),
      max_response_bytes_(max_response_bytes) {}

net::awaitable<eval_http_answer> eval_connection::post(
    std::string target, std::string body,
    std::vector<std::pair<std::string, std::string>> headers) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "switchyard-eval");
  for (auto& [k, v] : headers) {
    req.set(k, v);
  }
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  const bool reused = open_;
  auto a = co_await attempt(req);
  if (!a.error.empty() && reused && a.status == 0) {
    a = co_await attempt(req);  // the gateway closed the idle connection meanwhile
  }
  co_return a;
}

net::awaitable<eval_http_answer> eval_connection::attempt(
    const http::request<http::string_body>& req) {
  using net::as_tuple;
  eval_http_answer out;
  const auto start = steady_clock::now();
  auto fail = [&](std::string what, const boost::system::error_code& ec) {
    open_ = false;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    out.error =
        what + ": " + (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    return out;
  };
  stream_.expires_after(timeout_);
  if (!open_) {
    buffer_.clear();
    auto [ec] = co_await stream_.async_connect(gateway_, as_tuple(net::use_awaitable));
    if (ec) {
      co_return fail("cannot connect to the gateway", ec);
    }
    open_ = true;
  }
  {
    auto [ec, n] = co_await http::async_write(stream_, req, as_tuple(net::use_awaitable));
    (void)n;
    if (ec) {
      co_return fail("sending the request", ec);
    }
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_bytes_);
  auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, as_tuple(net::use_awaitable));
  (void)n;
  if (ec) {
    auto a = fail("reading the response", ec);
    if (ec == http::error::body_limit) {
      a.error = "the response is larger than " + std::to_string(max_response_bytes_) + " bytes";
      a.status = 1;  // not a stale connection: do not retry
    }
    co_return a;
  }
  auto res = parser.release();
  out.status = res.result_int();
  out.retry_after_ms = std::string(res["retry-after-ms"]);
  out.body = std::move(res.body());
  out.latency_ms = elapsed_ms(start, steady_clock::now());
  if (!res.keep_alive()) {
    open_ = false;
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }
  stream_.expires_never();
  co_return out;
}

}  // namespace switchyard
