#include "switchyard/http/request_rules.hpp"

#include "switchyard/core/text.hpp"

namespace switchyard {

namespace {}  // namespace

std::optional<error> read_error(const beast::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::broken_pipe) {
    return std::nullopt;
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return make_error(errc::headers_too_large, "Request header fields too large.");
  }
  if (ec == http::error::body_limit) {
    return make_error(errc::body_too_large, "Request body too large.");
  }
  return make_error(errc::bad_framing, "Malformed HTTP request: " + ec.message() + ".");
}

template <class Fields>
std::optional<error> framing_error(const http::request_header<Fields>& h) {
  const auto hosts = h.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && h.version() >= 11)) {
    return make_error(errc::bad_framing,
                      hosts > 1 ? "The request has more than one Host header (RFC 9112 §3.2)."
                                : "An HTTP/1.1 request needs a Host header (RFC 9112 §3.2).");
  }
  if (h.count(http::field::transfer_encoding) == 0) {
    return std::nullopt;
  }
  if (h.count(http::field::transfer_encoding) > 1 || h.count(http::field::content_length) > 0 ||
      h.version() < 11 || !beast::iequals(trim(h[http::field::transfer_encoding]), "chunked")) {
    return make_error(errc::bad_framing,
                      "Transfer-Encoding must be exactly `chunked`, on HTTP/1.1, without "
                      "Content-Length.");
  }
  return std::nullopt;
}

// The session's requests (recycled fields) and this module's own parser's.
template std::optional<error> framing_error(const http::request_header<http::fields>&);
template std::optional<error> framing_error(const http::request_header<pooled_fields>&);

std::vector<parsed_request> parse_requests(std::string_view bytes, std::size_t header_limit,
                                           std::uint64_t body_limit) {
  std::vector<parsed_request> out;
  while (!bytes.empty()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(header_limit));
    parser.body_limit(body_limit);
    parser.eager(false);  // the header first, as the session reads it
    beast::error_code ec;
    std::size_t used = 0;
    // put() consumes what it can; the header must be complete before the rules apply.
    while (!parser.is_header_done() && !ec && used < bytes.size()) {
      const auto n = parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
      if (n == 0 && ec == http::error::need_more) {
        return out;  // incomplete header
      }
      used += n;
    }
    if (ec == http::error::need_more) {
      ec = {};
    }
    parsed_request r;
    if (ec) {
      r.refusal = read_error(ec);
      if (!r.refusal) {
        return out;
      }
      out.push_back(std::move(r));
      return out;
    }
    if (!parser.is_header_done()) {
      return out;
    }
    if (auto bad = framing_error(parser.get().base())) {
      r.refusal = std::move(bad);
      out.push_back(std::move(r));
      return out;
    }
    parser.eager(true);
    while (!parser.is_done() && !ec && used < bytes.size()) {
      const auto n = parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
      used += n;
      if (ec == http::error::need_more) {
        ec = {};
        if (n == 0) {
          break;
        }
      }
    }
    if (ec) {
      r.refusal = read_error(ec);
      if (r.refusal) {
        out.push_back(std::move(r));
      }
      return out;
    }
    if (!parser.is_done()) {
      // A body delimited by the end of the connection cannot exist in a request; an incomplete
      // one waits for more bytes.
      return out;
    }
    auto& req = parser.get();
    r.method = req.method();
    r.target = std::string(req.target());
    r.version = req.version();
    r.keep_alive = req.keep_alive();
    r.body = std::move(req.body());
    const bool keep = r.keep_alive;
    out.push_back(std::move(r));
    bytes.remove_prefix(used);
    if (!keep) {
      return out;
    }
  }
  return out;
}

}  // namespace switchyard
