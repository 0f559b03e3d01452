#pragma once

#include "switchyard/core/clock.hpp"
#include "switchyard/core/net.hpp"

namespace switchyard {

/// The one place the proxy's attempt and relay code bounds a socket's next operations: every
/// wait on an upstream or client socket there is armed through these, so that another deadline
/// mechanism (coarse per-connection deadlines swept by one timer) replaces them in one spot.
inline void arm_deadline(beast::tcp_stream& stream, steady_clock::time_point at) {
  stream.expires_at(at);
}

/// `arm_deadline` at `timeout` from now.
inline void arm_deadline(beast::tcp_stream& stream, std::chrono::milliseconds timeout) {
  arm_deadline(stream, steady_clock::now() + timeout);
}

/// No deadline: a pooled connection waiting for its next request.
inline void clear_deadline(beast::tcp_stream& stream) {
  stream.expires_never();
}

}  // namespace switchyard
