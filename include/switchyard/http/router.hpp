#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/proxy/request_body.hpp"  // endpoint
#include "switchyard/proxy/responses.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

/// A set of HTTP methods. A set with GET also takes HEAD (RFC 9110 §9.3.2: the GET answer's
/// header without its body), so a table never lists HEAD itself.
class method_set {
 public:
  constexpr method_set() = default;
  constexpr method_set(std::initializer_list<http::verb> verbs) noexcept {
    for (auto v : verbs) {
      bits_ |= bit(v);
    }
    if (bits_ & bit(http::verb::get)) {
      bits_ |= bit(http::verb::head);
    }
  }
  constexpr bool has(http::verb v) const noexcept { return (bits_ & bit(v)) != 0; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr method_set& operator|=(method_set o) noexcept {
    bits_ |= o.bits_;
    return *this;
  }
  /// The value of an `Allow` header for the set: "GET, HEAD, POST" (RFC 9110 §10.2.1).
  std::string allow_header() const;

 private:
  static constexpr std::uint64_t bit(http::verb v) noexcept {
    const auto i = static_cast<unsigned>(v);
    return i < 64 ? std::uint64_t{1} << i : 0;
  }
  std::uint64_t bits_ = 0;
};

/// Where a route is answered: on the worker's own thread (cheap, must never queue: probes), on
/// the admin executor (anything that reads the store, renders or reloads), or by the proxy
/// lifecycle (the OpenAI endpoints).
enum class route_site : std::uint8_t { worker, admin_executor, proxy };

/// Who may call a route: anyone; the read API (`api_token` once set, or the admin token); the
/// admin token only.
enum class route_access : std::uint8_t { anyone, reader, admin };

struct local_call;  // what a handler gets (http/api.hpp)

/// A local route's handler: the response, or the error the one local exit turns into one.
using route_handler = result<string_response> (*)(const local_call&);

/// One entry of a routing table. `pattern` is a path whose segments are literals or `{name}`
/// parameters, e.g. "/api/v1/experiments/{name}/timeline"; it must outlive the router (the
/// tables use string literals).
struct route {
  method_set methods;
  std::string_view pattern;
  route_handler handler = nullptr;  // unused when site == proxy
  route_site site = route_site::admin_executor;
  route_access access = route_access::anyone;
  endpoint proxied = endpoint::chat_completions;  // site == proxy only
};

/// What the table says about one request target.
struct route_match {
  enum class kind : std::uint8_t {
    found,               // `entry` answers it
    not_found,           // no route has this path
    method_not_allowed,  // a route has this path, none with this method; `allow` lists them
    bad_target,          // not an origin-form target (RFC 9112 §3.2.1)
  };
  kind outcome = kind::not_found;
  const route* entry = nullptr;
  boost::urls::url_view url;  // the parsed target; views into the request's target
  method_set allow;           // method_not_allowed: the methods this path takes

  /// The decoded value of the path parameter `name` ("" when the route has none by that name).
  std::string param(std::string_view name) const;
  /// The decoded value of the query parameter `key` (Boost.URL `params()`, the first one when
  /// repeated); nullopt when absent.
  std::optional<std::string> query(std::string_view key) const;
  bool proxied() const noexcept {
    return outcome == kind::found && entry->site == route_site::proxy;
  }
  /// The refusal for an outcome other than `found`, in the message style of the gateway's
  /// errors: 404 `unknown_url`, 405 `method_not_allowed`, 400 for a bad target.
  error refusal(std::string_view method, std::string_view target) const;

  // Path parameters as matched: names from the pattern, values still percent-encoded.
  boost::container::small_vector<std::pair<std::string_view, boost::urls::pct_string_view>, 2>
      params;
};

/// A routing table for the endpoints the gateway answers itself, and the proxied ones (so that
/// a wrong method on them is a 405). Matching splits the target's path with Boost.URL and
/// compares decoded segments (`%2F` inside a segment stays inside it); the first entry whose
/// pattern and method match wins. Pure and allocation-free for a found route.
class router {
 public:
  /// Throws std::invalid_argument for a malformed pattern (a bug in a table, found at start).
  explicit router(std::vector<route> routes);

  /// Looks `target` (the request line's, query included) up for `method`.
  route_match match(http::verb method, std::string_view target) const;

  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  struct segment {
    std::string_view text;  // a literal, or the parameter's name
    bool param = false;
  };
  std::vector<route> routes_;
  std::vector<std::vector<segment>> compiled_;  // same index as routes_
};

}  // namespace switchyard
