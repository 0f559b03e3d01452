#include "switchyard/proxy/relay.hpp"

#include "switchyard/core/scoped_count.hpp"
#include "switchyard/metrics/gateway_metrics.hpp"
#include "switchyard/proxy/body_decoder.hpp"
#include "switchyard/proxy/deadline.hpp"
#include "switchyard/proxy/fail.hpp"
#include "switchyard/proxy/headers.hpp"
#include "switchyard/proxy/response_meter.hpp"
#include "switchyard/proxy/translation.hpp"

#include "switchyard/providers/anthropic_errors.hpp"

#include "switchyard/core/arena.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <span>

namespace switchyard {

namespace {

using namespace net::experimental::awaitable_operators;

constexpr std::size_t relay_buffer_bytes = 16 * 1024;
constexpr std::size_t error_body_limit = 1024 * 1024;

// The block the parser writes a response's body bytes into, one per thread. It is filled and
// emptied (copied on by the meter) without a suspension in between: see parse_buffered.
char* body_scratch() {
  thread_local const std::unique_ptr<char[]> block(new char[relay_buffer_bytes]);
  return block.get();
}

bool is_event_stream(const pooled_fields& f) {
  auto it = f.find(http::field::content_type);
  if (it == f.end()) {
    return false;
  }
  std::string_view v = it->value();
  constexpr std::string_view sse = "text/event-stream";
  return v.size() >= sse.size() && beast::iequals(v.substr(0, sse.size()), sse);
}

// The relay of a committed response, from the upstream header on.
class relay {
 public:
  relay(attempt_io& io, upstream_pool& pool, upstream_lease& lease, upstream_parser& parser,
        const upstream_request& req)
      : io_(io),
        ctx_(io.ctx),
        pool_(pool),
        lease_(lease),
        parser_(parser),
        translation_(req.translation),
        sse_(is_event_stream(parser.get().base())),
        meter_(sse_, io.w.cfg.limits.max_event_bytes, req.dialect) {
    if (translation_ && parser.get().result_int() < 400) {
      // A fresh translator per attempt: a retry starts from nothing. (An error answer is read
      // as sent and mapped whole: read_error_answer.)
      meter_.translate(*translation_);
    } else {
      meter_.strip_usage(sse_ && ctx_.strip_usage);
      meter_.dialect(endpoint_api(ctx_.ep));  // pass-through: the upstream speaks the client's API
    }
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
  // Reads more from the socket and parses it into the meter (after parse_buffered made no
  // step). Returns the read or parse error.
  net::awaitable<beast::error_code> read_some();
  bool parse_buffered(beast::error_code& ec);
  beast::error_code take_body();
  net::awaitable<attempt_outcome> read_error_answer();
  net::awaitable<std::optional<attempt_retry>> read_whole_translated();
  net::awaitable<std::optional<attempt_retry>> hold_stream();
  net::awaitable<bool> readable_before(steady_clock::time_point until);
  void render_head(bool keep);
  net::awaitable<bool> write_part(std::string_view data, bool last);
  error broken(const beast::error_code& ec) const;

  attempt_io& io_;
  request_context& ctx_;
  upstream_pool& pool_;
  upstream_lease& lease_;
  upstream_parser& parser_;
  const response_translation* translation_;  // null: relayed as sent
  bool sse_;
  response_meter meter_;
  std::unique_ptr<body_decoder> decoder_;  // the upstream compressed the body anyway
  std::string decoded_;
  // The last parse filled the scratch block, so more may be buffered already (at first: what
  // came with the header).
  bool last_read_full_ = true;
  beast::error_code deferred_;  // a read error after output, during the hold: relayed later
  bool chunked_ = false;
  std::optional<std::size_t> body_length_;  // a translated body's length
  bool head_sent_ = false;  // the client response's header block (ctx_.buffers->client_head)
};

// The socket read goes into the connection's buffer and the parse into the thread's scratch
// block, so a relay owns no body buffer: an idle stream waiting here holds none (issue 12's RSS
// per stream). Callers parse what is buffered first (parse_buffered: no frame, no I/O) and come
// here only when that made no step. As Beast's http::async_read_some (beast/http/impl/read.hpp,
// read_some_op): a clean EOF ends a close-delimited body, and an EOF before any of the message
// is end_of_stream.
net::awaitable<beast::error_code> relay::read_some() {
  beast::error_code ec;
  if (ctx_.st.client_gone) {
    co_return net::error::operation_aborted;  // the watch cancelled the upstream: stop here
  }
  auto& b = lease_->buffer;
  const std::size_t size = beast::read_size(b, 65536);
  if (size == 0) {
    co_return http::error::buffer_overflow;  // an incomplete chunk header fills 64 KiB
  }
  socket_deadline limit(io_.w.deadlines, lease_->lowest().socket(), io_.w.cfg.timeouts.stream_idle);
  auto [rec, n] = co_await lease_->visit(
      [&](auto& s) { return s.async_read_some(b.prepare(size), use_tuple); });
  b.commit(n);
  ec = limit.check(rec);
  if (ec == net::error::eof) {
    if (!parser_.got_some()) {
      co_return http::error::end_of_stream;
    }
    ec = {};
    parser_.put_eof(ec);  // done, or partial_message when the framing said more was coming
    co_return ec;
  }
  if (ec) {
    co_return ec;
  }
  parse_buffered(ec);
  co_return ec;
}

// Parses what the read buffer already holds, without I/O: a burst that came in one read sits
// there while the socket itself is quiet, so waiting for readiness would wait for nothing. The
// body bytes go to the thread's scratch block and on to the meter in this one synchronous step,
// so relays on one worker never see each other's bytes there.
// True when that produced body bytes, ended the message or failed (`ec`); false when the
// buffered bytes are not enough for a step (an incomplete chunk header), so the socket decides.
bool relay::parse_buffered(beast::error_code& ec) {
  if (lease_->buffer.size() == 0 || parser_.is_done()) {
    return false;
  }
  parser_.get().body().data = body_scratch();
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

// Hands the body bytes the parser just produced in the scratch block to the meter (decoding
// them first when the upstream compressed them) and notes token timing. An error when they
// cannot be trusted.
beast::error_code relay::take_body() {
  std::size_t got = relay_buffer_bytes - parser_.get().body().size;
  last_read_full_ = got == relay_buffer_bytes;
  if (got > 0) {
    const auto events_before = meter_.events();
    const bool content_before = meter_.saw_content();
    std::string_view bytes(body_scratch(), got);
    if (decoder_) {
      decoded_.clear();
      if (auto d = decoder_->feed(bytes, decoded_); !d) {
        spdlog::warn("request {}: {}", ctx_.rec.request_id, d.error().message);
        return http::error::bad_chunk;  // undecodable: the body cannot be trusted
      }
      bytes = decoded_;
    }
    if (auto fed = meter_.feed(bytes, io_.w.json); !fed) {
      return http::error::bad_chunk;  // an over-long event: the framing cannot be trusted
    }
    if (meter_.saw_content()) {
      // Time to first token, then the gaps between events (a read's events share its gap).
      const auto now = steady_clock::now();
      const auto fresh = meter_.events() - events_before;
      if (!content_before) {
        ctx_.timing.first_token = now;
      } else if (fresh > 0 && io_.inter_token) {
        const double gap = std::chrono::duration<double>(now - ctx_.timing.last_token).count() /
                           static_cast<double>(fresh);
        for (std::uint64_t i = 0; i < fresh; ++i) {
          io_.inter_token->observe(gap);
        }
      }
      ctx_.timing.last_token = now;
      ctx_.timing.token_events += fresh;
    }
  }
  return {};
}

error relay::broken(const beast::error_code& ec) const {
  const auto& cfg = io_.w.cfg;
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
    beast::error_code ec;
    if (!parse_buffered(ec)) {
      ec = co_await read_some();
    }
    body += meter_.ready();
    meter_.ready().clear();
    if (ec) {
      co_return attempt_retry{retryable(broken(ec))};
    }
    if (body.size() > error_body_limit) {
      // Not an I/O error (ec is empty): say what happened instead of "early: Success".
      co_return attempt_retry{retryable(make_error(
          errc::upstream_broken, "upstream " + pool_.config().name + " sent an error answer (" +
                                     std::to_string(parser_.get().result_int()) + ") larger than " +
                                     std::to_string(error_body_limit) + " bytes"))};
    }
  }
  if (parser_.keep_alive()) {
    ctx_.st.upstream = nullptr;
    clear_deadline(lease_->lowest());
    lease_.recycle();
  }
  if (translation_ && maps_anthropic_errors(translation_->kind)) {
    // An OpenAI-shaped client: Anthropic's error in OpenAI's shape and statuses (529 → 503,
    // which the retry table and every SDK retry).
    auto mapped = map_anthropic_error(parser_.get().result_int(), body);
    upstream_header h = parser_.get().base();
    h.result(mapped.status);
    h.reason({});
    h.set(http::field::content_type, "application/json");
    co_return error_answer(h, std::move(mapped.body), decoder_ != nullptr, ctx_.req.version(),
                           io_.w.json);
  }
  co_return error_answer(parser_.get(), std::move(body), decoder_ != nullptr, ctx_.req.version(),
                         io_.w.json);
}

// A translated non-stream answer: read whole (bounded by the meter) and translated before
// anything reaches the client, so that a failure is still retriable and the translated body
// goes out with its own Content-Length.
net::awaitable<std::optional<attempt_retry>> relay::read_whole_translated() {
  while (!parser_.is_done()) {
    beast::error_code ec;
    if (!parse_buffered(ec)) {
      ec = co_await read_some();
    }
    if (ec) {
      co_return attempt_retry{retryable(broken(ec))};
    }
  }
  if (auto t = meter_.finish_translation(); !t) {
    error e = t.error();
    e.message = "upstream " + pool_.config().name + ": " + e.message;
    e.source = error_source::upstream;
    co_return attempt_retry{retryable(std::move(e))};
  }
  body_length_ = meter_.ready().size();
  co_return std::nullopt;
}

// Waits until the upstream has bytes for the next read or `until` passes (false). Waits on the
// socket's readiness (cancelling that is harmless, unlike cancelling a read mid-frame); bytes
// the parser or TLS already buffered count as readable.
net::awaitable<bool> relay::readable_before(steady_clock::time_point until) {
  if (last_read_full_ || lease_->tls_pending()) {
    co_return true;
  }
  net::steady_timer timer(io_.client.get_executor(), until);
  auto which = co_await (lease_->lowest().socket().async_wait(tcp::socket::wait_read, use_tuple) ||
                         timer.async_wait(use_tuple));
  co_return which.index() == 0;
}

// Holds a 2xx stream until its first output event (or a budget runs out) so that an upstream
// that fails before producing anything can be retried without the client noticing. The time
// budget runs on a timer: an upstream that sends a role chunk and goes silent is released at
// stream_hold_time, not at stream_idle. Returns the failed attempt when the upstream failed
// during the hold before any output; a failure after output is kept for the relay to report
// (that response is the client's: it is never replayed upstream).
net::awaitable<std::optional<attempt_retry>> relay::hold_stream() {
  const auto& r = ctx_.model->retry;
  const auto hold_until = steady_clock::now() + r.stream_hold_time;
  while (!parser_.is_done() && !meter_.hold_released() &&
         meter_.ready().size() + meter_.held_bytes() < r.stream_hold_bytes) {
    beast::error_code ec;
    if (!parse_buffered(ec)) {
      if (!co_await readable_before(hold_until)) {
        co_return std::nullopt;  // time's up: release what we have and go on relaying
      }
      ec = co_await read_some();
    }
    if (ec) {
      if (meter_.saw_content()) {
        deferred_ = ec;
        co_return std::nullopt;
      }
      co_return attempt_retry{retryable(broken(ec))};
    }
    if (translation_ && !meter_.saw_content()) {
      // The upstream failed in-band before any output (Anthropic's overloaded error event):
      // retried like an error answer when its kind may pass on another try.
      if (auto f = meter_.translation_failure(); f && f->retry != retry_mode::no) {
        co_return attempt_retry{std::move(*f)};
      }
    }
  }
  co_return std::nullopt;
}

// The client response's header block, rendered once into the connection's buffer with the
// bytes Beast's serializer wrote for the same message: the upstream's end-to-end fields, the
// gateway's (each `set` replacing a field of that name), then framing, SSE and connection
// fields. One contiguous buffer instead of Beast's four buffers per field.
void relay::render_head(bool keep) {
  const auto& up = parser_.get();
  exchange_buffers& b = *ctx_.buffers;
  header_list& h = b.fields;
  h.clear();
  build_client_fields(up.base(), h);
  if (decoder_) {
    h.erase("Content-Encoding");  // relayed decoded
  }
  add_attempt_headers(ctx_, h);
  if (!chunked_ && body_length_) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, *body_length_).ptr;
    h.set_copy("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
  } else if (!chunked_ && parser_.content_length() && !decoder_ && !sse_) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, *parser_.content_length()).ptr;
    h.set_copy("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
  } else if (chunked_) {
    h.set("Transfer-Encoding", "chunked");
  }
  if (sse_) {
    h.set("Cache-Control", "no-cache");
    h.set("x-accel-buffering", "no");
  }
  const unsigned version = ctx_.req.version();
  if (version >= 11 && !keep) {
    h.set("Connection", "close");
  } else if (version < 11 && keep) {
    h.set("Connection", "keep-alive");
  }
  b.client_head.clear();
  render_response_head(version, up.result_int(), up.reason(), h, b.client_head);
}

// Writes the header block (the first time) and `data`, framed: a chunk (and the last chunk
// when `last`) when chunked, as is otherwise — header and body in one write.
net::awaitable<bool> relay::write_part(std::string_view data, bool last) {
  if (auto* capture = ctx_.rec.response_capture; capture && capture->size() < (1u << 20)) {
    capture->append(data.substr(0, (1u << 20) - capture->size()));
  }
  std::array<net::const_buffer, 5> parts;
  std::size_t k = 0;
  if (!head_sent_) {
    parts[k++] = net::buffer(ctx_.buffers->client_head);
  }
  char size_line[24];
  if (chunked_) {
    if (!data.empty()) {
      // Beast's chunk framing: lowercase hex size, CRLF, data, CRLF.
      auto end = std::to_chars(size_line, size_line + sizeof size_line - 2, data.size(), 16).ptr;
      *end++ = '\r';
      *end++ = '\n';
      parts[k++] = net::buffer(size_line, static_cast<std::size_t>(end - size_line));
      parts[k++] = net::buffer(data);
      parts[k++] = net::buffer("\r\n", 2);
    }
    if (last) {
      parts[k++] = net::buffer("0\r\n\r\n", 5);
    }
  } else if (!data.empty()) {
    parts[k++] = net::buffer(data);
  }
  head_sent_ = true;
  if (k > 0) {
    socket_deadline limit(io_.w.deadlines, io_.client.socket(), io_.w.cfg.timeouts.stream_idle);
    const auto ec = limit.check(co_await write_all(
        io_.client.socket(), std::span<const net::const_buffer>(parts.data(), k)));
    if (ec) {
      co_return false;
    }
  }
  ctx_.rec.bytes_out += data.size();
  co_return true;
}

net::awaitable<attempt_outcome> relay::run() {
  const auto& up = parser_.get();
  if (auto d = init_decoder(); !d) {
    // Not retried (the same upstream would answer the same way), and the gateway's limitation
    // rather than the upstream's health: the source says so to the breaker.
    error e = d.error();
    e.source = error_source::internal;
    co_return attempt_retry{std::move(e)};
  }
  if (up.result_int() >= 400) {
    co_return co_await read_error_answer();
  }
  if (sse_ && ctx_.model->retry.stream_hold_bytes > 0) {
    if (auto failed = co_await hold_stream()) {
      co_return std::move(*failed);
    }
  }

  if (!sse_ && translation_) {
    if (auto failed = co_await read_whole_translated()) {
      co_return std::move(*failed);
    }
  }

  // A plain body usually arrives with its header: read it first so that header and body leave
  // in one write. Nothing has reached the client yet, so a failure here is still retriable.
  if (!sse_ && meter_.ready().empty() && !parser_.is_done()) {
    beast::error_code ec;
    if (!parse_buffered(ec)) {
      ec = co_await read_some();  // not here yet: wait for it
    }
    if (ec) {
      co_return attempt_retry{retryable(broken(ec))};
    }
  }

  // Committed: from here on the client sees this response, whatever happens.
  attempt_committed out;
  const bool has_length = body_length_.has_value() ||
                          (parser_.content_length().has_value() && !decoder_ && !translation_);
  bool keep = ctx_.keep_alive();
  if (has_length && !sse_) {
    // Content-Length as the upstream sent it.
  } else if (ctx_.req.version() >= 11) {
    chunked_ = true;
  } else {
    keep = false;  // HTTP/1.0 without a length: the end of the body is the end of the connection
  }
  render_head(keep);
  ctx_.rec.status = up.result_int();
  ctx_.rec.stream = sse_;
  std::optional<scoped_count<metrics::gauge, double>> streaming;  // active SSE streams
  if (sse_) {
    streaming.emplace(io_.w.shared.metrics->active_streams.with());
  }

  std::optional<error> failure;
  bool stream_ended = false;
  for (bool first = true;;) {
    const bool done = parser_.is_done();
    if (done && meter_.held_bytes() > 0) {
      meter_.release_held();  // upstream ended cleanly with an unterminated last event
    }
    if (done && sse_ && translation_ && !stream_ended) {
      // The translated stream's proper end; a cut or the upstream's in-band error is the
      // client's error event (already in ready()).
      stream_ended = true;
      if (auto e = meter_.end_translated_stream()) {
        note_error(ctx_.rec, *e);
      }
    }
    // The header goes at once (an SSE client must see it before the first token); after that,
    // whatever is ready, and the end of the body with the last bytes.
    if (first || done || !meter_.ready().empty()) {
      if (!co_await write_part(meter_.ready(), done)) {
        co_return out;
      }
      meter_.ready().clear();
      if (first) {
        first = false;
        ctx_.st.response_started = true;
        // A long stream must not keep a half-open probe open: a success as of now.
        io_.retries.record(true, steady_clock::now());
      }
    }
    if (done) {
      break;
    }
    beast::error_code ec = std::exchange(deferred_, {});
    if (!ec && !parse_buffered(ec)) {
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
  meter_.finish(io_.w.json);
  out.usage = meter_.usage();

  if (failure) {
    note_error(ctx_.rec, *failure);
    spdlog::warn("request {}: {}", ctx_.rec.request_id, failure->message);
    if (!sse_ || !chunked_) {
      co_return out;  // no in-band way to say it: a short body and a closed connection
    }
    // Never a silent clean end: the SDKs raise this as an APIError. Whole events only were
    // relayed, so the error event starts cleanly; the last chunk goes with it. In the client's
    // dialect: chat's error event, Responses' `error` + `response.failed`.
    if (!translation_ && meter_.dialect() != api_kind::responses) {
      meter_.ready().clear();  // as ever on the chat path: the error event alone
    }
    // (A translated or Responses stream keeps the whole events of the last read: the failure
    // events are numbered after them.)
    meter_.fail_stream(*failure);
    if (!co_await write_part(meter_.ready(), true)) {
      co_return out;
    }
  }
  ctx_.st.upstream = nullptr;
  if (!failure && parser_.keep_alive()) {
    clear_deadline(lease_->lowest());
    lease_.recycle();
  }
  out.keep_client = keep;
  co_return out;
}

}  // namespace

net::awaitable<attempt_outcome> relay_response(attempt_io& io, upstream_pool& pool,
                                               upstream_lease& lease, upstream_parser& parser,
                                               const upstream_request& req) {
  relay r(io, pool, lease, parser, req);
  co_return co_await r.run();
}

}  // namespace switchyard
