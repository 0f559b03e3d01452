#pragma once

// Namespace aliases used everywhere; one place so that every module spells them the same way.

// Every TU that uses Asio must see core/asio_recycling.hpp first (the build force-includes it
// through switchyard_deps); mixing TUs with and without it would mix two allocators.
#if !defined(SWITCHYARD_ASIO_RECYCLING)
#error "compile with -include switchyard/core/asio_recycling.hpp (link switchyard_deps)"
#endif
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace switchyard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

/// Completion token for coroutine I/O: errors come back as values, never as exceptions.
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

using steady_clock = std::chrono::steady_clock;

}  // namespace switchyard
