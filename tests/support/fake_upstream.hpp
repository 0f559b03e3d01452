#pragma once

// A scriptable upstream for wire-fidelity tests: a raw socket writer on 127.0.0.1 port 0 that
// answers each request with exactly the bytes a test scripts (any framing, split anywhere,
// interim responses, bytes after the answer, unknown statuses), unlike the mock, which speaks
// one dialect through Beast.

#include "switchyard/core/net.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace switchyard::test {

/// What the fake writes for one request: `pieces` in order, one send() each; before piece
/// `gate` (if set) it waits until the test calls `release()` (at most 10 s), so a test can
/// check that the client saw the first event before the upstream sent its last.
struct scripted_reply {
  std::vector<std::string> pieces;
  std::size_t gate = static_cast<std::size_t>(-1);
  bool close_after = false;  // close the connection after the last piece
};

/// How a response body is framed on the wire.
enum class framing { content_length, chunked, close_delimited, http10, connection_close };

/// Options for `wire_reply`.
struct wire_options {
  unsigned status = 200;
  std::string reason = "OK";
  std::string content_type = "text/event-stream";
  framing frame = framing::chunked;
  bool gzip = false;
  std::string interim;   // e.g. "HTTP/1.1 100 Continue\r\n\r\n", written before the answer
  std::string trailing;  // bytes after the answer, in the same write as its last bytes
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The bytes of a response carrying `head` then (after the gate) `tail` as its body, framed as
/// `o` says and cut at random points (`rng`) into pieces. Pure apart from `rng`.
scripted_reply wire_reply(std::string_view head, std::string_view tail, const wire_options& o,
                          std::mt19937& rng);

class fake_upstream {
 public:
  /// Called for each request (on the fake's thread) with its 0-based index.
  using script = std::function<scripted_reply(const http::request<http::string_body>&, int)>;

  explicit fake_upstream(script s);
  ~fake_upstream();
  fake_upstream(const fake_upstream&) = delete;
  fake_upstream& operator=(const fake_upstream&) = delete;

  std::uint16_t port() const { return port_; }
  /// Opens the gate of the reply being written (and of later ones, until `rearm`).
  void release();
  /// Closes the gate again for the next reply.
  void rearm();
  int requests() const { return requests_.load(); }
  /// Replies written to the end.
  int replies_done() const { return replies_done_.load(); }
  /// Connections accepted so far.
  int connections() const { return connections_.load(); }
  /// The requests received, in order.
  std::vector<http::request<http::string_body>> received();

 private:
  void serve(tcp::socket s);

  script script_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool released_ = false;
  bool stopping_ = false;
  std::vector<std::thread> conn_threads_;
  std::vector<int> fds_;
  std::vector<http::request<http::string_body>> received_;
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> replies_done_{0};
};

}  // namespace switchyard::test
