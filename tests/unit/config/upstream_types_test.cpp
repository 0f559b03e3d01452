// Upstream types (openai, azure, anthropic): their keys, defaults and the errors
// --check-config prints for them (key path, line, what to write instead).

#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

result<config> parse_upstream(std::string_view upstream_yaml) {
  std::string yaml = "upstreams:\n  - ";
  yaml += upstream_yaml;
  yaml += "\nmodels: [ { name: m, upstream: up } ]\n";
  return parse_config(yaml, "/tmp", nullptr);
}

upstream_config upstream(std::string_view upstream_yaml) {
  auto c = parse_upstream(upstream_yaml);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return c ? c->upstreams.at(0) : upstream_config{};
}

// The error message (all of them, one per line), or "" when the config is valid.
std::string errors(std::string_view upstream_yaml) {
  auto c = parse_upstream(upstream_yaml);
  return c ? "" : c.error().message;
}

#define EXPECT_ERROR(yaml, text) EXPECT_NE(errors(yaml).find(text), std::string::npos) << errors(yaml)

TEST(upstream_types, defaults_per_type) {
  const auto openai = upstream("{ name: up, base_url: https://api.openai.com/v1 }");
  EXPECT_EQ(openai.kind, upstream_type::openai);
  EXPECT_EQ(openai.auth, upstream_auth::bearer);
  EXPECT_TRUE(serves(openai.apis, api_kind::responses));  // OpenAI itself
  const auto local = upstream("{ name: up, base_url: http://127.0.0.1:8000/v1 }");
  EXPECT_TRUE(serves(local.apis, api_kind::chat));
  EXPECT_FALSE(serves(local.apis, api_kind::responses));  // translated through chat
  EXPECT_FALSE(serves(local.apis, api_kind::messages));

  const auto azure =
      upstream("{ name: up, type: azure, resource: res, api_key: k, api_version: 2024-10-21 }");
  EXPECT_EQ(azure.kind, upstream_type::azure);
  EXPECT_EQ(azure.auth, upstream_auth::api_key);
  EXPECT_EQ(azure.host, "res.openai.azure.com");
  EXPECT_EQ(azure.port, "443");
  EXPECT_EQ(azure.path_prefix, "");
  EXPECT_TRUE(serves(azure.apis, api_kind::embeddings));
  EXPECT_FALSE(serves(azure.apis, api_kind::responses));  // came with 2025-03-01-preview
  const auto azure_new = upstream(
      "{ name: up, type: azure, resource: res, api_version: 2025-04-01-preview }");
  EXPECT_TRUE(serves(azure_new.apis, api_kind::responses));
  EXPECT_TRUE(serves(upstream("{ name: up, type: azure, resource: res, api_version: v1 }").apis,
                     api_kind::responses));

  const auto claude =
      upstream("{ name: up, type: anthropic, base_url: https://api.anthropic.com/v1 }");
  EXPECT_EQ(claude.kind, upstream_type::anthropic);
  EXPECT_EQ(claude.auth, upstream_auth::x_api_key);
  EXPECT_EQ(claude.anthropic_version, "2023-06-01");
  EXPECT_EQ(claude.default_max_tokens, 4096);
  EXPECT_EQ(claude.apis, api_bit(api_kind::messages));
}

TEST(upstream_types, apis_given_replace_the_default) {
  const auto up = upstream(
      "{ name: up, base_url: http://127.0.0.1:8000/v1, apis: [chat, responses] }");
  EXPECT_EQ(up.apis, api_bit(api_kind::chat) | api_bit(api_kind::responses));
}

TEST(upstream_types, apis_a_type_cannot_serve_are_refused) {
  EXPECT_ERROR("{ name: up, base_url: http://127.0.0.1:8000/v1, apis: [chat, messages] }",
               "upstreams[0].apis[1]: messages: messages is Anthropic's API");
  EXPECT_ERROR("{ name: up, base_url: http://127.0.0.1:8000/v1, apis: [chat, messages] }",
               "type: anthropic");
  EXPECT_ERROR("{ name: up, type: azure, resource: res, api_version: v1, apis: [messages] }",
               "upstreams[0].apis[0]: messages: messages is Anthropic's API");
  EXPECT_ERROR(
      "{ name: up, type: anthropic, base_url: https://api.anthropic.com/v1, apis: [embeddings] }",
      "upstreams[0].apis[0]: embeddings: type anthropic serves messages only");
  EXPECT_ERROR("{ name: up, base_url: http://h/v1, apis: [chat, audio] }",
               "upstreams[0].apis[1]: must be a list of chat, completions, embeddings");
}

TEST(upstream_types, azure_needs_an_api_version) {
  EXPECT_ERROR("{ name: up, type: azure, base_url: https://res.openai.azure.com }",
               "upstreams[0].api_version: is required for type azure: a dated version like "
               "2024-10-21");
  EXPECT_ERROR("{ name: up, type: azure, resource: res, api_version: latest }",
               "upstreams[0].api_version: must be v1 or a date like 2024-10-21");
  EXPECT_ERROR("{ name: up, type: azure, resource: res, api_version: 2024-10-21-beta }",
               "upstreams[0].api_version: must be v1 or a date");
  EXPECT_ERROR(
      "{ name: up, type: azure, base_url: https://res.openai.azure.com/openai/v1, api_version: "
      "2024-10-21 }",
      "base_url ends in /openai/v1 (Azure's v1 API, no api-version): set api_version: v1");
}

TEST(upstream_types, a_query_in_base_url_says_where_the_api_version_goes) {
  EXPECT_ERROR(
      "{ name: up, type: azure, base_url: "
      "\"https://res.openai.azure.com/openai?api-version=2024-10-21\" }",
      "upstreams[0].base_url: must not have a query: write the API version as api_version: "
      "2024-10-21, and base_url as the resource endpoint");
  // Written as an openai upstream: the message names the type as well.
  EXPECT_ERROR("{ name: up, base_url: \"https://res.openai.azure.com/openai?api-version=v1\" }",
               "api_version: v1 with type: azure");
  EXPECT_ERROR("{ name: up, base_url: \"https://h/v1?x=1\" }",
               "upstreams[0].base_url: must not have a query or fragment");
}

TEST(upstream_types, azure_deployment_urls_are_not_base_urls) {
  EXPECT_ERROR(
      "{ name: up, type: azure, base_url: https://r.openai.azure.com/openai/deployments/gpt4o, "
      "api_version: 2024-10-21 }",
      "upstreams[0].base_url: must be the resource endpoint, like "
      "https://my-resource.openai.azure.com, not a deployment URL");
}

TEST(upstream_types, azure_resource_is_short_for_base_url) {
  EXPECT_ERROR(
      "{ name: up, type: azure, resource: res, base_url: https://r.openai.azure.com, api_version: "
      "v1 }",
      "upstreams[0].resource: give resource or base_url, not both");
  EXPECT_ERROR("{ name: up, type: azure, resource: \"r.openai.azure.com\", api_version: v1 }",
               "upstreams[0].resource: must be an Azure resource name");
  EXPECT_ERROR("{ name: up, type: azure, api_version: v1 }",
               "upstreams[0].base_url: is required (or resource: your Azure resource name)");
}

TEST(upstream_types, auth_names_the_key_header) {
  EXPECT_EQ(upstream("{ name: up, type: azure, resource: res, api_version: v1, auth: entra }").auth,
            upstream_auth::bearer);
  EXPECT_EQ(upstream("{ name: up, type: azure, resource: res, api_version: v1, auth: bearer }").auth,
            upstream_auth::bearer);
  EXPECT_EQ(
      upstream("{ name: up, type: azure, resource: res, api_version: v1, auth: api-key }").auth,
      upstream_auth::api_key);
  EXPECT_EQ(upstream("{ name: up, type: anthropic, base_url: https://a/v1, auth: bearer }").auth,
            upstream_auth::bearer);
  EXPECT_ERROR("{ name: up, type: azure, resource: res, api_version: v1, auth: x-api-key }",
               "upstreams[0].auth: must be api-key (api_key sent as the api-key header, the "
               "default) or entra");
  EXPECT_ERROR("{ name: up, base_url: https://h/v1, auth: api-key }",
               "upstreams[0].auth: type openai sends api_key as Authorization: Bearer");
}

TEST(upstream_types, keys_of_another_type_are_errors) {
  EXPECT_ERROR("{ name: up, base_url: https://h/v1, api_version: 2024-10-21 }",
               "upstreams[0].api_version: is only read for type: azure (this upstream is type "
               "openai)");
  EXPECT_ERROR("{ name: up, type: azure, resource: res, api_version: v1, anthropic_version: x }",
               "upstreams[0].anthropic_version: is only read for type: anthropic");
  EXPECT_ERROR("{ name: up, base_url: https://h/v1, default_max_tokens: 100 }",
               "upstreams[0].default_max_tokens: is only read for type: anthropic");
  EXPECT_ERROR("{ name: up, type: anthropic, base_url: https://a/v1, anthropic_version: latest }",
               "upstreams[0].anthropic_version: must be a date like 2023-06-01");
}

TEST(upstream_types, anthropic_base_url_includes_the_version_path) {
  EXPECT_ERROR("{ name: up, type: anthropic, base_url: https://api.anthropic.com }",
               "upstreams[0].base_url: must include the API's version path, like "
               "https://api.anthropic.com/v1");
}

TEST(upstream_types, errors_carry_the_line) {
  auto c = parse_config(
      "upstreams:\n"
      "  - name: up\n"
      "    type: azure\n"
      "    resource: res\n"
      "    api_version: someday\n"
      "models: [ { name: m, upstream: up } ]\n",
      "/tmp", nullptr);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("upstreams[0].api_version: must be v1 or a date like "
                                   "2024-10-21 (optionally with -preview, like "
                                   "2025-04-01-preview) (line 5)"),
            std::string::npos)
      << c.error().message;
}

TEST(upstream_types, upstream_keys_stay_boot_keys) {
  // A reload that changes an upstream's type, auth or api_version needs a restart: pools and
  // their request targets are built at start.
  auto a = parse_upstream("{ name: up, type: azure, resource: res, api_version: 2024-10-21 }");
  auto b = parse_upstream("{ name: up, type: azure, resource: res, api_version: v1 }");
  auto c = parse_upstream(
      "{ name: up, type: azure, resource: res, api_version: 2024-10-21, auth: entra }");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(boot_difference(*a, *b), "upstreams");
  EXPECT_EQ(boot_difference(*a, *c), "upstreams");
  EXPECT_EQ(boot_difference(*a, *a), "");
}

}  // namespace
}  // namespace switchyard
