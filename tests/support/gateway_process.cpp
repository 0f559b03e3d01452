#include "gateway_process.hpp"

#include "child_exit.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace switchyard::test {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

gateway_process::gateway_process(const std::string& binary, const std::string& config_path) {
  int fds[2];
  if (::pipe(fds) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::string bin = binary, flag = "--config", path = config_path;
  char* argv[] = {bin.data(), flag.data(), path.data(), nullptr};
  const int rc = ::posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("posix_spawn " + bin + " failed: " + std::strerror(rc));
  }
  err_ = fds[0];
}

gateway_process::~gateway_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (drain_.joinable()) {
    drain_.join();
  }
  if (err_ >= 0) {
    ::close(err_);
  }
}

std::uint16_t gateway_process::wait_for_port(std::chrono::milliseconds timeout) {
  static const std::regex listening(R"(listening on [^\s:]+:(\d+) with \d+ workers)");
  const auto deadline = steady_clock::now() + timeout;
  std::string line;
  while (steady_clock::now() < deadline) {
    pollfd p{err_, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) {
      continue;
    }
    char ch = 0;
    if (::read(err_, &ch, 1) != 1) {
      return 0;  // EOF: the child exited
    }
    if (ch != '\n') {
      output_ += ch;
      line += ch;
      continue;
    }
    output_ += ch;
    std::smatch m;
    if (std::regex_search(line, m, listening)) {
      drain_ = std::thread([fd = err_] {
        char buf[4096];
        while (::read(fd, buf, sizeof buf) > 0) {
        }
      });
      return static_cast<std::uint16_t>(std::stoi(m[1].str()));
    }
    line.clear();
  }
  return 0;
}

int gateway_process::signal_and_wait(int sig, std::chrono::milliseconds timeout) {
  ::kill(pid_, sig);
  const std::optional<int> status = wait_exit(pid_, timeout);
  if (!status) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, 10s);
  }
  pid_ = -1;
  return status.value_or(-1);
}

}  // namespace switchyard::test
