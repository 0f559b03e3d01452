#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/proxy/responses.hpp"

#include <span>
#include <string_view>

namespace switchyard {

struct local_call;  // http/api.hpp

/// One file of the dashboard, embedded in the binary at build time (ui/embed.cmake generates the
/// table from ui/www/ and uPlot's dist files): its name under /ui/, its Content-Type, its strong
/// ETag (quoted, from a SHA-256 of the bytes) and its bytes.
struct ui_file {
  std::string_view name;
  std::string_view content_type;
  std::string_view etag;
  std::string_view body;
};

/// The embedded files, sorted by name; empty when built with -DSWITCHYARD_UI=OFF. Defined in the
/// generated ui_files_embedded.cpp.
std::span<const ui_file> embedded_ui_files() noexcept;

/// The embedded file called `name` ("index.html", "app.js"), or null.
const ui_file* find_ui_file(std::string_view name) noexcept;

/// True when an If-None-Match header value matches `etag` (RFC 9110 §13.1.2: "*", or a comma
/// separated list of entity tags compared weakly, so W/"x" matches "x"). A malformed member
/// matches nothing. Pure.
bool if_none_match(std::string_view header, std::string_view etag) noexcept;

/// GET /ui, /ui/ (index.html) and /ui/{file}: the embedded file with its Content-Type, ETag
/// (304 for a matching If-None-Match), Cache-Control: no-cache (always revalidated: the names
/// carry no hash), a Content-Security-Policy that allows only the gateway's own scripts, styles
/// and API (`default-src 'self'`, no inline script), nosniff, no referrer and no framing. 404 in
/// the API's error shape for an unknown file, and on the client port when an admin listener
/// (`admin_listen`) is configured: the dashboard lives where the admin API lives.
result<string_response> ui_route(const local_call& c);

}  // namespace switchyard
