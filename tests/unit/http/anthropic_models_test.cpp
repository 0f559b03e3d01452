// /v1/models for Anthropic clients (Claude Code lists the gateway's models at start): the shape
// @anthropic-ai/sdk 1.15 types as ModelInfo and its list page (resources/models.d.ts,
// core/pagination.d.ts), and which requests get Anthropic's shapes.
#include "switchyard/http/api.hpp"
#include "switchyard/http/model_list.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

TEST(anthropic_models, the_list_page_has_anthropic_members) {
  auto cfg = parse_config(R"(
upstreams: [ { name: up, type: anthropic, base_url: "http://127.0.0.1:9/v1" } ]
models:
  - { name: claude-sonnet-4-5, upstream: up }
  - { name: claude-opus-4-1, upstream: up }
)");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const auto v = boost::json::parse(anthropic_model_list_json(*cfg));
  const auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("type"), "model");
  EXPECT_EQ(data[0].at("id"), "claude-sonnet-4-5");
  EXPECT_EQ(data[0].at("display_name"), "claude-sonnet-4-5");
  EXPECT_EQ(data[0].at("created_at"), "1970-01-01T00:00:00Z");
  EXPECT_TRUE(data[0].at("max_tokens").is_null());
  EXPECT_EQ(v.at("has_more"), false);
  EXPECT_EQ(v.at("first_id"), "claude-sonnet-4-5");
  EXPECT_EQ(v.at("last_id"), "claude-opus-4-1");
  const auto one = boost::json::parse(anthropic_model_object_json("claude-opus-4-1"));
  EXPECT_EQ(one.at("id"), "claude-opus-4-1");
  EXPECT_EQ(one.at("lifecycle"), "active");
}

TEST(anthropic_models, an_empty_list_has_null_ids) {
  const hot_config none;  // (a loaded config has a model; the shape must still hold)
  const auto v = boost::json::parse(anthropic_model_list_json(none));
  EXPECT_TRUE(v.at("first_id").is_null());
  EXPECT_TRUE(v.at("data").as_array().empty());
}

TEST(anthropic_models, which_requests_get_anthropic_shapes) {
  EXPECT_EQ(client_api("/v1/messages", ""), api_kind::messages);
  EXPECT_EQ(client_api("/v1/messages/count_tokens", ""), api_kind::messages);
  EXPECT_EQ(client_api("/v1/messages?beta=true", ""), api_kind::messages);
  EXPECT_EQ(client_api("/v1/messages/batches", ""), api_kind::messages);
  EXPECT_EQ(client_api("/v1/messagesx", ""), api_kind::chat);
  EXPECT_EQ(client_api("/v1/models", "2023-06-01"), api_kind::messages);
  EXPECT_EQ(client_api("/v1/models/claude-x", "2023-06-01"), api_kind::messages);
  EXPECT_EQ(client_api("/v1/models", ""), api_kind::chat);
  EXPECT_EQ(client_api("/v1/chat/completions", "2023-06-01"), api_kind::chat)
      << "an OpenAI path keeps OpenAI's shape";
  EXPECT_EQ(client_api("/v1/nope", "2023-06-01"), api_kind::messages);
}

}  // namespace
}  // namespace switchyard
