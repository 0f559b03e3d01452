#pragma once

#include "switchyard/core/arena.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// A read error that needs an answer before closing (431, 413, 400), or nullopt for a quiet
/// close (the client left, went idle, or the gateway is draining).
std::optional<error> read_error(const beast::error_code& ec);

/// The framing rules a request header must pass before its body is read: RFC 9112 §6.3 (only
/// `Transfer-Encoding: chunked`, on HTTP/1.1, without Content-Length; anything else can hide a
/// second request) and §3.2 (an HTTP/1.1 request has exactly one Host; none has two).
template <class Fields>
std::optional<error> framing_error(const http::request_header<Fields>& h);

/// One request as the session would see it, from bytes alone.
struct parsed_request {
  std::optional<error> refusal;  // set: answered with this error and the connection closed
  http::verb method = http::verb::unknown;
  std::string target;
  unsigned version = 11;
  std::string body;
  bool keep_alive = false;
};

/// Parses pipelined requests from `bytes` with the session's parser settings and rules, until
/// the bytes run out, a request is refused (the last element then) or a request does not keep
/// the connection alive. Pure: what the session does on a socket, without one (for tests and
/// the fuzzer). An incomplete last request is left out.
std::vector<parsed_request> parse_requests(std::string_view bytes, std::size_t header_limit,
                                           std::uint64_t body_limit);

}  // namespace switchyard
