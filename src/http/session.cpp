#include "switchyard/http/session.hpp"

#include "switchyard/core/deadlines.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/http/request_rules.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/fail.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/lifecycle.hpp"
#include "switchyard/proxy/responses.hpp"

#include <optional>

namespace switchyard {

namespace {

// The client request's fields come from the worker thread's free lists (core/arena.hpp): no
// malloc per field once the connection's first requests have warmed them.
using request_parser = http::request_parser<http::string_body, recycling_allocator<char>>;

// Registers the session with its worker for the session's lifetime (draining finds idle ones).
struct registration {
  worker& w;
  session_state& s;
  registration(worker& wk, session_state& st) : w(wk), s(st) { w.sessions.insert(&s); }
  ~registration() { w.sessions.erase(&s); }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
};

// This request's share of limits.max_buffered_bytes, given back when the request ends.
class buffer_hold {
 public:
  buffer_hold(std::atomic<std::uint64_t>& total, std::uint64_t cap) : total_(total), cap_(cap) {}
  ~buffer_hold() { total_.fetch_sub(held_); }
  buffer_hold(const buffer_hold&) = delete;
  buffer_hold& operator=(const buffer_hold&) = delete;

  /// Holds `bytes` in all (never less than already held); false when that would pass the cap.
  bool grow_to(std::uint64_t bytes) {
    if (bytes <= held_) {
      return true;
    }
    const std::uint64_t more = bytes - held_;
    if (total_.fetch_add(more) + more > cap_) {
      total_.fetch_sub(more);
      return false;
    }
    held_ = bytes;
    return true;
  }

 private:
  std::atomic<std::uint64_t>& total_;
  std::uint64_t cap_;
  std::uint64_t held_ = 0;
};

error overloaded() {
  return make_error(errc::overloaded,
                    "The gateway is holding too many request bytes right now "
                    "(limits.max_buffered_bytes); retry shortly.");
}

}  // namespace

net::awaitable<void> run_session(worker& w, tcp::socket socket) {
  // User-level non-blocking: the one synchronous read on this socket (the disconnect watcher,
  // after a readiness wake-up) must never block the worker's thread.
  beast::error_code nb_ec;
  socket.non_blocking(true, nb_ec);
  beast::tcp_stream stream(std::move(socket));
  // The connection's one deadline, swept by the worker's timer (core/deadlines.hpp): setting
  // it costs no syscall, and Beast's per-operation timers stay off (never armed).
  deadline limit(w.deadlines, stream.socket());
  session_state state{&stream, false};
  registration reg(w, state);
  const auto& cfg = w.cfg;
  // Bounded: header bytes plus read-ahead; the body goes into the request's own string.
  beast::flat_buffer buffer(std::max<std::size_t>(cfg.limits.max_header_bytes * 2, 64 * 1024));
  // What the connection's proxied requests reuse, one after the other: header block storage,
  // the client watch; and the request id's string (its capacity, from one record to the next).
  exchange_buffers exchange;
  std::string request_id;
  std::string body;  // the request body's string, handed from one parser to the next
  // Parses what `buffer` already holds (up to the end of the header in the `header` phase), with
  // no I/O: a request usually arrives whole with its first read, and a Beast read that completes
  // at once still costs a turn of the event loop (an epoll_wait). The same parser calls as
  // Beast's own reads, so the same errors. False when the parser needs bytes not here yet.
  auto parse_buffered = [&buffer](request_parser& p, bool header, beast::error_code& ec) {
    bool progress = false;
    while (buffer.size() > 0 && !p.is_done() && !(header && p.is_header_done())) {
      const auto used = p.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) {
        break;
      }
      progress = true;
    }
    return progress || ec;
  };

  for (std::size_t served = 0;; ++served) {
    // Draining: a connection made during the grace period still gets its request served.
    if (served > 0 && w.draining.load()) {
      break;
    }
    request_parser parser;
    body.clear();
    parser.get().body().swap(body);  // Beast reserves the declared length: no malloc if it fits
    parser.header_limit(cfg.limits.max_header_bytes);
    parser.body_limit(cfg.limits.max_body_bytes);
    // Idle until the first byte of the next request (draining may close the connection then);
    // from there the whole request must arrive within timeouts.request (slowloris).
    if (buffer.size() == 0) {
      state.idle = true;
      limit.expires_after(cfg.timeouts.idle);
      auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      state.idle = false;
      if (iec) {
        break;
      }
      buffer.commit(in);
    }
    const auto start = steady_clock::now();
    limit.expires_after(cfg.timeouts.request);
    beast::error_code hec;
    if (!parse_buffered(parser, true, hec) || (!hec && !parser.is_header_done())) {
      auto [read_ec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      hec = limit.check(read_ec);
    }
    access_record rec;
    std::string trace_text;
    std::string trace_response;
    std::optional<error> refusal;
    if (hec) {
      refusal = read_error(hec);
      if (!refusal) {
        break;
      }
    } else {
      refusal = framing_error(parser.get().base());
    }
    buffer_hold hold(w.shared.buffered_bytes, cfg.limits.max_buffered_bytes);
    if (!refusal && !parser.is_done()) {
      // A declared length is held before reading (refused at once); a chunked body as it grows.
      const auto declared = parser.content_length();
      if (declared && !hold.grow_to(*declared)) {
        refusal = overloaded();
      }
    }
    if (!refusal && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        limit.expires_after(cfg.timeouts.request);
        auto [cec, cn] = co_await net::async_write(stream, net::buffer(cont), use_tuple);
        if (cec) {
          break;
        }
      }
      limit.expires_after(cfg.timeouts.request);  // the whole body, not each read
      bool quiet_close = false;
      while (!parser.is_done()) {
        beast::error_code bec;
        if (!parse_buffered(parser, false, bec)) {
          auto [read_ec, bn] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
          bec = limit.check(read_ec);
        }
        if (bec) {
          refusal = read_error(bec);
          quiet_close = !refusal;
          break;
        }
        if (!hold.grow_to(parser.get().body().size())) {
          refusal = overloaded();
          break;
        }
      }
      if (quiet_close) {
        break;
      }
    }
    // From here the answer's writes (write_response, the relay) carry their own deadlines, and a
    // proxied request may outlive timeouts.request by far (a stream).
    limit.expires_never();
    if (refusal && refusal->code == errc::overloaded) {
      w.shared.buffered_refusals.fetch_add(1, std::memory_order_relaxed);
    }
    auto& req = parser.get();
    request_id_into(request_id, req["x-request-id"]);
    rec.request_id = std::move(request_id);
    rec.method = req.method_string();
    std::string_view target = req.target();
    rec.path = target.substr(0, target.find('?'));
    rec.bytes_in = req.body().size();

    bool keep = false;
    if (refusal) {
      // The framing is not trusted any more: answer and close.
      // In the shape of the client's API (an Anthropic client on the Messages paths).
      auto res = api_error_response(client_api(target, req["anthropic-version"]), *refusal,
                                    req.version() ? req.version() : 11, false, rec.request_id);
      rec.status = res.result_int();
      rec.bytes_out = res.body().size();
      rec.error = describe(refusal->code).error_type;
      co_await write_response(stream, res, cfg.timeouts.stream_idle);
    } else if (auto route = gateway_routes(w.admin_only).match(req.method(), target);
               route.proxied()) {
      if (w.trace_log.enabled() && cfg.trace.include_text) {
        trace_text = req.body();  // the proxy moves the body on; the trace wants it as sent
        rec.response_capture = &trace_response;
      }
      keep = co_await proxy_request(w, stream, buffer, exchange, req, route.entry->proxied, rec);
    } else {
      keep = req.keep_alive() && !w.draining.load();
      std::shared_ptr<streamed_body> streamed;
      auto res = co_await answer_local(w, req, route, keep, rec, &streamed);
      if (streamed && req.method() != http::verb::head) {
        // A stored file's content: the header, then bounded pieces, each write with a deadline.
        rec.status = res.result_int();
        keep = keep && res.keep_alive();
        std::uint64_t sent = 0;
        keep = co_await write_streamed(stream, res, *streamed, w.shared.admin,
                                       cfg.timeouts.stream_idle, sent) &&
               keep;
        rec.bytes_out = sent;
      } else {
        if (req.method() == http::verb::head) {
          // RFC 9110 §9.3.2: the GET answer's header (its Content-Length included), no body; a
          // refusal's body is left out too (RFC 9112 §6.3: a HEAD response never has content).
          const auto length = streamed ? streamed->length : res.body().size();
          res.body().clear();
          res.content_length(length);
        }
        rec.status = res.result_int();
        rec.bytes_out = res.body().size();
        keep = keep && res.keep_alive();
        keep = co_await write_response(stream, res, cfg.timeouts.stream_idle) && keep;
      }
    }
    rec.duration_ms =
        std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
    w.shared.metrics->observe(rec);
    w.access_log.add(rec);
    if (w.trace_log.enabled() && !rec.endpoint.empty()) {
      rec.request_text = trace_text;  // empty unless trace.include_text asks for it
      rec.response_text = trace_response;
      w.trace_log.add(rec);
    }
    request_id = std::move(rec.request_id);  // the capacity, for the next request's id
    body.swap(req.body());
    if (!keep) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace switchyard
