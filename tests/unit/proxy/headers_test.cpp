#include "switchyard/proxy/headers.hpp"

#include <gtest/gtest.h>
#include <boost/beast/http.hpp>

namespace switchyard {
namespace {

namespace http = boost::beast::http;

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
