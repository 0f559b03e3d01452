#include "switchyard/http/session.hpp"

#include "switchyard/experiments/engine.hpp"
#include "switchyard/http/api.hpp"
#include "switchyard/http/responses.hpp"
#include "switchyard/log/access_log.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/lifecycle.hpp"

#include <optional>

namespace switchyard {

namespace {

using request_parser = http::request_parser<http::string_body>;

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// A read error that needs an answer before closing, or nullopt for a quiet close (the client
// left, went idle, or the gateway is draining).
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

// RFC 9112 §6.3: only `Transfer-Encoding: chunked` on HTTP/1.1 has a framing both sides agree
// on; anything else lets a request hide another one (smuggling), so it is refused.
std::optional<error> framing_error(const request_parser::value_type& h) {
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

std::optional<endpoint> proxied_endpoint(std::string_view path) {
  if (path == "/v1/chat/completions") {
    return endpoint::chat_completions;
  }
  if (path == "/v1/completions") {
    return endpoint::completions;
  }
  if (path == "/v1/embeddings") {
    return endpoint::embeddings;
  }
  return std::nullopt;
}

// Admin and discovery routes answered by the gateway itself.
string_response local_response(worker& w, const http::request<http::string_body>& req,
                               std::string_view path, bool keep, const std::string& id,
                               access_record& rec) {
  const bool get = req.method() == http::verb::get;
  auto not_allowed = [&] {
    return error_response(
        make_error(errc::method_not_allowed, "Method " + std::string(req.method_string()) +
                                                 " is not allowed on " + std::string(path) + "."),
        req.version(), keep, id);
  };
  if (path == "/healthz") {
    return get ? json_response(http::status::ok, R"({"status":"ok"})", req.version(), keep, id)
               : not_allowed();
  }
  if (path == "/readyz") {
    if (!get) {
      return not_allowed();
    }
    return w.draining.load()
               ? json_response(http::status::service_unavailable, R"({"status":"draining"})",
                               req.version(), keep, id)
               : json_response(http::status::ok, R"({"status":"ready"})", req.version(), keep, id);
  }
  if (auto res = handle_api(w, req, path, keep, id)) {
    return std::move(*res);
  }
  if (path.starts_with("/v1/models/")) {
    if (!get) {
      return not_allowed();
    }
    std::string name(path.substr(std::string_view("/v1/models/").size()));
    rec.model = name;
    if (!w.shared.experiments->current()->cfg->find_model(name)) {
      return error_response(
          make_error(errc::model_not_found, "The model `" + name + "` does not exist.", "model"),
          req.version(), keep, id);
    }
    std::string body = R"({"id":")";
    append_json_escaped(body, name);
    body += R"(","object":"model","created":0,"owned_by":"switchyard"})";
    return json_response(http::status::ok, std::move(body), req.version(), keep, id);
  }
  if (proxied_endpoint(path)) {
    return not_allowed();
  }
  return error_response(
      make_error(errc::not_found, "Unknown request URL: " + std::string(req.method_string()) + " " +
                                      std::string(path) + "."),
      req.version(), keep, id);
}

// Registers the session with its worker for the session's lifetime (draining finds idle ones).
struct registration {
  worker& w;
  session_state& s;
  registration(worker& wk, session_state& st) : w(wk), s(st) { w.sessions.insert(&s); }
  ~registration() { w.sessions.erase(&s); }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
};

}  // namespace

net::awaitable<void> run_session(worker& w, tcp::socket socket) {
  // User-level non-blocking: the one synchronous read on this socket (the disconnect watcher,
  // after a readiness wake-up) must never block the worker's thread.
  beast::error_code nb_ec;
  socket.non_blocking(true, nb_ec);
  beast::tcp_stream stream(std::move(socket));
  session_state state{&stream, false};
  registration reg(w, state);
  const auto& cfg = w.cfg;
  // Bounded: header bytes plus read-ahead; the body goes into the request's own string.
  beast::flat_buffer buffer(std::max<std::size_t>(cfg.limits.max_header_bytes * 2, 64 * 1024));

  for (;;) {
    if (w.draining.load()) {
      break;
    }
    request_parser parser;
    parser.header_limit(cfg.limits.max_header_bytes);
    parser.body_limit(cfg.limits.max_body_bytes);
    // Idle until the first byte of the next request (draining may close the connection then);
    // from there the whole request must arrive within timeouts.request (slowloris).
    if (buffer.size() == 0) {
      state.idle = true;
      stream.expires_after(cfg.timeouts.idle);
      auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      state.idle = false;
      if (iec) {
        break;
      }
      buffer.commit(in);
    }
    const auto start = steady_clock::now();
    stream.expires_after(cfg.timeouts.request);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
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
      refusal = framing_error(parser.get());
    }
    if (!refusal && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        stream.expires_after(cfg.timeouts.request);
        auto [cec, cn] = co_await net::async_write(stream, net::buffer(cont), use_tuple);
        if (cec) {
          break;
        }
      }
      stream.expires_after(cfg.timeouts.request);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (bec) {
        refusal = read_error(bec);
        if (!refusal) {
          break;
        }
      }
    }
    auto& req = parser.get();
    rec.request_id = request_id_for(req["x-request-id"]);
    rec.method = req.method_string();
    std::string_view target = req.target();
    rec.path = target.substr(0, target.find('?'));
    rec.bytes_in = req.body().size();

    bool keep = false;
    if (refusal) {
      // The framing is not trusted any more: answer and close.
      auto res =
          error_response(*refusal, req.version() ? req.version() : 11, false, rec.request_id);
      rec.status = res.result_int();
      rec.bytes_out = res.body().size();
      rec.error = describe(refusal->code).error_type;
      co_await write_response(stream, res, cfg.timeouts.stream_idle);
    } else if (auto ep = proxied_endpoint(rec.path); ep && req.method() == http::verb::post) {
      if (w.trace_log.enabled() && cfg.trace.include_text) {
        trace_text = req.body();  // the proxy moves the body on; the trace wants it as sent
        rec.response_capture = &trace_response;
      }
      keep = co_await proxy_request(w, stream, buffer, req, *ep, rec);
    } else {
      keep = req.keep_alive() && !w.draining.load();
      auto res = local_response(w, req, rec.path, keep, rec.request_id, rec);
      rec.status = res.result_int();
      rec.bytes_out = res.body().size();
      keep = co_await write_response(stream, res, cfg.timeouts.stream_idle) && keep;
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
    if (!keep) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace switchyard
