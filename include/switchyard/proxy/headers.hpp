#pragma once

#include "switchyard/config/config.hpp"

#include <boost/beast/http/fields.hpp>

#include <string>
#include <string_view>

namespace switchyard {

/// Fields for the upstream request: the client's end-to-end fields minus hop-by-hop ones
/// (RFC 9110 §7.6.1, including those named in `Connection`), framing, `Host`, `Accept-Encoding`
/// (the gateway reads bodies, so it asks for identity) and `Authorization` (replaced by the
/// upstream's key unless `pass_authorization`), plus the upstream's configured headers.
void build_upstream_fields(const boost::beast::http::fields& client, const upstream_config& up,
                           std::string_view request_id, boost::beast::http::fields& out);

/// Fields for the client response: the upstream's end-to-end fields minus hop-by-hop ones and
/// framing; the upstream's `x-request-id` is kept as `x-upstream-request-id`.
void build_client_fields(const boost::beast::http::fields& upstream,
                         boost::beast::http::fields& out);

/// The client's `x-request-id` when it is a sane token (1–128 of [A-Za-z0-9._:-]), otherwise a
/// fresh random id; ids end up in logs, so nothing else is trusted.
std::string request_id_for(std::string_view client_value);

}  // namespace switchyard
