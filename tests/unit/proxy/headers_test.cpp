#include "switchyard/proxy/headers.hpp"

#include <gtest/gtest.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <string>
#include <tuple>

namespace switchyard {
namespace {

namespace http = boost::beast::http;
namespace beast = boost::beast;

upstream_config upstream(bool pass = false) {
  upstream_config u;
  u.name = "up";
  u.host = "api.example.com";
  u.port = "443";
  u.tls = true;
  u.api_key = "sk-upstream";
  u.pass_authorization = pass;
  u.headers = {{"OpenAI-Organization", "org-1"}};
  return u;
}

http::fields client_fields() {
  http::fields f;
  f.set(http::field::host, "gateway:8080");
  f.set(http::field::authorization, "Bearer sk-client");
  f.set(http::field::connection, "keep-alive, X-Secret-Hop");
  f.set("X-Secret-Hop", "drop me");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::content_length, "10");
  f.set(http::field::te, "trailers");
  f.set(http::field::upgrade, "h2c");
  f.set(http::field::accept_encoding, "gzip");
  f.set(http::field::expect, "100-continue");
  f.set("x-request-id", "client-id");
  f.set("X-Stainless-Retry-Count", "0");
  f.set(http::field::content_type, "application/json");
  return f;
}

TEST(headers, upstream_request_drops_hop_by_hop_and_replaces_auth) {
  http::fields out;
  build_upstream_fields(client_fields(), upstream(), "req_1", out);
  EXPECT_EQ(out[http::field::authorization], "Bearer sk-upstream");
  EXPECT_EQ(out[http::field::host], "api.example.com");
  EXPECT_EQ(out["x-request-id"], "req_1");
  EXPECT_EQ(out["OpenAI-Organization"], "org-1");
  EXPECT_EQ(out["X-Stainless-Retry-Count"], "0");
  EXPECT_EQ(out[http::field::content_type], "application/json");
  for (auto f :
       {http::field::connection, http::field::keep_alive, http::field::transfer_encoding,
        http::field::content_length, http::field::te, http::field::upgrade, http::field::expect}) {
    EXPECT_EQ(out.count(f), 0u) << f;
  }
  // The gateway meters bodies: it asks for them uncompressed, whatever the client accepts.
  EXPECT_EQ(out.count(http::field::accept_encoding), 1u);
  EXPECT_EQ(out[http::field::accept_encoding], "identity");
  EXPECT_EQ(out.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(out.count("x-request-id"), 1u);
}

TEST(headers, pass_authorization_keeps_the_client_key) {
  http::fields out;
  build_upstream_fields(client_fields(), upstream(true), "req_1", out);
  EXPECT_EQ(out[http::field::authorization], "Bearer sk-client");
}

// A client that sends every kind of credential header, and the Anthropic ones.
http::fields credential_fields() {
  http::fields f;
  f.set(http::field::authorization, "Bearer sk-client");
  f.set("api-key", "client-azure-key");
  f.set("X-Api-Key", "client-anthropic-key");
  f.set("anthropic-beta", "prompt-caching-2024-07-31");
  f.set(http::field::content_type, "application/json");
  return f;
}

upstream_config typed(upstream_type type, upstream_auth auth, bool pass = false) {
  auto u = upstream(pass);
  u.headers.clear();
  u.kind = type;
  u.auth = auth;
  u.api_key = "sk-upstream";
  return u;
}

// The credential fields of `out`, as "name=value" in order, for one comparison.
std::string credentials(const http::fields& out) {
  std::string s;
  for (const char* name : {"Authorization", "api-key", "x-api-key"}) {
    for (auto it = out.find(name); it != out.end() && beast::iequals(it->name_string(), name);
         ++it) {
      s += (s.empty() ? "" : " ") + std::string(name) + "=" + std::string(it->value());
    }
  }
  return s;
}

TEST(headers, client_credentials_never_reach_an_upstream_without_pass_authorization) {
  for (auto [type, auth, expected] :
       {std::tuple{upstream_type::openai, upstream_auth::bearer,
                   "Authorization=Bearer sk-upstream"},
        std::tuple{upstream_type::azure, upstream_auth::api_key, "api-key=sk-upstream"},
        std::tuple{upstream_type::azure, upstream_auth::bearer,
                   "Authorization=Bearer sk-upstream"},
        std::tuple{upstream_type::anthropic, upstream_auth::x_api_key, "x-api-key=sk-upstream"}}) {
    http::fields out;
    build_upstream_fields(credential_fields(), typed(type, auth), "r", out);
    EXPECT_EQ(credentials(out), expected);
    std::string all;
    for (const auto& f : out) {
      all += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
    }
    EXPECT_EQ(all.find("client-"), std::string::npos) << all;
    EXPECT_EQ(all.find("sk-client"), std::string::npos) << all;
  }
  // No upstream key: nothing at all (a local server), still none of the client's.
  auto keyless = typed(upstream_type::openai, upstream_auth::bearer);
  keyless.api_key.clear();
  http::fields out;
  build_upstream_fields(credential_fields(), keyless, "r", out);
  EXPECT_EQ(credentials(out), "");
}

TEST(headers, pass_authorization_forwards_what_the_type_reads_as_sent) {
  auto fwd = [](upstream_type type) {
    http::fields out;
    build_upstream_fields(credential_fields(), typed(type, upstream_auth::bearer, true), "r", out);
    return credentials(out);
  };
  EXPECT_EQ(fwd(upstream_type::openai), "Authorization=Bearer sk-client");
  EXPECT_EQ(fwd(upstream_type::azure), "Authorization=Bearer sk-client api-key=client-azure-key");
  EXPECT_EQ(fwd(upstream_type::anthropic),
            "Authorization=Bearer sk-client x-api-key=client-anthropic-key");
}

TEST(headers, anthropic_version_is_the_clients_else_the_configured_one) {
  auto up = typed(upstream_type::anthropic, upstream_auth::x_api_key);
  up.anthropic_version = "2023-06-01";
  http::fields none;
  build_upstream_fields(credential_fields(), up, "r", none);
  EXPECT_EQ(none["anthropic-version"], "2023-06-01");
  EXPECT_EQ(none["anthropic-beta"], "prompt-caching-2024-07-31");

  auto client = credential_fields();
  client.set("Anthropic-Version", "2026-10-21");
  header_list h;  // the request path's list: the same decision
  build_upstream_fields(client, up, "r", h);
  EXPECT_EQ(h.count("anthropic-version"), 1u);
  EXPECT_EQ(h["anthropic-version"], "2026-10-21");
  EXPECT_EQ(h["x-api-key"], "sk-upstream");

  // Other types get no anthropic-version of the gateway's.
  http::fields azure;
  build_upstream_fields(http::fields{}, typed(upstream_type::azure, upstream_auth::api_key), "r",
                        azure);
  EXPECT_EQ(azure.count("anthropic-version"), 0u);
}

TEST(headers, non_default_port_goes_into_host) {
  auto up = upstream();
  up.tls = false;
  up.port = "8000";
  http::fields out;
  build_upstream_fields({}, up, "r", out);
  EXPECT_EQ(out[http::field::host], "api.example.com:8000");
}

TEST(headers, ip_literal_hosts) {
  auto up = upstream();
  up.tls = false;
  up.host = "10.1.2.3";
  up.port = "8000";
  http::fields out;
  build_upstream_fields({}, up, "r", out);
  EXPECT_EQ(out[http::field::host], "10.1.2.3:8000");
  up.host = "::1";
  http::fields out6;
  build_upstream_fields({}, up, "r", out6);
  EXPECT_EQ(out6[http::field::host], "[::1]:8000");
}

TEST(headers, client_response_keeps_upstream_id_under_its_own_name) {
  http::fields up;
  up.set("x-request-id", "req_upstream");
  up.set(http::field::content_type, "text/event-stream");
  up.set(http::field::transfer_encoding, "chunked");
  up.set(http::field::connection, "close");
  up.set("openai-processing-ms", "12");
  http::fields out;
  build_client_fields(up, out);
  EXPECT_EQ(out["x-upstream-request-id"], "req_upstream");
  EXPECT_EQ(out.count("x-request-id"), 0u);
  EXPECT_EQ(out.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(out.count(http::field::connection), 0u);
  EXPECT_EQ(out["openai-processing-ms"], "12");
}

// What Beast's serializer writes for a message's header, to compare the rendered blocks with.
template <bool isRequest>
std::string beast_head(http::message<isRequest, http::empty_body>& m) {
  http::serializer<isRequest, http::empty_body> sr(m);
  std::string out;
  beast::error_code ec;
  sr.split(true);
  while (!sr.is_header_done()) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
      }
      sr.consume(beast::buffer_bytes(buffers));
    });
  }
  return out;
}

TEST(headers, the_rendered_upstream_request_is_what_beast_wrote) {
  const auto client = client_fields();
  const auto up = upstream();
  http::request<http::empty_body> beast_req{http::verb::post, "/v1/chat/completions", 11};
  build_upstream_fields(client, up, "req_1", beast_req.base());
  beast_req.content_length(42);
  beast_req.keep_alive(true);

  header_list h;
  build_upstream_fields(client, up, "req_1", h);
  h.set_copy("Content-Length", "42");
  std::string out;
  render_request_head("POST", "/v1", "/chat/completions", h, out);
  EXPECT_EQ(out, beast_head(beast_req));
}

TEST(headers, the_rendered_client_response_is_what_beast_wrote) {
  http::fields upstream_fields;
  upstream_fields.set("x-request-id", "req_upstream");
  upstream_fields.set(http::field::content_type, "application/json");
  upstream_fields.set(http::field::server, "nginx");
  upstream_fields.set(http::field::connection, "keep-alive");
  upstream_fields.set("openai-processing-ms", "12");
  for (unsigned version : {10u, 11u}) {
    for (bool keep : {true, false}) {
      http::response<http::empty_body> beast_res{http::status::ok, version};
      beast_res.reason("Fine");
      build_client_fields(upstream_fields, beast_res.base());
      beast_res.set(http::field::server, "switchyard");
      beast_res.content_length(720);
      beast_res.keep_alive(keep);

      header_list h;
      build_client_fields(upstream_fields, h);
      h.set("Server", "switchyard");
      h.set_copy("Content-Length", "720");
      if (version >= 11 && !keep) {
        h.set("Connection", "close");
      } else if (version < 11 && keep) {
        h.set("Connection", "keep-alive");
      }
      std::string out;
      render_response_head(version, 200, "Fine", h, out);
      EXPECT_EQ(out, beast_head(beast_res)) << version << keep;
    }
  }
  // No reason phrase from the upstream: Beast's, as before; an unknown code keeps its digits.
  http::response<http::empty_body> odd{static_cast<http::status>(599), 11};
  std::string out;
  render_response_head(11, 599, "", header_list{}, out);
  EXPECT_EQ(out, beast_head(odd));
}

TEST(headers, request_id_sane_client_ids_are_kept_others_replaced) {
  EXPECT_EQ(request_id_for("abc-123_x.y:z"), "abc-123_x.y:z");
  auto fresh = request_id_for("");
  EXPECT_EQ(fresh.rfind("req_", 0), 0u);
  EXPECT_EQ(fresh.size(), 36u);
  EXPECT_NE(request_id_for(""), fresh);
  EXPECT_NE(request_id_for("has space"), "has space");
  EXPECT_NE(request_id_for("quote\"inject"), "quote\"inject");
  EXPECT_NE(request_id_for(std::string(129, 'a')), std::string(129, 'a'));
}

}  // namespace
}  // namespace switchyard
