#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/header_block.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

namespace header_detail {
/// Hop-by-hop or framing fields, never forwarded (RFC 9110 §7.6.1), plus `Host`.
bool hop_by_hop(boost::beast::http::field f) noexcept;
/// True when `name` is a token of the `Connection` value `list` (so it is hop-by-hop too).
bool named_in_connection(std::string_view list, std::string_view name) noexcept;

inline void set_copied(boost::beast::http::fields& out, std::string_view name,
                       std::string_view value) {
  out.set(name, value);
}
inline void set_copied(header_list& out, std::string_view name, std::string_view value) {
  out.set_copy(name, value);
}
inline void set_joined(boost::beast::http::fields& out, std::string_view name,
                       std::initializer_list<std::string_view> parts) {
  std::string v;
  for (auto p : parts) {
    v += p;
  }
  out.set(name, v);
}
inline void set_joined(header_list& out, std::string_view name,
                       std::initializer_list<std::string_view> parts) {
  out.set_joined(name, parts);
}

/// The client credential headers an upstream may see: `Authorization`, `api-key` (Azure),
/// `x-api-key` (Anthropic).
enum class credential : std::uint8_t { none, authorization, api_key, x_api_key };
credential credential_of(std::string_view name) noexcept;
/// Whether an upstream of `type` reads `c` (openai: Authorization; azure: api-key and
/// Authorization (an Entra ID token); anthropic: x-api-key and Authorization).
bool understands(upstream_type type, credential c) noexcept;
}  // namespace header_detail

/// Fields for the upstream request: the client's end-to-end fields minus hop-by-hop ones
/// (RFC 9110 §7.6.1, including those named in `Connection`), framing, `Host`, `Accept-Encoding`
/// (the gateway reads bodies, so it asks for identity) and the client's credentials
/// (`Authorization`, `api-key`, `x-api-key`), plus the upstream's configured headers.
/// Credentials: without `pass_authorization` the upstream's `api_key` goes in the header its
/// `auth` names (`Authorization: Bearer`, `api-key`, `x-api-key`) and no client credential is
/// forwarded; with it, the client's own credential headers that the upstream's type reads are
/// forwarded as they are (never moved from one header to another) and the rest dropped.
/// anthropic: `anthropic-version` is the client's when it sent one (a Messages client knows the
/// version it speaks), else the upstream's `anthropic_version`; `anthropic-beta` is forwarded.
/// `Out` is an `http::fields` or a `header_list` (which then views `client`, `up` and
/// `request_id`: they must outlive it).
template <class In = boost::beast::http::fields, class Out>
void build_upstream_fields(const In& client, const upstream_config& up, std::string_view request_id,
                           Out& out) {
  namespace http = boost::beast::http;
  const auto conn = client.find(http::field::connection);
  const bool check_connection = conn != client.end();
  bool client_version = false;  // the client's anthropic-version was forwarded
  for (const auto& f : client) {
    const http::field name = f.name();
    // Expect: the gateway already answered the client's; forwarding it invites a 100 Continue.
    if (header_detail::hop_by_hop(name) || name == http::field::accept_encoding ||
        name == http::field::expect || boost::beast::iequals(f.name_string(), "x-request-id") ||
        // The evaluation secret (core/eval_secret.hpp) never leaves the process.
        boost::beast::iequals(f.name_string(), "x-switchyard-eval") ||
        (check_connection && header_detail::named_in_connection(conn->value(), f.name_string()))) {
      continue;
    }
    const auto cred = name == http::field::authorization
                          ? header_detail::credential::authorization
                          : header_detail::credential_of(f.name_string());
    if (cred != header_detail::credential::none &&
        (!up.pass_authorization || !header_detail::understands(up.kind, cred))) {
      continue;
    }
    client_version = client_version || boost::beast::iequals(f.name_string(), "anthropic-version");
    out.insert(f.name_string(), f.value());
  }
  if (!up.pass_authorization && !up.api_key.empty()) {
    switch (up.auth) {
      case upstream_auth::bearer:
        header_detail::set_joined(out, "Authorization", {"Bearer ", up.api_key});
        break;
      case upstream_auth::api_key:
        out.set("api-key", up.api_key);
        break;
      case upstream_auth::x_api_key:
        out.set("x-api-key", up.api_key);
        break;
    }
  }
  if (up.kind == upstream_type::anthropic && !client_version) {
    out.set("anthropic-version", up.anthropic_version);
  }
  // The gateway meters what it relays: ask for the body as it is (a server that compresses
  // anyway is decoded or refused by the relay).
  out.set("Accept-Encoding", "identity");
  for (const auto& [name, value] : up.headers) {
    out.set(name, value);
  }
  const bool default_port = up.port == (up.tls ? "443" : "80");
  const bool ipv6 = up.host.find(':') != std::string::npos;
  header_detail::set_joined(out, "Host",
                            {ipv6 ? "[" : "", up.host, ipv6 ? "]" : "", default_port ? "" : ":",
                             default_port ? "" : std::string_view(up.port)});
  out.set("x-request-id", request_id);
}

/// Fields for the client response: the upstream's end-to-end fields minus hop-by-hop ones and
/// framing; the upstream's `x-request-id` is kept as `x-upstream-request-id`. `Out` as above
/// (a `header_list` views `upstream`).
template <class In, class Out>
void build_client_fields(const In& upstream, Out& out) {
  namespace http = boost::beast::http;
  const auto conn = upstream.find(http::field::connection);
  const bool check_connection = conn != upstream.end();
  for (const auto& f : upstream) {
    if (header_detail::hop_by_hop(f.name()) ||
        (check_connection && header_detail::named_in_connection(conn->value(), f.name_string()))) {
      continue;
    }
    if (boost::beast::iequals(f.name_string(), "x-request-id")) {
      out.insert("x-upstream-request-id", f.value());
      continue;
    }
    out.insert(f.name_string(), f.value());
  }
}

/// Appends a request header block to `out`: "<method> <target> HTTP/1.1\r\n", the fields, the
/// blank line — the bytes Beast's serializer writes for such a message.
void render_request_head(std::string_view method, std::string_view target_prefix,
                         std::string_view target, const header_list& fields, std::string& out);

/// Appends a response header block to `out`: "HTTP/x.y <status> <reason>\r\n" (Beast's standard
/// reason when `reason` is empty), the fields, the blank line — as Beast's serializer writes it.
void render_response_head(unsigned version, unsigned status, std::string_view reason,
                          const header_list& fields, std::string& out);

/// The client's `x-request-id` when it is a sane token (1–128 of [A-Za-z0-9._:-]), otherwise a
/// fresh random id; ids end up in logs, so nothing else is trusted.
std::string request_id_for(std::string_view client_value);

/// The same into `out` (its capacity reused: a connection's ids allocate once).
void request_id_into(std::string& out, std::string_view client_value);

}  // namespace switchyard
