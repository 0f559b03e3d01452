// Connection handler of the mock LLM, timing side: delays and SSE streams.
//
// While an answer is delayed or streamed, a second coroutine reads the socket (watch_peer) and
// the two are joined with `||`: a peer that goes away ends the answer at once, even in the
// middle of a long wait, and stop() only has to close the sockets to end every connection.

#include "mock_session_impl.hpp"

#include <algorithm>
#include <array>

namespace switchyard::mock::detail {

using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;

template <class Stream>
net::awaitable<ending> session<Stream>::stream(const request& req, std::uint64_t id,
                                               const generation_plan& plan, const fault& f,
                                               const timing& t) {
  http::response<http::empty_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  set_ids(res, req, id);
  res.keep_alive(req.keep_alive());
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  lowest().expires_after(write_timeout);
  auto [ec, bytes] = co_await http::async_write_header(stream_, serializer, use_tuple);
  if (ec) {
    co_return ending::drop;
  }
  shared_.counters.streams_started.fetch_add(1, std::memory_order_relaxed);
  auto outcome = co_await (write_events(plan, f, t) || watch_peer());
  if (outcome.index() == 1 || std::get<0>(outcome) == stream_end::write_failed) {
    shared_.counters.streams_aborted.fetch_add(1, std::memory_order_relaxed);
    co_return ending::drop;
  }
  if (std::get<0>(outcome) == stream_end::cut) {
    co_return ending::drop;
  }
  co_return res.keep_alive() ? ending::keep_alive : ending::close;
}

template <class Stream>
net::awaitable<stream_end> session<Stream>::write_events(const generation_plan& plan,
                                                         const fault& f, const timing& t) {
  stream_renderer events(plan);
  // cut_after / stall_after: after `f.after` token steps (or at the end, whichever comes
  // first) the stream stops; either way the usage chunk and [DONE] are withheld.
  const bool interrupted = f.what == fault::kind::cut_after || f.what == fault::kind::stall_after;
  const std::uint64_t steps = interrupted ? std::min(plan.tokens, f.after) : plan.tokens;
  if (plan.kind == generation_plan::api::chat) {
    for (std::uint64_t c = 0; c < plan.n; ++c) {
      if (!co_await write_chunk(events.role(c))) {
        co_return stream_end::write_failed;
      }
    }
  }
  if (t.ttft > 0ms && !co_await sleep(t.ttft)) {
    co_return stream_end::write_failed;
  }
  for (std::uint64_t i = 0; i < steps; ++i) {
    if (i > 0 && t.inter_token > 0ms && !co_await sleep(t.inter_token)) {
      co_return stream_end::write_failed;
    }
    for (std::uint64_t c = 0; c < plan.n; ++c) {
      if (!co_await write_chunk(events.token(i, c))) {
        co_return stream_end::write_failed;
      }
    }
  }
  for (std::uint64_t c = 0; plan.tokens == 0 && c < plan.n; ++c) {
    if (!co_await write_chunk(events.finish(c))) {
      co_return stream_end::write_failed;
    }
  }
  if (f.what == fault::kind::cut_after) {
    co_return stream_end::cut;
  }
  if (f.what == fault::kind::stall_after) {
    timer_.expires_at(steady_clock::time_point::max());
    co_await timer_.async_wait(use_tuple);  // ends only when watch_peer does (peer or stop())
    co_return stream_end::write_failed;
  }
  if (plan.include_usage && !co_await write_chunk(events.usage())) {
    co_return stream_end::write_failed;
  }
  if (!co_await write_chunk(stream_renderer::done(), true)) {
    co_return stream_end::write_failed;
  }
  shared_.counters.streams_completed.fetch_add(1, std::memory_order_relaxed);
  co_return stream_end::completed;
}

template <class Stream>
net::awaitable<bool> session<Stream>::write_chunk(std::string_view data, bool last) {
  // One chunk (and the last-chunk after [DONE]) per write, so each event is flushed alone.
  char size_line[24];
  auto [end, ec] = std::to_chars(size_line, size_line + 16, data.size(), 16);
  *end++ = '\r';
  *end++ = '\n';
  const std::string_view trailer = last ? "\r\n0\r\n\r\n" : "\r\n";
  const std::array<net::const_buffer, 3> buffers{
      net::buffer(size_line, static_cast<std::size_t>(end - size_line)), net::buffer(data),
      net::buffer(trailer)};
  lowest().expires_after(write_timeout);  // the read side is watch_peer's, so only writes get it
  auto [write_ec, bytes] = co_await net::async_write(stream_, buffers, use_tuple);
  co_return !write_ec;
}

template <class Stream>
net::awaitable<void> session<Stream>::watch_peer() {
  // Anything the peer sends meanwhile (a pipelined request) is kept for the next parse. Small
  // reads: peers rarely send anything here, and 10k idle watchers should not hold 4 KiB each.
  for (;;) {
    const std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) {
      co_return;  // a peer that floods us while we answer: treat it as gone
    }
    lowest().expires_never();  // only the read side: the writer's pending write keeps its deadline
    auto [ec, bytes] = co_await stream_.async_read_some(
        buffer_.prepare(std::min<std::size_t>(room, 512)), use_tuple);
    if (ec) {
      co_return;
    }
    buffer_.commit(bytes);
  }
}

template <class Stream>
net::awaitable<bool> session<Stream>::sleep(milliseconds d) {
  timer_.expires_after(d);
  auto [ec] = co_await timer_.async_wait(use_tuple);
  co_return !ec;
}

template <class Stream>
net::awaitable<bool> session<Stream>::sleep_watching(milliseconds d) {
  auto outcome = co_await (sleep(d) || watch_peer());
  co_return outcome.index() == 0 && std::get<0>(outcome);
}

template class session<beast::tcp_stream>;
template class session<ssl::stream<beast::tcp_stream>>;

}  // namespace switchyard::mock::detail
