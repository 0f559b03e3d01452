#include "child_exit.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>

namespace switchyard::test {

namespace {

// glibc 2.36 has pidfd_open(), older ones do not: the system call itself works on both.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// poll(2) on up to two fds until one is readable or the deadline passes; restarts on EINTR with
// the time that is left. The fds' revents say which (all 0 on timeout).
void poll_until(pollfd* fds, nfds_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int r = ::poll(fds, n, static_cast<int>(std::max<long long>(0, left.count())));
    if (r >= 0 || errno != EINTR) {
      return;
    }
  }
}

}  // namespace

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  const int fd = open_pidfd(pid);
  if (fd < 0) {
    // Already reaped by someone else, or not ours: nothing to wait for.
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return status;
    }
    throw std::runtime_error("wait_exit: pidfd_open(" + std::to_string(pid) + ") failed, errno " +
                             std::to_string(errno));
  }
  pollfd p{fd, POLLIN, 0};
  poll_until(&p, 1, timeout);
  ::close(fd);
  if (::waitpid(pid, &status, WNOHANG) == pid) {
    return status;
  }
  return std::nullopt;
}

bool wait_readable(int fd, std::chrono::milliseconds timeout, pid_t child, bool* exited) {
  pollfd p[2] = {{fd, POLLIN, 0}, {-1, POLLIN, 0}};
  nfds_t n = 1;
  if (child > 0) {
    p[1].fd = open_pidfd(child);
    n = p[1].fd >= 0 ? 2 : 1;
  }
  poll_until(p, n, timeout);
  if (n == 2) {
    ::close(p[1].fd);
    if (exited) {
      *exited = (p[1].revents & POLLIN) != 0;
    }
  }
  return (p[0].revents & POLLIN) != 0;
}

}  // namespace switchyard::test
