#include "switchyard/proxy/attempt.hpp"

#include "switchyard/proxy/deadline.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/relay.hpp"

#include <array>

namespace switchyard {

namespace {

// 1xx responses tolerated before the real one (RFC 9110 allows several 103s).
constexpr int max_interim_responses = 8;

// Errors before the first response byte that mean "the pooled connection was already dead":
// the request never reached a live server, so sending it again on a fresh one is safe.
bool stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

steady_clock::time_point earliest(steady_clock::time_point a, steady_clock::time_point b) {
  return a < b ? a : b;
}

void reset_parser(std::optional<upstream_parser>& parser, const limits_config& limits) {
  parser.emplace();
  parser->body_limit(boost::none);  // streams are unbounded; idle deadlines bound them
  parser->header_limit(limits.max_upstream_header_bytes);
}

// A failure to send the request or read the response header, as an error value.
error send_failure(const beast::error_code& ec, const upstream_pool& pool,
                   const timeouts_config& tmo) {
  if (ec == beast::error::timeout) {
    return retryable(make_error(errc::upstream_timeout,
                                "upstream " + pool.config().name + " sent no response within " +
                                    std::to_string(tmo.first_byte.count()) + " ms"));
  }
  return retryable(
      make_error(errc::upstream_broken,
                 "upstream " + pool.config().name + " failed before responding: " + ec.message()),
      stale_connection(ec) ? retry_mode::reused_connection_only : retry_mode::yes);
}

attempt_retry broken_header(const upstream_pool& pool, const std::string& what) {
  return {retryable(make_error(errc::upstream_broken, "upstream " + pool.config().name + what))};
}

}  // namespace

attempt_outcome error_answer(const upstream_header& up, std::string body, bool decoded,
                             unsigned client_version, simdjson::ondemand::parser& json) {
  string_response res;
  res.version(client_version);
  res.result(up.result_int());  // as sent, even a code Beast does not know (520, 529, 999)
  res.reason(up.reason());
  build_client_fields(up, res.base());
  if (decoded) {
    res.erase(http::field::content_encoding);  // relayed decoded
  }
  res.body() = std::move(body);
  res.prepare_payload();
  const unsigned status = up.result_int();
  // Only a 429's body matters to the retry table (an exhausted account is final).
  const bool quota = status == 429 && says_insufficient_quota(json, res.body());
  error e = upstream_answer(status, status_retry_mode(status, quota));
  if (e.retry == retry_mode::no) {
    // Retrying cannot help (400, 401, 404, insufficient_quota…): the client gets it as it is.
    return attempt_final{std::move(e), std::move(res)};
  }
  auto floor = parse_retry_after(up["retry-after-ms"], up[http::field::retry_after],
                                 std::chrono::system_clock::now());
  return attempt_retry{std::move(e), std::move(res), floor};
}

net::awaitable<attempt_outcome> run_attempt(attempt_io& io, upstream_pool& pool,
                                            const upstream_request& upstream_req) {
  request_context& ctx = io.ctx;
  const auto& tmo = io.w.cfg.timeouts;
  const auto& limits = io.w.cfg.limits;
  const auto deadline = io.retries.deadline();
  auto lease = co_await pool.acquire(earliest(steady_clock::now() + tmo.connect, deadline));
  if (!lease) {
    co_return attempt_retry{retryable(lease.error())};
  }
  if (ctx.st.client_gone) {
    co_return attempt_committed{};  // the client left while a connection was found
  }
  const std::array<net::const_buffer, 2> request_bytes{net::buffer(upstream_req.head),
                                                       net::buffer(upstream_req.body)};
  std::optional<upstream_parser> parser;
  for (bool reconnected = false;; reconnected = true) {
    ctx.st.upstream = &**lease;
    reset_parser(parser, limits);
    socket_deadline limit(io.w.deadlines, (*lease)->lowest().socket(),
                          earliest(steady_clock::now() + tmo.first_byte, deadline));
    // Header block and body in one write; on a plain connection at once when the socket takes
    // them (no event-loop turn).
    beast::error_code wec;
    if ((*lease)->plain()) {
      wec = co_await write_all((*lease)->lowest().socket(), request_bytes);
    } else {
      auto [tec, tn] = co_await (*lease)->visit(
          [&](auto& s) { return net::async_write(s, request_bytes, use_tuple); });
      wec = tec;
    }
    beast::error_code ec = limit.check(wec);
    for (int interim = 0; !ec; ++interim) {
      auto [hec, hn] = co_await (*lease)->visit([&](auto& s) {
        return http::async_read_header(s, (*lease)->buffer, *parser, use_tuple);
      });
      ec = limit.check(hec);
      const unsigned status = parser->get().result_int();
      if (ec || status < 100 || status > 199) {
        break;
      }
      // An interim response (100 Continue, 103 Early Hints): never relayed, never taken for the
      // answer; the real one follows on the same connection.
      if (status == 101 || interim == max_interim_responses) {
        ctx.st.upstream = nullptr;
        co_return broken_header(
            pool, status == 101 ? " switched protocols" : " sent too many 1xx responses");
      }
      reset_parser(parser, limits);
    }
    limit.expires_never();  // the header is in (or failed); the relay's reads have their own
    if (!ec) {
      const auto& fields = parser->get().base();
      if (static_cast<std::size_t>(std::distance(fields.begin(), fields.end())) >
          limits.max_upstream_headers) {
        ctx.st.upstream = nullptr;
        co_return broken_header(pool, " sent more than " +
                                          std::to_string(limits.max_upstream_headers) +
                                          " response header fields");
      }
      break;
    }
    ctx.st.upstream = nullptr;
    if (ctx.st.client_gone) {
      co_return attempt_committed{};  // nobody to answer: stop here
    }
    error failure = send_failure(ec, pool, tmo);
    if (failure.retry == retry_mode::reused_connection_only) {
      if (!reconnected && lease->reused()) {
        // A keep-alive connection the upstream had closed: not a failed attempt.
        *lease = upstream_lease();
        lease = co_await pool.connect_new(earliest(steady_clock::now() + tmo.connect, deadline));
        if (!lease) {
          co_return attempt_retry{retryable(lease.error())};
        }
        continue;
      }
      failure.retry = retry_mode::yes;  // a fresh connection failed before the response
    }
    co_return attempt_retry{std::move(failure)};
  }
  ctx.rec.ttfb_ms = elapsed_ms(ctx.timing.start, steady_clock::now());
  co_return co_await relay_response(io, pool, *lease, *parser, upstream_req);
}

}  // namespace switchyard
