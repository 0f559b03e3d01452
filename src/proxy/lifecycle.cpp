#include "switchyard/proxy/lifecycle.hpp"

#include "switchyard/http/responses.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/response_meter.hpp"

#include <spdlog/spdlog.h>

#include <optional>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;
using upstream_parser = http::response_parser<http::buffer_body>;

constexpr std::size_t relay_buffer_bytes = 16 * 1024;
constexpr std::uint32_t upstream_header_limit = 64 * 1024;

double ms_since(steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(steady_clock::now() - t).count();
}

bool is_event_stream(const http::fields& f) {
  auto it = f.find(http::field::content_type);
  if (it == f.end()) {
    return false;
  }
  std::string_view v = it->value();
  constexpr std::string_view sse = "text/event-stream";
  if (v.size() < sse.size()) {
    return false;
  }
  for (std::size_t i = 0; i < sse.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != sse[i]) {
      return false;
    }
  }
  return true;
}

// Errors before the first response byte that mean "the pooled connection was already dead":
// the request never reached a live server, so sending it again on a fresh one is safe.
bool stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

// Shared between the exchange and the watcher of the client; both run on the worker's thread.
struct exchange_state {
  upstream_connection* upstream = nullptr;  // the connection in use, for prompt cancellation
  bool response_started = false;            // response header written to the client
  bool client_gone = false;
};

class exchange {
 public:
  exchange(worker& w, beast::tcp_stream& client, http::request<http::string_body>& req,
           access_record& rec, exchange_state& st, upstream_pool& pool, bool sse_requested,
           steady_clock::time_point start)
      : w_(w),
        client_(client),
        req_(req),
        rec_(rec),
        st_(st),
        pool_(pool),
        stream_requested_(sse_requested),
        start_(start) {}

  // Returns whether the client connection may stay open.
  net::awaitable<bool> run(http::request<http::string_body>& upstream_req);

 private:
  net::awaitable<bool> fail(const error& e);
  net::awaitable<bool> relay(upstream_lease& lease, upstream_parser& parser);
  net::awaitable<bool> write_client(std::string_view data, bool chunked);
  bool keep_client() const { return req_.keep_alive() && !w_.draining.load(); }

  worker& w_;
  beast::tcp_stream& client_;
  http::request<http::string_body>& req_;
  access_record& rec_;
  exchange_state& st_;
  upstream_pool& pool_;
  bool stream_requested_;
  steady_clock::time_point start_;
};

net::awaitable<bool> exchange::fail(const error& e) {
  rec_.status = static_cast<unsigned>(describe(e.code).status);
  rec_.error = describe(e.code).metric_label;
  auto res = error_response(e, req_.version(), keep_client(), rec_.request_id);
  bool keep = res.keep_alive();
  bool ok = co_await write_response(client_, res, w_.cfg.timeouts.stream_idle);
  co_return ok && keep;
}

net::awaitable<bool> exchange::run(http::request<http::string_body>& upstream_req) {
  const auto& tmo = w_.cfg.timeouts;
  auto lease = co_await pool_.acquire(steady_clock::now() + tmo.connect);
  if (!lease) {
    co_return co_await fail(lease.error());
  }
  std::optional<upstream_parser> parser;
  for (int attempt = 0;; ++attempt) {
    st_.upstream = &**lease;
    parser.emplace();
    parser->body_limit(boost::none);  // streams are unbounded; idle deadlines bound them
    parser->header_limit(upstream_header_limit);
    (*lease)->lowest().expires_after(tmo.first_byte);
    auto [wec, wn] = co_await (*lease)->visit(
        [&](auto& s) { return http::async_write(s, upstream_req, use_tuple); });
    beast::error_code ec = wec;
    if (!ec) {
      auto [hec, hn] = co_await (*lease)->visit([&](auto& s) {
        return http::async_read_header(s, (*lease)->buffer, *parser, use_tuple);
      });
      ec = hec;
    }
    if (!ec) {
      break;
    }
    if (st_.client_gone) {
      co_return false;
    }
    if (attempt == 0 && lease->reused() && stale_connection(ec)) {
      st_.upstream = nullptr;
      *lease = upstream_lease();
      lease = co_await pool_.connect_new(steady_clock::now() + tmo.connect);
      if (!lease) {
        co_return co_await fail(lease.error());
      }
      continue;
    }
    if (ec == beast::error::timeout) {
      co_return co_await fail(make_error(
          errc::upstream_timeout, "upstream " + pool_.config().name + " sent no response within " +
                                      std::to_string(tmo.first_byte.count()) + " ms"));
    }
    co_return co_await fail(make_error(errc::upstream_broken, "upstream " + pool_.config().name +
                                                                  " failed before responding: " +
                                                                  ec.message()));
  }
  rec_.ttfb_ms = ms_since(start_);
  co_return co_await relay(*lease, *parser);
}

net::awaitable<bool> exchange::write_client(std::string_view data, bool chunked) {
  client_.expires_after(w_.cfg.timeouts.stream_idle);
  beast::error_code ec;
  if (chunked) {
    auto [e, n] = co_await net::async_write(client_, http::make_chunk(net::buffer(data)), use_tuple);
    ec = e;
  } else {
    auto [e, n] = co_await net::async_write(client_, net::buffer(data), use_tuple);
    ec = e;
  }
  rec_.bytes_out += data.size();
  co_return !ec;
}

net::awaitable<bool> exchange::relay(upstream_lease& lease, upstream_parser& parser) {
  const auto& up = parser.get();
  const bool sse = is_event_stream(up.base());
  const bool has_length = up.has_content_length() || parser.content_length().has_value();
  const bool client_http11 = req_.version() >= 11;

  http::response<http::empty_body> res{up.result(), req_.version()};
  build_client_fields(up.base(), res.base());
  res.set("x-request-id", rec_.request_id);
  res.set(http::field::server, "switchyard");
  bool keep = keep_client();
  bool chunked = false;
  if (has_length && !sse) {
    res.content_length(parser.content_length());
  } else if (client_http11) {
    res.chunked(true);
    chunked = true;
  } else {
    keep = false;  // HTTP/1.0 without a length: the end of the body is the end of the connection
  }
  if (sse) {
    res.set(http::field::cache_control, "no-cache");
    res.set("x-accel-buffering", "no");
  }
  res.keep_alive(keep);
  rec_.status = up.result_int();
  rec_.stream = sse;

  http::response_serializer<http::empty_body> sr(res);
  client_.expires_after(w_.cfg.timeouts.stream_idle);
  auto [hec, hn] = co_await http::async_write_header(client_, sr, use_tuple);
  if (hec) {
    co_return false;
  }
  st_.response_started = true;

  response_meter meter(sse, w_.cfg.limits.max_event_bytes);
  auto buf = std::make_unique<char[]>(relay_buffer_bytes);
  std::optional<error> broken;
  while (!parser.is_done()) {
    parser.get().body().data = buf.get();
    parser.get().body().size = relay_buffer_bytes;
    lease->lowest().expires_after(w_.cfg.timeouts.stream_idle);
    auto [ec, n] = co_await lease->visit(
        [&](auto& s) { return http::async_read_some(s, lease->buffer, parser, use_tuple); });
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    std::size_t got = relay_buffer_bytes - parser.get().body().size;
    if (got > 0) {
      if (auto fed = meter.feed(std::string_view(buf.get(), got), w_.json); !fed) {
        broken = fed.error();
        break;
      }
    }
    if (!meter.ready().empty()) {
      if (!co_await write_client(meter.ready(), chunked)) {
        co_return false;
      }
      meter.ready().clear();
    }
    if (ec) {
      if (st_.client_gone) {
        co_return false;
      }
      broken = make_error(errc::upstream_broken,
                          "upstream " + pool_.config().name + " " +
                              (ec == beast::error::timeout
                                   ? "stalled for " +
                                         std::to_string(w_.cfg.timeouts.stream_idle.count()) +
                                         " ms"
                                   : "closed the response early: " + ec.message()));
      break;
    }
  }
  meter.finish(w_.json);
  rec_.usage = meter.usage();

  if (broken) {
    rec_.error = describe(broken->code).metric_label;
    spdlog::warn("request {}: {}", rec_.request_id, broken->message);
    if (!sse || !chunked) {
      co_return false;  // no in-band way to say it: a short body and a closed connection
    }
    // Never a silent clean end: the client parses this as an APIError.
    if (!co_await write_client(error_event(*broken), true)) {
      co_return false;
    }
  } else if (meter.held_bytes() > 0) {
    // Upstream ended cleanly with an unterminated last event: forward what it sent.
    meter.release_held();
    if (!co_await write_client(meter.ready(), chunked)) {
      co_return false;
    }
  }
  if (chunked) {
    client_.expires_after(w_.cfg.timeouts.stream_idle);
    auto [ec, n] = co_await net::async_write(client_, http::make_chunk_last(), use_tuple);
    if (ec) {
      co_return false;
    }
  }
  st_.upstream = nullptr;
  if (!broken && parser.keep_alive()) {
    lease->lowest().expires_never();
    lease.recycle();
  }
  co_return keep;
}

// Completes when the client closes or resets its connection. Bytes it sends meanwhile (a
// pipelined request) are kept in `buffer` for the session.
net::awaitable<void> watch_client(beast::tcp_stream& client, beast::flat_buffer& buffer,
                                  exchange_state& st) {
  for (;;) {
    std::size_t room = buffer.max_size() - buffer.size();
    if (room == 0) {
      // Full of pipelined bytes: stop reading (back-pressure) and just wait to be cancelled.
      net::steady_timer forever(client.get_executor(), steady_clock::time_point::max());
      co_await forever.async_wait(use_tuple);
      co_return;
    }
    auto [ec, n] = co_await client.socket().async_read_some(
        buffer.prepare(std::min<std::size_t>(room, 4096)), use_tuple);
    if (ec == net::error::operation_aborted) {
      co_return;  // the exchange finished first
    }
    if (ec) {
      st.client_gone = true;
      if (st.upstream) {
        st.upstream->lowest().cancel();  // stop the provider generating tokens nobody reads
      }
      co_return;
    }
    buffer.commit(n);
  }
}

}  // namespace

net::awaitable<bool> proxy_request(worker& w, beast::tcp_stream& client,
                                   beast::flat_buffer& client_buffer,
                                   http::request<http::string_body>& req, endpoint ep,
                                   access_record& rec) {
  const auto start = steady_clock::now();
  rec.endpoint = endpoint_label(ep);
  const bool keep = req.keep_alive() && !w.draining.load();
  auto reply_error = [&](const error& e) -> net::awaitable<bool> {
    rec.status = static_cast<unsigned>(describe(e.code).status);
    rec.error = describe(e.code).metric_label;
    auto res = error_response(e, req.version(), keep, rec.request_id);
    bool k = res.keep_alive();
    co_return co_await write_response(client, res, w.cfg.timeouts.stream_idle) && k;
  };

  std::string& body = req.body();
  pad_for_simdjson(body);
  auto fields = parse_request_body(ep, w.json, body);
  if (!fields) {
    co_return co_await reply_error(fields.error());
  }
  rec.model = fields->model;
  rec.stream = fields->stream;
  const model_config* model = w.cfg.find_model(fields->model);
  if (!model) {
    co_return co_await reply_error(
        make_error(errc::model_not_found,
                   "The model `" + fields->model + "` does not exist or you do not have access to it.",
                   "model"));
  }
  upstream_pool& pool = *w.pools[model->upstream_index];
  rec.upstream = pool.config().name;

  http::request<http::string_body> upstream_req{http::verb::post,
                                                pool.config().path_prefix +
                                                    std::string(endpoint_path(ep)),
                                                11};
  build_upstream_fields(req.base(), pool.config(), rec.request_id, upstream_req.base());
  upstream_req.body() = model->model == fields->model ? std::move(body)
                                                      : splice_model(body, *fields, model->model);
  upstream_req.keep_alive(true);
  upstream_req.prepare_payload();

  exchange_state st;
  exchange ex(w, client, req, rec, st, pool, fields->stream, start);
  auto outcome = co_await (ex.run(upstream_req) || watch_client(client, client_buffer, st));
  if (outcome.index() == 1 || st.client_gone) {
    if (!st.response_started) {
      rec.status = 499;  // nginx's "client closed request"
    }
    rec.error = "client_closed";
    co_return false;
  }
  co_return std::get<0>(outcome);
}

}  // namespace switchyard
