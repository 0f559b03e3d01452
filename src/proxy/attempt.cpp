#include "switchyard/proxy/attempt.hpp"

#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/body_decoder.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/response_meter.hpp"
#include "switchyard/runtime/deadlines.hpp"

#include <spdlog/spdlog.h>

namespace switchyard {

namespace {

using upstream_parser = http::response_parser<http::buffer_body>;
using client_response = http::response<http::buffer_body>;
using client_serializer = http::response_serializer<http::buffer_body>;

using namespace net::experimental::awaitable_operators;

constexpr std::size_t relay_buffer_bytes = 16 * 1024;
constexpr std::size_t error_body_limit = 1024 * 1024;
// 1xx responses tolerated before the real one (RFC 9110 allows several 103s).
constexpr int max_interim_responses = 8;

bool is_event_stream(const http::fields& f) {
  auto it = f.find(http::field::content_type);
  if (it == f.end()) {
    return false;
  }
  std::string_view v = it->value();
  constexpr std::string_view sse = "text/event-stream";
  return v.size() >= sse.size() && beast::iequals(v.substr(0, sse.size()), sse);
}

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

void add_attempt_headers(const attempt_context& ctx, http::fields& f) {
  f.set("x-request-id", ctx.rec.request_id);
  f.set(http::field::server, "switchyard");
  f.set("x-switchyard-attempts", std::to_string(ctx.attempts));
  if (!ctx.fallback.empty()) {
    f.set("x-switchyard-fallback", ctx.fallback);
  }
  for (const auto& h : ctx.extra) {
    f.set(h.name_string(), h.value());
  }
}

attempt_outcome failed(failure_kind kind, error e, bool upstream_fault) {
  attempt_outcome o;
  o.failure = kind;
  o.err = std::move(e);
  o.upstream_fault = upstream_fault;
  return o;
}

// The relay of a committed response, from the upstream header on.
class relay {
 public:
  relay(attempt_context& ctx, upstream_pool& pool, upstream_lease& lease, upstream_parser& parser)
      : ctx_(ctx),
        pool_(pool),
        lease_(lease),
        parser_(parser),
        sse_(is_event_stream(parser.get().base())),
        meter_(sse_, ctx.w.cfg.limits.max_event_bytes),
        buf_(std::make_unique<char[]>(relay_buffer_bytes)) {
    meter_.strip_usage(sse_ && ctx.strip_usage);
  }

  /// Sets up decoding of the upstream's Content-Encoding; an error for one we cannot decode.
  result<void> init_decoder() {
    auto d = body_decoder::for_encoding(parser_.get()[http::field::content_encoding]);
    if (!d) {
      return d.error();
    }
    decoder_ = std::move(*d);
    return {};
  }

  net::awaitable<attempt_outcome> run();

 private:
  // Reads the next body bytes into the meter. Returns the read error (need_buffer cleared).
  net::awaitable<beast::error_code> read_some();
  bool parse_buffered(beast::error_code& ec);
  beast::error_code take_body();
  net::awaitable<attempt_outcome> read_error_answer();
  net::awaitable<bool> hold_stream(attempt_outcome& out);
  net::awaitable<bool> readable_before(steady_clock::time_point until);
  net::awaitable<bool> write_part(client_response& res, client_serializer& sr,
                                  std::string_view data, bool last);
  error broken(const beast::error_code& ec) const;

  attempt_context& ctx_;
  upstream_pool& pool_;
  upstream_lease& lease_;
  upstream_parser& parser_;
  bool sse_;
  response_meter meter_;
  std::unique_ptr<char[]> buf_;
  std::unique_ptr<body_decoder> decoder_;  // the upstream compressed the body anyway
  std::string decoded_;
  // The last read filled buf_, so more may be buffered already (at first: what came with the
  // header).
  bool last_read_full_ = true;
  beast::error_code deferred_;  // a read error after output, during the hold: relayed later
  bool chunked_ = false;
};

net::awaitable<beast::error_code> relay::read_some() {
  parser_.get().body().data = buf_.get();
  parser_.get().body().size = relay_buffer_bytes;
  deadline limit(ctx_.w.deadlines, lease_->lowest().socket(), ctx_.w.cfg.timeouts.stream_idle);
  auto [ec, n] = co_await lease_->visit(
      [&](auto& s) { return http::async_read_some(s, lease_->buffer, parser_, use_tuple); });
  ec = limit.check(ec);
  if (ec == http::error::need_buffer) {
    ec = {};
  }
  if (auto taken = take_body(); taken) {
    co_return taken;
  }
  co_return ec;
}

// Parses what the read buffer already holds, without I/O: a burst that came in one read sits
// there while the socket itself is quiet, so waiting for readiness would wait for nothing.
// True when that produced body bytes, ended the message or failed (`ec`); false when the
// buffered bytes are not enough for a step (an incomplete chunk header), so the socket decides.
bool relay::parse_buffered(beast::error_code& ec) {
  if (lease_->buffer.size() == 0 || parser_.is_done()) {
    return false;
  }
  parser_.get().body().data = buf_.get();
  parser_.get().body().size = relay_buffer_bytes;
  while (lease_->buffer.size() > 0 && !parser_.is_done() && parser_.get().body().size > 0) {
    const auto used = parser_.put(lease_->buffer.data(), ec);
    lease_->buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec || used == 0) {
      break;
    }
  }
  const bool progress = parser_.get().body().size < relay_buffer_bytes || parser_.is_done();
  if (auto taken = take_body(); taken && !ec) {
    ec = taken;
  }
  return progress || ec;
}

// Hands the body bytes the parser just produced in buf_ to the meter (decoding them first when
// the upstream compressed them) and notes token timing. An error when they cannot be trusted.
beast::error_code relay::take_body() {
  std::size_t got = relay_buffer_bytes - parser_.get().body().size;
  last_read_full_ = got == relay_buffer_bytes;
  if (got > 0) {
    const auto events_before = meter_.events();
    const bool content_before = meter_.saw_content();
    std::string_view bytes(buf_.get(), got);
    if (decoder_) {
      decoded_.clear();
      if (auto d = decoder_->feed(bytes, decoded_); !d) {
        spdlog::warn("request {}: {}", ctx_.rec.request_id, d.error().message);
        return http::error::bad_chunk;  // undecodable: the body cannot be trusted
      }
      bytes = decoded_;
    }
    if (auto fed = meter_.feed(bytes, ctx_.w.json); !fed) {
      return http::error::bad_chunk;  // an over-long event: the framing cannot be trusted
    }
    if (meter_.saw_content()) {
      // Time to first token, then the gaps between events (a read's events share its gap).
      const auto now = steady_clock::now();
      const auto fresh = meter_.events() - events_before;
      if (!content_before) {
        ctx_.first_token = now;
      } else if (fresh > 0 && ctx_.on_gap) {
        const double gap = std::chrono::duration<double>(now - ctx_.last_token).count() /
                           static_cast<double>(fresh);
        for (std::uint64_t i = 0; i < fresh; ++i) {
          ctx_.on_gap(ctx_.on_gap_arg, gap);
        }
      }
      ctx_.last_token = now;
      ctx_.token_events += fresh;
    }
  }
  return {};
}

error relay::broken(const beast::error_code& ec) const {
  const auto& cfg = ctx_.w.cfg;
  if (ctx_.st.shutdown) {
    // The drain cancelled the upstream read: say so, retryably, rather than "upstream broken".
    return make_error(errc::shutting_down,
                      "The gateway is shutting down; retry the request on another instance.");
  }
  return make_error(
      errc::upstream_broken,
      "upstream " + pool_.config().name + " " +
          (ec == beast::error::timeout
               ? "stalled for " + std::to_string(cfg.timeouts.stream_idle.count()) + " ms"
               : "closed the response early: " + ec.message()));
}

// A non-2xx answer: read it whole (error bodies are small) so that it can be classified, kept
// for the client if retries end, and the connection reused.
net::awaitable<attempt_outcome> relay::read_error_answer() {
  std::string body;
  while (!parser_.is_done()) {
    auto ec = co_await read_some();
    body += meter_.ready();
    meter_.ready().clear();
    if (ec) {
      co_return failed(failure_kind::reset_before_response, broken(ec), true);
    }
    if (body.size() > error_body_limit) {
      // Not an I/O error (ec is empty): say what happened instead of "early: Success".
      co_return failed(
          failure_kind::reset_before_response,
          make_error(errc::upstream_broken,
                     "upstream " + pool_.config().name + " sent an error answer (" +
                         std::to_string(parser_.get().result_int()) + ") larger than " +
                         std::to_string(error_body_limit) + " bytes"),
          true);
    }
  }
  const auto& up = parser_.get();
  string_response res;
  res.version(ctx_.req.version());
  res.result(up.result_int());  // as sent, even a code Beast does not know (520, 529, 999)
  res.reason(up.reason());
  build_client_fields(up.base(), res.base());
  if (decoder_) {
    res.erase(http::field::content_encoding);  // relayed decoded
  }
  res.body() = std::move(body);
  res.prepare_payload();
  attempt_outcome out;
  out.failure = failure_kind::status;
  out.upstream_fault = up.result_int() >= 500;
  out.retry_floor = parse_retry_after(up["retry-after-ms"], up[http::field::retry_after],
                                      std::chrono::system_clock::now());
  bool retriable = classify_status(up.result_int(), res.body()) == outcome_class::retriable;
  if (parser_.keep_alive()) {
    ctx_.st.upstream = nullptr;
    lease_->lowest().expires_never();
    lease_.recycle();
  }
  if (retriable) {
    out.answer = std::move(res);
    co_return out;
  }
  // Retrying cannot help (400, 401, 404, insufficient_quota…): the client gets it as it is.
  out.committed = true;
  out.keep_client = co_await send_final(ctx_, std::move(res));
  co_return out;
}

// Waits until the upstream has bytes for the next read or `until` passes (false). Waits on the
// socket's readiness (cancelling that is harmless, unlike cancelling a read mid-frame); bytes
// the parser or TLS already buffered count as readable.
net::awaitable<bool> relay::readable_before(steady_clock::time_point until) {
  if (last_read_full_ || lease_->tls_pending()) {
    co_return true;
  }
  net::steady_timer timer(ctx_.client.get_executor(), until);
  auto which = co_await (lease_->lowest().socket().async_wait(tcp::socket::wait_read, use_tuple) ||
                         timer.async_wait(use_tuple));
  co_return which.index() == 0;
}

// Holds a 2xx stream until its first output event (or a budget runs out) so that an upstream
// that fails before producing anything can be retried without the client noticing. The time
// budget runs on a timer: an upstream that sends a role chunk and goes silent is released at
// stream_hold_time, not at stream_idle. Returns false with `out` set when the upstream failed
// during the hold before any output; a failure after output is kept for the relay to report
// (that response is the client's: it is never replayed upstream).
net::awaitable<bool> relay::hold_stream(attempt_outcome& out) {
  const auto& r = ctx_.retry;
  const auto hold_until = steady_clock::now() + r.stream_hold_time;
  while (!parser_.is_done() && !meter_.hold_released() &&
         meter_.ready().size() + meter_.held_bytes() < r.stream_hold_bytes) {
    beast::error_code ec;
    if (!parse_buffered(ec)) {
      if (!co_await readable_before(hold_until)) {
        co_return true;  // time's up: release what we have and go on relaying
      }
      ec = co_await read_some();
    }
    if (ec) {
      if (meter_.saw_content()) {
        deferred_ = ec;
        co_return true;
      }
      out = failed(ec == beast::error::timeout ? failure_kind::timeout_before_response
                                               : failure_kind::reset_before_response,
                   broken(ec), true);
      co_return false;
    }
  }
  co_return true;
}

net::awaitable<bool> relay::write_part(client_response& res, client_serializer& sr,
                                       std::string_view data, bool last) {
  // buffer_body: Beast frames it (chunked or not) and sends the header with the first part.
  res.body().data = data.empty() ? nullptr : const_cast<char*>(data.data());
  res.body().size = data.size();
  res.body().more = !last;
  if (ctx_.capture && ctx_.capture->size() < (1u << 20)) {
    ctx_.capture->append(data.substr(0, (1u << 20) - ctx_.capture->size()));
  }
  deadline limit(ctx_.w.deadlines, ctx_.client.socket(), ctx_.w.cfg.timeouts.stream_idle);
  auto [ec, n] = co_await http::async_write(ctx_.client, sr, use_tuple);
  ec = limit.check(ec);
  if (ec == http::error::need_buffer) {
    ec = {};  // this part is out; the serializer waits for the next
  }
  ctx_.rec.bytes_out += data.size();
  co_return !ec;
}

net::awaitable<attempt_outcome> relay::run() {
  const auto& up = parser_.get();
  if (auto d = init_decoder(); !d) {
    // Not retried: the same upstream would answer the same way. Not its health either.
    co_return failed(failure_kind::broken_after_start, d.error(), false);
  }
  if (up.result_int() >= 400) {
    co_return co_await read_error_answer();
  }
  attempt_outcome out;
  if (sse_ && ctx_.retry.stream_hold_bytes > 0 && !co_await hold_stream(out)) {
    co_return out;
  }

  // A plain body usually arrives with its header: read it first so that header and body leave
  // in one write. Nothing has reached the client yet, so a failure here is still retriable.
  if (!sse_ && meter_.ready().empty() && !parser_.is_done()) {
    if (auto ec = co_await read_some(); ec) {
      co_return failed(failure_kind::reset_before_response, broken(ec), true);
    }
  }

  // Committed: from here on the client sees this response, whatever happens.
  out.committed = true;
  const bool has_length = parser_.content_length().has_value() && !decoder_;
  client_response res;
  res.version(ctx_.req.version());
  res.result(up.result_int());
  res.reason(up.reason());
  build_client_fields(up.base(), res.base());
  if (decoder_) {
    res.erase(http::field::content_encoding);  // relayed decoded
  }
  add_attempt_headers(ctx_, res.base());
  bool keep = ctx_.req.keep_alive() && !ctx_.w.draining.load();
  if (has_length && !sse_) {
    res.content_length(parser_.content_length());
  } else if (ctx_.req.version() >= 11) {
    res.chunked(true);
    chunked_ = true;
  } else {
    keep = false;  // HTTP/1.0 without a length: the end of the body is the end of the connection
  }
  if (sse_) {
    res.set(http::field::cache_control, "no-cache");
    res.set("x-accel-buffering", "no");
  }
  res.keep_alive(keep);
  ctx_.rec.status = up.result_int();
  ctx_.rec.stream = sse_;
  client_serializer sr(res);
  struct stream_gauge {  // active SSE streams for /metrics
    metrics::gauge* g;
    explicit stream_gauge(metrics::gauge* gg) : g(gg) {
      if (g) {
        g->add(1);
      }
    }
    ~stream_gauge() {
      if (g) {
        g->sub(1);
      }
    }
    stream_gauge(const stream_gauge&) = delete;
    stream_gauge& operator=(const stream_gauge&) = delete;
  } streaming(sse_ ? &ctx_.w.shared.metrics->active_streams.with() : nullptr);

  std::optional<error> failure;
  for (bool first = true;;) {
    const bool done = parser_.is_done();
    if (done && meter_.held_bytes() > 0) {
      meter_.release_held();  // upstream ended cleanly with an unterminated last event
    }
    // The header goes at once (an SSE client must see it before the first token); after that,
    // whatever is ready, and the end of the body with the last bytes.
    if (first || done || !meter_.ready().empty()) {
      if (!co_await write_part(res, sr, meter_.ready(), done)) {
        co_return out;
      }
      meter_.ready().clear();
      if (first) {
        first = false;
        ctx_.st.response_started = true;
        if (ctx_.breaker && !ctx_.breaker_recorded) {
          ctx_.breaker->record(true, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         steady_clock::now().time_since_epoch())
                                         .count());
          ctx_.breaker_recorded = true;
        }
      }
    }
    if (done) {
      break;
    }
    beast::error_code ec = std::exchange(deferred_, {});
    if (!ec) {
      ec = co_await read_some();
    }
    if (ec) {
      if (ctx_.st.client_gone) {
        co_return out;
      }
      failure = broken(ec);
      break;
    }
  }
  meter_.finish(ctx_.w.json);
  out.usage = meter_.usage();

  if (failure) {
    ctx_.rec.error = describe(failure->code).error_type;
    spdlog::warn("request {}: {}", ctx_.rec.request_id, failure->message);
    if (!sse_ || !chunked_) {
      co_return out;  // no in-band way to say it: a short body and a closed connection
    }
    // Never a silent clean end: the SDKs raise this as an APIError. Whole events only were
    // relayed, so the error event starts cleanly; the last chunk goes with it.
    if (!co_await write_part(res, sr, error_event(*failure), true)) {
      co_return out;
    }
  }
  ctx_.st.upstream = nullptr;
  if (!failure && parser_.keep_alive()) {
    lease_->lowest().expires_never();
    lease_.recycle();
  }
  out.keep_client = keep;
  co_return out;
}

}  // namespace

net::awaitable<attempt_outcome> run_attempt(attempt_context& ctx, upstream_pool& pool,
                                            http::request<http::string_body>& upstream_req) {
  const auto& tmo = ctx.w.cfg.timeouts;
  auto lease = co_await pool.acquire(earliest(steady_clock::now() + tmo.connect, ctx.deadline));
  if (!lease) {
    bool busy = lease.error().code == errc::upstream_busy;
    co_return failed(failure_kind::connect, lease.error(), !busy);
  }
  std::optional<upstream_parser> parser;
  for (int stale_retry = 0;; ++stale_retry) {
    ctx.st.upstream = &**lease;
    parser.emplace();
    parser->body_limit(boost::none);  // streams are unbounded; idle deadlines bound them
    parser->header_limit(ctx.w.cfg.limits.max_upstream_header_bytes);
    deadline limit(ctx.w.deadlines, (*lease)->lowest().socket(),
                   earliest(steady_clock::now() + tmo.first_byte, ctx.deadline));
    auto [wec, wn] = co_await (*lease)->visit(
        [&](auto& s) { return http::async_write(s, upstream_req, use_tuple); });
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
        co_return failed(
            failure_kind::reset_before_response,
            make_error(errc::upstream_broken, "upstream " + pool.config().name +
                                                  (status == 101 ? " switched protocols"
                                                                 : " sent too many 1xx responses")),
            true);
      }
      parser.emplace();
      parser->body_limit(boost::none);
      parser->header_limit(ctx.w.cfg.limits.max_upstream_header_bytes);
    }
    limit.expires_never();  // the header is in (or failed); the relay's reads have their own
    if (!ec) {
      const auto& fields = parser->get().base();
      if (static_cast<std::size_t>(std::distance(fields.begin(), fields.end())) >
          ctx.w.cfg.limits.max_upstream_headers) {
        ctx.st.upstream = nullptr;
        co_return failed(failure_kind::reset_before_response,
                         make_error(errc::upstream_broken,
                                    "upstream " + pool.config().name + " sent more than " +
                                        std::to_string(ctx.w.cfg.limits.max_upstream_headers) +
                                        " response header fields"),
                         true);
      }
      break;
    }
    ctx.st.upstream = nullptr;
    if (ctx.st.client_gone) {
      attempt_outcome gone;
      gone.committed = true;  // nobody to answer: stop here
      co_return gone;
    }
    if (stale_retry == 0 && lease->reused() && stale_connection(ec)) {
      // A keep-alive connection the upstream had closed: not a failed attempt.
      *lease = upstream_lease();
      lease = co_await pool.connect_new(earliest(steady_clock::now() + tmo.connect, ctx.deadline));
      if (!lease) {
        co_return failed(failure_kind::connect, lease.error(), true);
      }
      continue;
    }
    if (ec == beast::error::timeout) {
      co_return failed(failure_kind::timeout_before_response,
                       make_error(errc::upstream_timeout,
                                  "upstream " + pool.config().name + " sent no response within " +
                                      std::to_string(tmo.first_byte.count()) + " ms"),
                       true);
    }
    co_return failed(
        failure_kind::reset_before_response,
        make_error(errc::upstream_broken,
                   "upstream " + pool.config().name + " failed before responding: " + ec.message()),
        true);
  }
  ctx.rec.ttfb_ms =
      std::chrono::duration<double, std::milli>(steady_clock::now() - ctx.start).count();
  relay r(ctx, pool, *lease, *parser);
  co_return co_await r.run();
}

net::awaitable<bool> send_final(attempt_context& ctx, string_response res) {
  add_attempt_headers(ctx, res.base());
  if (ctx.attempts > 1 && !ctx.retry.client_may_retry && res.result_int() >= 400) {
    // The gateway spent its retries: an SDK retrying too would multiply them (2 × 3 × …).
    res.set("x-should-retry", "false");
  }
  bool keep = ctx.req.keep_alive() && !ctx.w.draining.load() && res.keep_alive();
  res.keep_alive(keep);
  ctx.rec.status = res.result_int();
  ctx.rec.bytes_out += res.body().size();
  bool ok = co_await write_response(ctx.client, res, ctx.w.cfg.timeouts.stream_idle);
  co_return ok&& keep;
}

}  // namespace switchyard
