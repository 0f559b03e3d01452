#pragma once

// A deterministic OpenAI-compatible LLM server for tests, benchmarks and the offline demo.
//
// It answers /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models the way the
// OpenAI API does (plain JSON or SSE), with latency and faults chosen per server (options) or per
// request (headers), so that a test can make the upstream of the gateway misbehave on purpose.
//
// Per-request headers (the gateway forwards them):
//   x-mock-tokens: N           completion tokens per choice (before max_tokens caps it)
//   x-mock-ttft-ms: N          delay before the first content token
//   x-mock-inter-token-ms: N   delay between two content tokens
//   x-mock-fault: F            one of
//     status=CODE[;retry_after=S][;retry_after_ms=N]  that status, OpenAI-shaped error body
//     reset                    read the request, then close with a TCP RST, nothing written
//     stall                    read the request, never answer (until the peer or stop() closes)
//     cut_after=N              stream: headers, role chunk and N token steps, then close the
//                              connection without the last chunk or [DONE] (ignored unless
//                              streaming)
//     stall_after=N            stream: N token steps, then stall as above (ignored unless
//                              streaming)
//
// Timing: a stream sends its headers and the role chunk at once, waits ttft, then sends one
// event per token with inter_token between them. A non-stream answer is sent after
// ttft + inter_token * (tokens - 1), like a model that has to generate every token first.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::mock {

/// How a server listens and how fast it "generates". Zero delays answer as fast as possible.
struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0 = pick a free port; read it back with server::port()
  int threads = 1;         ///< io threads, each with its own io_context
  int tokens = 16;         ///< completion tokens per choice unless x-mock-tokens says otherwise
  std::chrono::milliseconds ttft{0};         ///< delay before the first content token
  std::chrono::milliseconds inter_token{0};  ///< delay between content tokens
  std::string tls_cert_file, tls_key_file;   ///< both set = serve HTTPS (PEM files)
};

/// The last request the server read, so that a test can assert what the gateway sent.
struct recorded_request {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased, in order

  /// Value of the first header called `name` (any case), or "" if absent.
  std::string header(std::string_view name) const;
};

/// Counters updated with relaxed atomics; read them while the server runs.
struct stats {
  std::atomic<std::uint64_t> requests{0};  ///< requests read (malformed ones answered 4xx too)
  std::atomic<std::uint64_t> connections_accepted{0};  ///< TCP connections accepted
  std::atomic<std::uint64_t> streams_started{0};       ///< SSE headers written
  std::atomic<std::uint64_t> streams_completed{0};     ///< `data: [DONE]` written
  /// Streams whose peer went away (or whose write failed, or that stop() ended) before
  /// `data: [DONE]`; a stream cut on purpose by `cut_after` is not counted here.
  std::atomic<std::uint64_t> streams_aborted{0};
  /// `stall` faults that ended because the peer closed the connection (or stop()).
  std::atomic<std::uint64_t> stalls_ended{0};
};

/// The mock server. Runs on its own threads; every member may be called from any one thread.
class server {
 public:
  /// Stores the options; nothing is bound until start().
  explicit server(options opts);
  /// Stops (if running) and joins the io threads.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the io threads; port() is valid when it returns. Throws on bind or TLS
  /// setup errors. Call once.
  void start();
  /// Closes the listener and every open connection, then joins the threads. Idempotent.
  void stop();

  /// The bound port (the real one when options::port was 0); 0 before start().
  std::uint16_t port() const;
  /// Live counters.
  const stats& counters() const;
  /// A copy of the last request read (any path, including faulted ones).
  recorded_request last_request() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace switchyard::mock
