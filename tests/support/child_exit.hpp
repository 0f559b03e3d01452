#pragma once

// Waiting for a child process without polling: a pidfd (Linux >= 5.3) becomes readable when the
// child exits, so one poll(2) with the deadline as its timeout is the whole wait.

#include <sys/types.h>

#include <chrono>
#include <optional>

namespace switchyard::test {

/// Waits up to `timeout` for child `pid` to exit and reaps it: its wait status, or nullopt when
/// it is still running at the deadline (not reaped; the caller decides: SIGKILL and wait again).
/// Throws std::runtime_error when `pid` is not a child of this process.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);

/// Blocks until fd is readable or `timeout` passes; false on timeout. For a notification socket
/// watched together with a child: returns early (false, `*exited` set) when the child exits.
bool wait_readable(int fd, std::chrono::milliseconds timeout, pid_t child = -1,
                   bool* exited = nullptr);

}  // namespace switchyard::test
