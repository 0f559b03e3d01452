#include "switchyard/proxy/upstream_target.hpp"

#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

// The upstream as the loader makes it from `yaml` (so the tests see what a config gives).
upstream_config loaded(std::string_view upstream_yaml) {
  std::string yaml = "upstreams:\n  - ";
  yaml += upstream_yaml;
  yaml += "\nmodels: [ { name: m, upstream: up } ]\n";
  auto c = parse_config(yaml, "/tmp", nullptr);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return c ? c->upstreams.at(0) : upstream_config{};
}

std::string target(const upstream_config& up, endpoint ep, std::string_view model = "gpt-4o") {
  std::string out;
  append_upstream_target(up, ep, model, out);
  return out;
}

TEST(upstream_target, openai_appends_the_endpoint_to_base_url_path) {
  const auto up = loaded("{ name: up, base_url: https://api.openai.com/v1 }");
  EXPECT_EQ(target(up, endpoint::chat_completions), "/v1/chat/completions");
  EXPECT_EQ(target(up, endpoint::completions), "/v1/completions");
  EXPECT_EQ(target(up, endpoint::embeddings), "/v1/embeddings");
  EXPECT_EQ(target(up, endpoint::responses), "/v1/responses");
  const auto root = loaded("{ name: up, base_url: \"http://127.0.0.1:8080/\" }");
  EXPECT_EQ(target(root, endpoint::chat_completions), "/chat/completions");
}

TEST(upstream_target, azure_dated_version_routes_by_deployment) {
  const auto up = loaded(
      "{ name: up, type: azure, base_url: https://res.openai.azure.com, api_version: 2024-10-21 "
      "}");
  EXPECT_EQ(target(up, endpoint::chat_completions, "gpt4o-prod"),
            "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(target(up, endpoint::completions, "instruct"),
            "/openai/deployments/instruct/completions?api-version=2024-10-21");
  EXPECT_EQ(target(up, endpoint::embeddings, "emb.small_1"),
            "/openai/deployments/emb.small_1/embeddings?api-version=2024-10-21");
  // The Responses API is not deployment-scoped: the deployment is the body's `model`.
  EXPECT_EQ(target(up, endpoint::responses, "gpt4o-prod"),
            "/openai/responses?api-version=2024-10-21");
}

TEST(upstream_target, azure_base_url_with_openai_or_a_gateway_prefix) {
  const auto with_openai = loaded(
      "{ name: up, type: azure, base_url: \"https://res.openai.azure.com/openai/\", "
      "api_version: 2025-04-01-preview }");
  EXPECT_EQ(target(with_openai, endpoint::chat_completions, "d"),
            "/openai/deployments/d/chat/completions?api-version=2025-04-01-preview");
  // An API Management gateway in front of the resource keeps its own path.
  const auto apim = loaded(
      "{ name: up, type: azure, base_url: https://apim.example.com/aoai/openai, api_version: "
      "2024-10-21 }");
  EXPECT_EQ(target(apim, endpoint::embeddings, "e"),
            "/aoai/openai/deployments/e/embeddings?api-version=2024-10-21");
  const auto resource =
      loaded("{ name: up, type: azure, resource: my-res, api_version: 2024-10-21 }");
  EXPECT_EQ(resource.host, "my-res.openai.azure.com");
  EXPECT_TRUE(resource.tls);
  EXPECT_EQ(target(resource, endpoint::chat_completions, "d"),
            "/openai/deployments/d/chat/completions?api-version=2024-10-21");
}

TEST(upstream_target, azure_deployment_is_one_encoded_path_segment) {
  const auto up = loaded(
      "{ name: up, type: azure, base_url: https://res.openai.azure.com, api_version: 2024-10-21 "
      "}");
  EXPECT_EQ(target(up, endpoint::chat_completions, "a/b?c d#e%"),
            "/openai/deployments/a%2Fb%3Fc%20d%23e%25/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(target(up, endpoint::chat_completions, "../x"),
            "/openai/deployments/..%2Fx/chat/completions?api-version=2024-10-21");
}

TEST(upstream_target, azure_v1_api_keeps_openai_paths_without_query) {
  const auto up =
      loaded("{ name: up, type: azure, base_url: https://res.openai.azure.com, api_version: v1 }");
  EXPECT_EQ(target(up, endpoint::chat_completions, "gpt4o-prod"), "/openai/v1/chat/completions");
  EXPECT_EQ(target(up, endpoint::embeddings), "/openai/v1/embeddings");
  EXPECT_EQ(target(up, endpoint::responses), "/openai/v1/responses");
  // A base_url that already ends in /openai/v1 means the v1 API.
  const auto by_url = loaded(
      "{ name: up, type: azure, base_url: \"https://res.openai.azure.com/openai/v1/\" }");
  EXPECT_EQ(by_url.api_version, "v1");
  EXPECT_EQ(target(by_url, endpoint::completions), "/openai/v1/completions");
}

TEST(upstream_target, anthropic_base_url_is_the_api_root) {
  const auto up = loaded(
      "{ name: up, type: anthropic, base_url: https://api.anthropic.com/v1, api_key: k }");
  EXPECT_EQ(target(up, endpoint::messages, "claude-sonnet-4-5"), "/v1/messages");
  EXPECT_EQ(target(up, endpoint::count_tokens), "/v1/messages/count_tokens");
}

}  // namespace
}  // namespace switchyard
