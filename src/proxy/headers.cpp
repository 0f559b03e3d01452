#include "switchyard/proxy/headers.hpp"

#include "switchyard/core/random.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <array>
#include <random>

namespace switchyard {

namespace {

namespace http = boost::beast::http;
namespace beast = boost::beast;

bool hop_by_hop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:  // framing is recomputed for every hop
    case http::field::host:
      return true;
    default:
      return false;
  }
}

// True when `name` is listed in the message's Connection header (so it is hop-by-hop too).
bool named_in_connection(const http::fields& fields, std::string_view name) {
  auto it = fields.find(http::field::connection);
  if (it == fields.end()) {
    return false;
  }
  std::string_view list = it->value();
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view token = list.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
      token.remove_prefix(1);
    }
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (beast::iequals(token, name)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool has_connection_tokens(const http::fields& fields) {
  return fields.find(http::field::connection) != fields.end();
}

}  // namespace

void build_upstream_fields(const http::fields& client, const upstream_config& up,
                           std::string_view request_id, http::fields& out) {
  const bool check_connection = has_connection_tokens(client);
  for (const auto& f : client) {
    http::field name = f.name();
    // Expect: the gateway already answered the client's; forwarding it invites a 100 Continue.
    if (hop_by_hop(name) || name == http::field::accept_encoding || name == http::field::expect ||
        beast::iequals(f.name_string(), "x-request-id") ||
        (name == http::field::authorization && !up.pass_authorization) ||
        (check_connection && named_in_connection(client, f.name_string()))) {
      continue;
    }
    out.insert(name == http::field::unknown ? http::field::unknown : name, f.name_string(),
               f.value());
  }
  if (!up.pass_authorization && !up.api_key.empty()) {
    out.set(http::field::authorization, "Bearer " + up.api_key);
  }
  // The gateway meters what it relays: ask for the body as it is (a server that compresses
  // anyway is decoded or refused by the relay).
  out.set(http::field::accept_encoding, "identity");
  for (const auto& [name, value] : up.headers) {
    out.set(name, value);
  }
  const bool default_port = up.port == (up.tls ? "443" : "80");
  const bool ipv6 = up.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + up.host + "]" : up.host;
  out.set(http::field::host, default_port ? host : host + ":" + up.port);
  out.set("x-request-id", request_id);
}

void build_client_fields(const http::fields& upstream, http::fields& out) {
  const bool check_connection = has_connection_tokens(upstream);
  for (const auto& f : upstream) {
    if (hop_by_hop(f.name()) ||
        (check_connection && named_in_connection(upstream, f.name_string()))) {
      continue;
    }
    if (beast::iequals(f.name_string(), "x-request-id")) {
      out.insert("x-upstream-request-id", f.value());
      continue;
    }
    out.insert(f.name(), f.name_string(), f.value());
  }
}

std::string request_id_for(std::string_view client_value) {
  bool sane = !client_value.empty() && client_value.size() <= 128;
  for (char c : client_value) {
    sane = sane && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == ':' || c == '-');
  }
  if (sane) {
    return std::string(client_value);
  }
  // Ids need to be unique, not unpredictable: the per-thread generator, lock-free.
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "req_";
  id.resize(4 + 32);
  for (std::size_t i = 0; i < 2; ++i) {
    std::uint64_t bits = random_u64();
    for (std::size_t j = 0; j < 16; ++j) {
      id[4 + i * 16 + j] = hex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

}  // namespace switchyard
