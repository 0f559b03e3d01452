#include "switchyard/http/ui_files.hpp"

#include "switchyard/config/config.hpp"
#include "switchyard/http/api.hpp"

#include <algorithm>

namespace switchyard {

namespace {

// Only the gateway's own files and API: no inline script or style attribute from markup, no
// plugin, no framing, no form posting elsewhere. uPlot styles its elements through the CSSOM
// (element.style), which `style-src 'self'` allows.
constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

constexpr std::string_view ows = " \t";

std::string_view trim_ows(std::string_view s) noexcept {
  const auto b = s.find_first_not_of(ows);
  if (b == std::string_view::npos) {
    return {};
  }
  return s.substr(b, s.find_last_not_of(ows) - b + 1);
}

// The opaque tag of an entity tag (`"x"` or `W/"x"`), quotes included; empty when malformed.
std::string_view opaque_tag(std::string_view tag) noexcept {
  if (tag.starts_with("W/")) {
    tag.remove_prefix(2);
  }
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"' ||
      tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) {
    return {};
  }
  return tag;
}

}  // namespace

const ui_file* find_ui_file(std::string_view name) noexcept {
  const auto files = embedded_ui_files();
  const auto it = std::lower_bound(files.begin(), files.end(), name,
                                   [](const ui_file& f, std::string_view n) { return f.name < n; });
  return it != files.end() && it->name == name ? &*it : nullptr;
}

bool if_none_match(std::string_view header, std::string_view etag) noexcept {
  const std::string_view want = opaque_tag(etag);
  if (want.empty()) {
    return false;
  }
  if (trim_ows(header) == "*") {
    return true;
  }
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view member = trim_ows(header.substr(0, comma));
    if (!member.empty() && opaque_tag(member) == want) {
      return true;
    }
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
  }
  return false;
}

result<string_response> ui_route(const local_call& c) {
  if (!c.w.admin_only && !c.w.cfg.admin_listen_host.empty()) {
    return make_error(errc::not_found,
                      "The dashboard is served on the admin listener (admin_listen), not here.");
  }
  std::string name = c.route.param("file");
  if (name.empty()) {
    name = "index.html";  // /ui and /ui/
  }
  const ui_file* f = find_ui_file(name);
  if (f == nullptr) {
    return make_error(errc::not_found,
                      embedded_ui_files().empty()
                          ? std::string("This gateway was built without the dashboard "
                                        "(-DSWITCHYARD_UI=OFF).")
                          : "The dashboard has no file `" + name + "`.");
  }
  const bool fresh = if_none_match(c.req[http::field::if_none_match], f->etag);
  string_response res{fresh ? http::status::not_modified : http::status::ok, c.req.version()};
  res.set(http::field::etag, f->etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("content-security-policy", content_security_policy);
  res.set("x-content-type-options", "nosniff");
  res.set("referrer-policy", "no-referrer");
  res.set(http::field::x_frame_options, "DENY");
  res.set("x-request-id", c.request_id());
  if (fresh) {
    res.keep_alive(c.keep);  // a 304 has no body and no Content-Length (RFC 9110 §15.4.5)
    return res;
  }
  res.set(http::field::content_type, f->content_type);
  res.body().assign(f->body);
  res.keep_alive(c.keep);
  res.prepare_payload();
  return res;
}

}  // namespace switchyard
