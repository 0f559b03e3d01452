#pragma once

// The real `switchyard --config <file>` as a child process (posix_spawn), its stderr on a pipe:
// the port is read from the "listening on HOST:PORT" line main() prints, then a thread drains
// the rest (so that the child never blocks on a full pipe) until the child closes it by exiting.
// For what only a separate process shows: a real SIGTERM's drain, or a SIGKILL mid-work.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace switchyard::test {

class gateway_process {
 public:
  /// Starts `binary --config config_path`; throws std::runtime_error when it cannot.
  gateway_process(const std::string& binary, const std::string& config_path);
  /// SIGKILL and reap, if still running.
  ~gateway_process();
  gateway_process(const gateway_process&) = delete;
  gateway_process& operator=(const gateway_process&) = delete;

  /// The port from the child's "listening on" line; 0 when it did not come within `timeout`
  /// (or the child exited first). Then drains the rest of stderr on a thread.
  std::uint16_t wait_for_port(std::chrono::milliseconds timeout);

  /// Sends `sig` and waits (bounded: `timeout`, then SIGKILL) for the exit; returns the wait
  /// status, or -1 when it had to be killed.
  int signal_and_wait(int sig, std::chrono::milliseconds timeout);

  /// The child's pid (its /proc entry: RSS, open descriptors), -1 once reaped.
  pid_t pid() const noexcept { return pid_; }

  /// stderr up to the "listening on" line, for failure messages.
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  std::string output_;
  std::thread drain_;
};

}  // namespace switchyard::test
