#pragma once

#include "switchyard/core/net.hpp"
#include "switchyard/runtime/worker.hpp"

namespace switchyard {

/// Serves one client connection: HTTP/1.1 keep-alive framing with limits and deadlines,
/// smuggling checks, routing to the admin endpoints or the proxy lifecycle, one access-log line
/// per request. Ends on close, error, idle timeout or drain.
net::awaitable<void> run_session(worker& w, tcp::socket socket);

}  // namespace switchyard
