#pragma once

// Internals shared by the listener (mock_llm.cpp) and the connection handler (mock_session.cpp).

#include "mock_llm.hpp"

#include <switchyard/core/net.hpp>

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace switchyard::mock::detail {

/// One io thread with its own io_context, so a connection's operations never race (the
/// concurrent reader and writer of a stream rely on that).
struct worker {
  /// Connections to close on stop(); touched only on this worker's thread.
  std::list<beast::tcp_stream*> open;
  /// Set on this worker's thread by stop(); a connection that starts afterwards quits at once.
  bool stopping = false;
  std::thread thread;
  // Declared after `open` so that, should a connection's frame ever be destroyed with the
  // io_context, its deregistration still finds the list alive.
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
};

/// State every connection reads or updates.
struct shared_state {
  options opts;
  stats counters;
  std::mutex last_mutex;
  recorded_request last;  ///< guarded by last_mutex
  /// How often each x-request-id has met a `times=N` fault; guarded by last_mutex.
  std::unordered_map<std::string, std::uint64_t> fault_hits;
  std::unique_ptr<ssl::context> tls;  ///< null = plain HTTP
};

/// Serves one accepted connection (TLS when shared.tls is set) until it closes. Must run on
/// w.ioc's thread.
net::awaitable<void> serve_connection(shared_state& shared, worker& w, tcp::socket socket);

}  // namespace switchyard::mock::detail
