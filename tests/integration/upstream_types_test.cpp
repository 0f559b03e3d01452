// Upstream types through the real gateway: the request target and credential headers an
// openai or azure upstream receives (azure's deployment URLs, api-version, api-key or Entra
// bearer token, the v1 API), and Azure's answers through the retry table (a content-filter
// refusal is final, a 429 waits for its retry-after-ms). The fake records what it was sent.
// Anthropic targets on translated chat requests are covered with that translation.

#include "fake_upstream.hpp"
#include "harness.hpp"
#include "wire_fixtures.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <mutex>

namespace switchyard::test {
namespace {

namespace fs = std::filesystem;

std::string azure_fixture(const std::string& name) {
  return read_file(fs::path(SWITCHYARD_WIRE_FIXTURES).parent_path() / "providers" / "azure" /
                   name);
}

// One whole answer in one piece: status, JSON body with Content-Length, extra headers.
scripted_reply answer(unsigned status, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string bytes = "HTTP/1.1 " + std::to_string(status) + " X\r\n" +
                      "Content-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : headers) {
    bytes += k + ": " + v + "\r\n";
  }
  bytes += "\r\n" + body;
  return scripted_reply{{bytes}};
}

// The fake answers with `next(i)` for the i-th request (the Azure chat fixture by default).
struct recording_upstream {
  std::mutex m;
  std::function<scripted_reply(int)> next = [](int) {
    return answer(200, read_file(fs::path(SWITCHYARD_WIRE_FIXTURES) / "azure_chat.json"));
  };
  fake_upstream fake{[this](const http::request<http::string_body>&, int i) {
    std::lock_guard lock(m);
    return next(i);
  }};
  void set(std::function<scripted_reply(int)> f) {
    std::lock_guard lock(m);
    next = std::move(f);
  }
  http::request<http::string_body> last() {
    auto all = fake.received();
    return all.empty() ? http::request<http::string_body>{} : all.back();
  }
};

std::string yaml(std::uint16_t port) {
  const std::string at = "http://127.0.0.1:" + std::to_string(port);
  return R"(
listen: 127.0.0.1:0
workers: 1
retry: { max_attempts: 3, base: 1ms, cap: 2ms }
upstreams:
  - { name: azure, type: azure, base_url: ")" +
         at + R"(", api_version: 2024-10-21, api_key: azure-key, breaker: { enabled: false } }
  - { name: azure-v1, type: azure, base_url: ")" +
         at + R"(/openai/v1", api_key: entra-token, auth: entra, breaker: { enabled: false } }
  - { name: azure-pass, type: azure, base_url: ")" +
         at + R"(/openai", api_version: 2025-04-01-preview, pass_authorization: true,
      breaker: { enabled: false } }
  - { name: openai, base_url: ")" +
         at + R"(/v1", api_key: sk-up, breaker: { enabled: false } }
models:
  - { name: gpt-4o, upstream: azure, model: "gpt4o prod/2" }
  - { name: embed, upstream: azure, model: embed-small }
  - { name: gpt-4o-v1, upstream: azure-v1, model: gpt4o-prod }
  - { name: gpt-4o-pass, upstream: azure-pass, model: gpt4o-prod }
  - { name: gpt-4o-mini, upstream: openai }
log: { level: off, access: off }
)";
}

// What every client sends here: all three credential headers and the Anthropic ones.
const std::vector<std::pair<std::string, std::string>> client_credentials = {
    {"authorization", "Bearer sk-client"},
    {"api-key", "client-azure-key"},
    {"x-api-key", "client-anthropic-key"},
    {"anthropic-beta", "b1"}};

std::string chat(const std::string& model) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Hi"}]})";
}

TEST(upstream_types, azure_dated_version_gets_its_deployment_url_and_api_key) {
  recording_upstream up;
  rig r(yaml(up.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat("gpt-4o"), client_credentials);
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(boost::json::parse(res.body).at("choices").at(0).at("message").at("content"),
            "Hi there!");
  const auto seen = up.last();
  // The deployment is one percent-encoded path segment; api-version is a query value.
  EXPECT_EQ(seen.target(),
            "/openai/deployments/gpt4o%20prod%2F2/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(seen["api-key"], "azure-key");
  EXPECT_EQ(seen.count(http::field::authorization), 0u);  // never the client's key
  EXPECT_EQ(seen.count("x-api-key"), 0u);
  EXPECT_EQ(seen[http::field::host], "127.0.0.1:" + std::to_string(up.fake.port()));
  EXPECT_EQ(seen.count("anthropic-version"), 0u);
  EXPECT_EQ(boost::json::parse(seen.body()).at("model"), "gpt4o prod/2");

  auto emb = c.post("/v1/embeddings", R"({"model":"embed","input":"hello"})");
  ASSERT_EQ(emb.status, 200u);
  EXPECT_EQ(up.last().target(), "/openai/deployments/embed-small/embeddings?api-version=2024-10-21");
}

TEST(upstream_types, azure_v1_api_with_an_entra_token) {
  recording_upstream up;
  rig r(yaml(up.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat("gpt-4o-v1"), client_credentials);
  ASSERT_EQ(res.status, 200u) << res.body;
  const auto seen = up.last();
  EXPECT_EQ(seen.target(), "/openai/v1/chat/completions");
  EXPECT_EQ(seen[http::field::authorization], "Bearer entra-token");
  EXPECT_EQ(seen.count("api-key"), 0u);
  EXPECT_EQ(boost::json::parse(seen.body()).at("model"), "gpt4o-prod");
}

TEST(upstream_types, pass_authorization_forwards_the_azure_credentials_as_sent) {
  recording_upstream up;
  rig r(yaml(up.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat("gpt-4o-pass"), client_credentials);
  ASSERT_EQ(res.status, 200u) << res.body;
  const auto seen = up.last();
  EXPECT_EQ(seen.target(),
            "/openai/deployments/gpt4o-prod/chat/completions?api-version=2025-04-01-preview");
  EXPECT_EQ(seen["api-key"], "client-azure-key");
  EXPECT_EQ(seen[http::field::authorization], "Bearer sk-client");
  EXPECT_EQ(seen.count("x-api-key"), 0u);  // not a credential Azure reads
}

TEST(upstream_types, openai_upstream_gets_only_its_bearer_key) {
  recording_upstream up;
  rig r(yaml(up.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat("gpt-4o-mini"), client_credentials);
  ASSERT_EQ(res.status, 200u) << res.body;
  const auto seen = up.last();
  EXPECT_EQ(seen.target(), "/v1/chat/completions");
  EXPECT_EQ(seen[http::field::authorization], "Bearer sk-up");
  EXPECT_EQ(seen.count("api-key"), 0u);
  EXPECT_EQ(seen.count("x-api-key"), 0u);
  EXPECT_EQ(seen["anthropic-beta"], "b1");  // end-to-end headers are forwarded as before
}

TEST(upstream_types, azure_content_filter_refusal_is_relayed_once) {
  recording_upstream up;
  const auto refusal = azure_fixture("error_400_content_filter.json");
  up.set([&](int) { return answer(400, refusal); });
  rig r(yaml(up.fake.port()));
  client c(r.port());
  auto res = c.post("/v1/chat/completions", chat("gpt-4o"));
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(res.body, refusal);  // Azure's body as sent: code, param, innererror
  EXPECT_EQ(up.fake.requests(), 1);
}

TEST(upstream_types, azure_429_is_retried_after_its_retry_after_ms) {
  recording_upstream up;
  const auto limited = azure_fixture("error_429_rate_limit.json");
  const auto ok = read_file(fs::path(SWITCHYARD_WIRE_FIXTURES) / "azure_chat.json");
  up.set([&](int i) {
    return i == 0 ? answer(429, limited, {{"retry-after", "5"}, {"retry-after-ms", "300"}})
                  : answer(200, ok);
  });
  rig r(yaml(up.fake.port()));
  client c(r.port());
  const auto start = std::chrono::steady_clock::now();
  auto res = c.post("/v1/chat/completions", chat("gpt-4o"));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(res.status, 200u) << res.body;
  EXPECT_EQ(up.fake.requests(), 2);
  // The backoff is 1–2 ms here: only Azure's retry-after-ms makes the gateway wait this long,
  // and the millisecond header wins over the 5 s retry-after.
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::milliseconds(4000));
}

}  // namespace
}  // namespace switchyard::test
