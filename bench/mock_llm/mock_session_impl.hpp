#pragma once

// The connection handler, shared by mock_session.cpp (requests, routing, plain answers) and
// mock_stream.cpp (delays and SSE). Both explicitly instantiate it for plain TCP and TLS.

#include "mock_protocol.hpp"
#include "mock_session.hpp"

#include <charconv>
#include <optional>
#include <type_traits>

namespace switchyard::mock::detail {

using request = http::request<http::string_body>;
using std::chrono::milliseconds;

inline constexpr auto idle_timeout = std::chrono::seconds(30);   // keep-alive, between requests
inline constexpr auto write_timeout = std::chrono::seconds(30);  // one write to a stuck peer
inline constexpr auto handshake_timeout = std::chrono::seconds(10);
inline constexpr auto tls_shutdown_timeout = std::chrono::seconds(2);
inline constexpr std::uint64_t body_limit = std::uint64_t{64} << 20;
inline constexpr std::uint32_t header_limit = 64u << 10;
/// Read-ahead only: the parser moves the body into the request, so this does not cap bodies.
inline constexpr std::size_t buffer_limit = std::size_t{1} << 20;
inline constexpr std::uint64_t max_tokens_header = 1'000'000;
inline constexpr std::uint64_t max_delay_ms = 3'600'000;
inline constexpr std::uint64_t max_answer_tokens = 1'000'000;  ///< tokens x n of one answer

/// How a connection goes on after an answer.
enum class ending {
  keep_alive,  ///< read the next request
  close,       ///< orderly: TLS close_notify, then FIN
  drop,        ///< close without close_notify: a cut stream, a peer that is gone, a stall
  reset,       ///< TCP RST (SO_LINGER 0)
};

/// How the writer of a stream stopped.
enum class stream_end { completed, write_failed, cut };

/// Token count and delays of one answer: options, overridden by x-mock-* headers.
struct timing {
  std::uint64_t tokens = 0;
  milliseconds ttft{0};
  milliseconds inter_token{0};
};

/// One connection. `Stream` is beast::tcp_stream or ssl::stream<beast::tcp_stream>; the object
/// lives in its coroutine's frame, so its address is stable for the worker's list.
template <class Stream>
class session {
 public:
  template <class... Args>
  explicit session(shared_state& shared, worker& w, Args&&... args)
      : shared_(shared),
        worker_(w),
        stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()) {}

  /// Handshake (TLS), then requests until the connection ends.
  net::awaitable<void> run();

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // mock_session.cpp
  net::awaitable<ending> serve_one();
  net::awaitable<ending> respond(request& req, std::uint64_t id);
  net::awaitable<ending> generate(request& req, std::uint64_t id, generation_plan::api api,
                                  const fault& f);
  net::awaitable<ending> embeddings(request& req, std::uint64_t id);
  net::awaitable<ending> send(const request& req, std::uint64_t id, unsigned status,
                              std::string body, const fault* f = nullptr);
  net::awaitable<ending> send(const request& req, std::uint64_t id, const api_error& e,
                              const fault* f = nullptr) {
    return send(req, id, e.status, e.body, f);
  }
  net::awaitable<void> finish(ending e);
  void record(const request& req);

  // mock_stream.cpp
  net::awaitable<ending> stream(const request& req, std::uint64_t id, const generation_plan& plan,
                                const fault& f, const timing& t);
  net::awaitable<stream_end> write_events(const generation_plan& plan, const fault& f,
                                          const timing& t);
  net::awaitable<bool> write_chunk(std::string_view data, bool last = false);
  /// Reads until the peer is gone (or floods us); concurrent with a writer or a delay.
  net::awaitable<void> watch_peer();
  /// False when the wait was cancelled.
  net::awaitable<bool> sleep(milliseconds d);
  /// Sleeps unless the peer goes away first; false in that case.
  net::awaitable<bool> sleep_watching(milliseconds d);

  /// x-request-id, and the caller's own id echoed back so tests see what reached us.
  template <class Body>
  void set_ids(http::response<Body>& res, const request& req, std::uint64_t id) {
    char buf[32] = "mock-";
    const auto [end, ec] = std::to_chars(buf + 5, buf + sizeof buf, id);
    res.set("x-request-id", std::string_view(buf, static_cast<std::size_t>(end - buf)));
    if (const auto it = req.find("x-request-id"); it != req.end()) {
      res.set("x-upstream-saw-request-id", it->value());
    }
  }

  shared_state& shared_;
  worker& worker_;
  Stream stream_;
  net::steady_timer timer_;  ///< delays; only ever used by one coroutine at a time
  beast::flat_buffer buffer_{buffer_limit};
  std::optional<http::request_parser<http::string_body>> parser_;
  bool force_close_ = false;  ///< the request could not be read whole: answer, then close
};

}  // namespace switchyard::mock::detail
