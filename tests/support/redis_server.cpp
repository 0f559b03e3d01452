#include "redis_server.hpp"

#include "child_exit.hpp"
#include "harness.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string_view>

namespace switchyard::test {

namespace {

// redis-server tells a supervisor when it is ready (`--supervised systemd`: "READY=1" on the
// datagram socket named by NOTIFY_SOCKET, its own sd_notify client, no systemd needed). That is
// the readiness event: no polling with PING.
struct notify_socket {
  int fd = -1;
  std::string path;
  explicit notify_socket(const std::string& dir) : path(dir + "/notify.sock") {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || path.size() >= sizeof addr.sun_path) {
      throw std::runtime_error("redis_server: cannot make a notify socket at " + path);
    }
    path.copy(addr.sun_path, path.size());
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      throw std::runtime_error("redis_server: bind " + path + " failed");
    }
  }
  ~notify_socket() {
    ::close(fd);
    ::unlink(path.c_str());
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;
};

// sd_notify(3): a datagram is newline-separated VARIABLE=VALUE assignments.
bool says_ready(std::string_view message) {
  while (!message.empty()) {
    const std::size_t end = std::min(message.find('\n'), message.size());
    if (message.substr(0, end) == "READY=1") {
      return true;
    }
    message.remove_prefix(std::min(end + 1, message.size()));
  }
  return false;
}

}  // namespace

redis_server::redis_server(bool persistent) : persistent_(persistent) {
  char tmpl[] = "/tmp/sy-redis-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    throw std::runtime_error("redis_server: mkdtemp failed");
  }
  dir_ = tmpl;
  port_ = closed_port();
  start();
}

redis_server::~redis_server() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void redis_server::start() {
  if (pid_ > 0) {
    return;
  }
  const std::string port = std::to_string(port_);
  notify_socket notify(dir_);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("redis_server: fork failed");
  }
  if (pid == 0) {
    if (::chdir(dir_.c_str()) != 0 || ::setenv("NOTIFY_SOCKET", notify.path.c_str(), 1) != 0) {
      ::_exit(126);
    }
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always",
             "--dir", dir_.c_str(), "--loglevel", "warning", "--supervised", "systemd",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  // Datagrams until READY=1 (first comes STATUS=...), each within what is left of 10 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 16; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    bool exited = false;
    if (left.count() <= 0 || !wait_readable(notify.fd, left, pid_, &exited)) {
      if (exited) {
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        throw std::runtime_error("redis_server: redis-server exited (is it installed? is port " +
                                 port + " taken? scripts/install-deps.sh test)");
      }
      break;
    }
    char buf[512];
    const ssize_t n = ::recv(notify.fd, buf, sizeof buf, 0);
    if (n > 0 && says_ready(std::string_view(buf, static_cast<std::size_t>(n)))) {
      return;
    }
  }
  stop();
  throw std::runtime_error("redis_server: redis-server on port " + port + " never became ready");
}

void redis_server::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  if (!wait_exit(pid_, std::chrono::seconds(3))) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(10));
  }
  pid_ = -1;
}

}  // namespace switchyard::test
