#include "redis_server.hpp"

#include "harness.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace switchyard::test {

namespace {

// True when 127.0.0.1:port answers PING with +PONG within the socket's 200 ms deadline.
bool pings(std::uint16_t port) {
  net::io_context io;
  tcp::socket s(io);
  beast::error_code ec;
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    return false;
  }
  timeval tv{0, 200'000};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  net::write(s, net::buffer(std::string_view("PING\r\n")), ec);
  char buf[16];
  const std::size_t n = s.read_some(net::buffer(buf), ec);
  return !ec && std::string_view(buf, n) == "+PONG\r\n";
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
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("redis_server: fork failed");
  }
  if (pid == 0) {
    if (::chdir(dir_.c_str()) != 0) {
      ::_exit(126);
    }
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always",
             "--dir", dir_.c_str(), "--loglevel", "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  // Bounded: 500 tries × (a refused connect or a 200 ms read) — a few seconds at most.
  for (int i = 0; i < 500; ++i) {
    if (pings(port_)) {
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(
          "redis_server: redis-server exited (is it installed? "
          "scripts/install-deps.sh test)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop();
  throw std::runtime_error("redis_server: no PONG from redis-server on port " + port);
}

void redis_server::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 300; ++i) {  // up to 3 s, then SIGKILL
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace switchyard::test
