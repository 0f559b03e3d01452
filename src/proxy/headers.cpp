#include "switchyard/proxy/headers.hpp"

#include "switchyard/core/random.hpp"

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace switchyard {

namespace http = boost::beast::http;
namespace beast = boost::beast;

namespace header_detail {

bool hop_by_hop(http::field f) noexcept {
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

bool named_in_connection(std::string_view list, std::string_view name) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view token = trim_field_value(list.substr(0, comma));
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

credential credential_of(std::string_view name) noexcept {
  // Most fields start with neither letter: one comparison for them on the request path.
  const char first = name.empty() ? '\0' : static_cast<char>(name[0] | 0x20);
  if (first != 'a' && first != 'x') {
    return credential::none;
  }
  if (beast::iequals(name, "authorization")) {
    return credential::authorization;
  }
  if (beast::iequals(name, "api-key")) {
    return credential::api_key;
  }
  if (beast::iequals(name, "x-api-key")) {
    return credential::x_api_key;
  }
  return credential::none;
}

bool understands(upstream_type type, credential c) noexcept {
  switch (type) {
    case upstream_type::openai:
      return c == credential::authorization;
    case upstream_type::azure:
      return c == credential::authorization || c == credential::api_key;
    case upstream_type::anthropic:
      return c == credential::authorization || c == credential::x_api_key;
  }
  return false;
}

}  // namespace header_detail

void render_request_head(std::string_view method, std::string_view target_prefix,
                         std::string_view target, const header_list& fields, std::string& out) {
  out.append(method);
  out.push_back(' ');
  out.append(target_prefix);
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  fields.render(out);
  out.append("\r\n");
}

void render_response_head(unsigned version, unsigned status, std::string_view reason,
                          const header_list& fields, std::string& out) {
  // Beast's status line: three digits, its obsolete reason phrase when none is given.
  const char line[] = {'H',
                       'T',
                       'T',
                       'P',
                       '/',
                       static_cast<char>('0' + version / 10),
                       '.',
                       static_cast<char>('0' + version % 10),
                       ' ',
                       static_cast<char>('0' + status / 100 % 10),
                       static_cast<char>('0' + status / 10 % 10),
                       static_cast<char>('0' + status % 10),
                       ' '};
  out.append(line, sizeof line);
  if (reason.empty()) {
    const auto r = http::obsolete_reason(static_cast<http::status>(status));
    out.append(r.data(), r.size());
  } else {
    out.append(reason);
  }
  out.append("\r\n");
  fields.render(out);
  out.append("\r\n");
}

void request_id_into(std::string& out, std::string_view client_value) {
  bool sane = !client_value.empty() && client_value.size() <= 128;
  for (char c : client_value) {
    sane = sane && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == ':' || c == '-');
  }
  if (sane) {
    out.assign(client_value);
    return;
  }
  // Ids need to be unique, not unpredictable: the per-thread generator, lock-free.
  static constexpr char hex[] = "0123456789abcdef";
  out.assign("req_");
  out.resize(4 + 32);
  for (std::size_t i = 0; i < 2; ++i) {
    std::uint64_t bits = random_u64();
    for (std::size_t j = 0; j < 16; ++j) {
      out[4 + i * 16 + j] = hex[bits & 0xf];
      bits >>= 4;
    }
  }
}

std::string request_id_for(std::string_view client_value) {
  std::string id;
  request_id_into(id, client_value);
  return id;
}

}  // namespace switchyard
