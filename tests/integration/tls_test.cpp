// HTTPS upstreams: verified against a trust anchor with SNI and host name check; verification
// off only when the config says so.
#include "harness.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace switchyard::test {
namespace {

// A self-signed certificate for localhost, made once per test run with the openssl CLI.
struct certificate {
  std::filesystem::path dir;
  std::string cert, key;
  certificate() {
    dir = std::filesystem::temp_directory_path() / ("switchyard-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("openssl could not make a test certificate");
    }
  }
  ~certificate() { std::filesystem::remove_all(dir); }
};

const certificate& cert() {
  static certificate c;
  return c;
}

std::string yaml(const std::string& upstream_extra) {
  return R"(
listen: 127.0.0.1:0
workers: 1
upstreams:
  - { name: secure, base_url: "https://localhost:{MOCK}/v1", api_key: sk-up)" +
         upstream_extra + R"( }
models: [ { name: gpt-4o-mini, upstream: secure } ]
log: { level: off, access: off }
)";
}

mock::options tls_mock() {
  mock::options o;
  o.tls_cert_file = cert().cert;
  o.tls_key_file = cert().key;
  return o;
}

TEST(tls, upstream_verified_against_a_configured_ca) {
  rig r(yaml(", ca_file: \"" + cert().cert + "\""), tls_mock());
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body);
  EXPECT_EQ(res.status, 200u) << res.body;
  auto head = c.start_stream("/v1/chat/completions",
                             R"({"model":"gpt-4o-mini","stream":true,"messages":[{}]})");
  EXPECT_EQ(head.status, 200u);
  std::string last;
  while (auto e = c.next_event()) {
    last = *e;
  }
  EXPECT_EQ(last, "[DONE]");
  EXPECT_EQ(r.upstream().counters().connections_accepted.load(), 1u) << "TLS connection reused";
}

TEST(tls, untrusted_upstream_certificate_is_a_502) {
  rig r(yaml(""), tls_mock());
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat_body);
  EXPECT_EQ(res.status, 502u);
  EXPECT_NE(res.body.find("TLS handshake"), std::string::npos) << res.body;
  EXPECT_EQ(r.upstream().counters().requests.load(), 0u);
}

TEST(tls, verification_off_only_when_asked) {
  rig r(yaml(", tls_verify: false"), tls_mock());
  client c(r.port());
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body).status, 200u);
}

}  // namespace
}  // namespace switchyard::test
