#pragma once

#include "switchyard/core/deadlines.hpp"
#include "switchyard/core/net.hpp"

namespace switchyard {

/// The proxy's attempt and relay code bounds each upstream or client socket operation with a
/// scoped coarse deadline (core/deadlines.hpp: one sweep timer per worker, no timer syscall
/// per operation). Construct it right before the operation and pass the operation's error
/// through `check`, which reports a fired deadline as `beast::error::timeout`.
using socket_deadline = deadline;

/// No Beast timer on a pooled connection waiting for its next request (a no-op unless some code
/// armed tcp_stream's own timer; kept so that a recycled stream never carries one).
inline void clear_deadline(beast::tcp_stream& stream) {
  stream.expires_never();
}

}  // namespace switchyard
