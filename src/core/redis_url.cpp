#include "switchyard/core/redis_url.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

namespace switchyard {

std::string redis_endpoint::describe() const {
  return host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

result<redis_endpoint> parse_redis_url(std::string_view url) {
  auto fail = [](const std::string& why) {
    return make_error(errc::invalid_request, "redis url: " + why, "url");
  };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return fail("not a URL (expected redis://[:password@]host[:port][/db])");
  }
  const auto& u = *parsed;
  if (u.scheme() != "redis") {
    return fail(u.scheme() == "rediss" ? "rediss:// (TLS) is not supported by this build"
                                       : "the scheme must be redis://");
  }
  if (!u.has_authority() || u.host().empty()) {
    return fail("a host is required");
  }
  if (u.has_query() || u.has_fragment()) {
    return fail("no query or fragment is allowed");
  }
  redis_endpoint ep;
  ep.host = u.host();
  if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') {
    ep.host = ep.host.substr(1, ep.host.size() - 2);
  }
  if (u.has_port()) {
    const std::string_view p = u.port();
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || port == 0 || port > 65535) {
      return fail("the port must be a number in [1, 65535]");
    }
    ep.port = static_cast<std::uint16_t>(port);
  }
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) {
      ep.password = u.password();
    } else if (!ep.user.empty()) {
      // redis://secret@host: the one part is the password (the default user), as redis-cli reads
      // it.
      ep.password = std::move(ep.user);
      ep.user.clear();
    }
  }
  std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    path.remove_prefix(1);
    int db = -1;
    auto [ptr, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc{} || ptr != path.data() + path.size() || db < 0) {
      return fail("the path must be a database number, like /0");
    }
    ep.db = db;
  }
  return ep;
}

}  // namespace switchyard
