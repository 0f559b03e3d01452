#include "switchyard/http/router.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/parse.hpp>

#include <stdexcept>

namespace switchyard {

namespace {

// Every verb Beast knows, in the order an `Allow` header lists them (the common ones first).
constexpr http::verb allow_order[] = {
    http::verb::get,         http::verb::head,       http::verb::post,       http::verb::put,
    http::verb::patch,       http::verb::delete_,    http::verb::options,    http::verb::connect,
    http::verb::trace,       http::verb::copy,       http::verb::lock,       http::verb::mkcol,
    http::verb::move,        http::verb::propfind,   http::verb::proppatch,  http::verb::search,
    http::verb::unlock,      http::verb::bind,       http::verb::rebind,     http::verb::unbind,
    http::verb::acl,         http::verb::report,     http::verb::mkactivity, http::verb::checkout,
    http::verb::merge,       http::verb::msearch,    http::verb::notify,     http::verb::subscribe,
    http::verb::unsubscribe, http::verb::mkcalendar, http::verb::link,       http::verb::unlink,
    http::verb::purge,
};

// The table's paths are short; a target with more segments matches nothing.
constexpr std::size_t max_segments = 8;

}  // namespace

std::string method_set::allow_header() const {
  std::string out;
  for (auto v : allow_order) {
    if (has(v)) {
      if (!out.empty()) {
        out += ", ";
      }
      out += http::to_string(v);
    }
  }
  return out;
}

std::string route_match::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) {
      return value.decode();
    }
  }
  return {};
}

std::optional<std::string> route_match::query(std::string_view key) const {
  auto ps = url.params();
  auto it = ps.find(key);
  if (it == ps.end()) {
    return std::nullopt;
  }
  return std::string((*it).value);
}

error route_match::refusal(std::string_view method, std::string_view target) const {
  const std::string path(outcome == kind::bad_target ? target
                                                     : std::string_view(url.encoded_path()));
  switch (outcome) {
    case kind::method_not_allowed:
      return make_error(errc::method_not_allowed,
                        "Method " + std::string(method) + " is not allowed on " + path + ".");
    case kind::bad_target:
      return make_error(errc::invalid_request,
                        "The request target is not a valid path and query (RFC 9112 §3.2.1).");
    case kind::found:
    case kind::not_found:
      break;
  }
  return make_error(errc::not_found,
                    "Unknown request URL: " + std::string(method) + " " + path + ".");
}

router::router(std::vector<route> routes) : routes_(std::move(routes)) {
  compiled_.reserve(routes_.size());
  for (const auto& r : routes_) {
    // Patterns are the tables' own literals ("{name}" is no valid URL), so they are split
    // here rather than parsed as URLs; a literal segment must not need percent-encoding.
    auto bad = [&] {
      return std::invalid_argument("bad route pattern: " + std::string(r.pattern));
    };
    std::string_view rest = r.pattern;
    if (!rest.starts_with('/') || r.methods.empty()) {
      throw bad();
    }
    std::vector<segment> segs;
    while (!rest.empty()) {
      rest.remove_prefix(1);  // the '/'
      const auto end = rest.find('/');
      std::string_view text = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
      const bool param = text.size() > 2 && text.front() == '{' && text.back() == '}';
      if (param) {
        text = text.substr(1, text.size() - 2);
      }
      const bool plain = text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-._") ==
                         std::string_view::npos;
      // An empty literal only as the last segment: "/ui/" (a trailing slash) is its own route.
      const bool trailing_slash = text.empty() && !param && rest.empty() && !segs.empty();
      if ((text.empty() && !trailing_slash) || !plain || segs.size() == max_segments) {
        throw bad();
      }
      segs.push_back({text, param});
    }
    compiled_.push_back(std::move(segs));
  }
}

route_match router::match(http::verb method, std::string_view target) const {
  route_match m;
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) {
    m.outcome = route_match::kind::bad_target;
    return m;
  }
  m.url = *parsed;
  boost::container::small_vector<boost::urls::pct_string_view, max_segments> segs;
  for (auto s : m.url.encoded_segments()) {
    if (segs.size() == max_segments) {
      return m;  // not_found
    }
    segs.push_back(s);
  }
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& pattern = compiled_[i];
    if (pattern.size() != segs.size()) {
      continue;
    }
    m.params.clear();
    bool same = true;
    for (std::size_t k = 0; k < segs.size() && same; ++k) {
      if (pattern[k].param) {
        same = !segs[k].empty();  // a parameter is never empty ("/v1/models/" is no model)
        m.params.emplace_back(pattern[k].text, segs[k]);
      } else {
        same = *segs[k] == pattern[k].text;  // decoded comparison, no allocation
      }
    }
    if (!same) {
      continue;
    }
    if (routes_[i].methods.has(method)) {
      m.outcome = route_match::kind::found;
      m.entry = &routes_[i];
      return m;
    }
    m.allow |= routes_[i].methods;
  }
  m.params.clear();
  m.outcome =
      m.allow.empty() ? route_match::kind::not_found : route_match::kind::method_not_allowed;
  return m;
}

}  // namespace switchyard
