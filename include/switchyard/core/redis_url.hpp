#pragma once

#include "switchyard/core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

/// Where one Redis lives. The password is never logged (`describe` leaves it out). In core so
/// that the config's validation and the Redis client read URLs the same way.
struct redis_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int db = 0;
  std::string password;  // never logged
  std::string user;      // ACL user (Redis 6+), "" = the default user
  /// `host:port/db`, for logs.
  std::string describe() const;
};

/// Parses `redis://[[user]:password@]host[:port][/db]` with Boost.URL. Errors
/// (errc::invalid_request) say what is wrong: another scheme (rediss:// included: no TLS in this
/// build), no host, a port out of [1, 65535], a path that is not a database number, a query or
/// fragment. `redis://secret@host` reads `secret` as the password, as redis-cli does.
result<redis_endpoint> parse_redis_url(std::string_view url);

}  // namespace switchyard
