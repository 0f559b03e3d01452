#pragma once

// A real redis-server (Debian's) for tests: started on a free port in a temporary directory,
// no persistence, ready when it says so (sd_notify READY=1, bounded wait); stopped (SIGTERM, then
// SIGKILL) on destruction. `stop()` and `start()` again on the same port simulate an outage.

#include <cstdint>
#include <string>

namespace switchyard::test {

class redis_server {
 public:
  /// Starts one; throws std::runtime_error when redis-server is missing or never answers.
  /// `persistent`: an append-only file fsynced on every write, so that a stop and start keep
  /// the data (an outage, not a data loss).
  explicit redis_server(bool persistent = false);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }
  /// Stops the server (its data is lost: no persistence) and waits until it exited.
  void stop();
  /// Starts it again on the same port and waits until it is ready.
  void start();
  bool running() const noexcept { return pid_ > 0; }

 private:
  std::string dir_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
  bool persistent_ = false;
};

}  // namespace switchyard::test
