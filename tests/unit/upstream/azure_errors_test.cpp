// Azure OpenAI's answers through the retry table: a content-filter refusal is final, a 429 is
// retried after its retry-after-ms, and Azure's stream annotations (empty `choices`, annotation
// chunks without a delta) keep the stream hold while `finish_reason: content_filter` ends it.
// Fixtures: tests/fixtures/providers/azure (sources in its SOURCES.md).

#include "switchyard/proxy/stream_event.hpp"
#include "switchyard/sse/sse_parser.hpp"
#include "switchyard/upstream/retry_policy.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace switchyard {
namespace {

std::string azure_fixture(std::string_view name) {
  const auto dir =
      std::filesystem::path(SWITCHYARD_WIRE_FIXTURES).parent_path() / "providers" / "azure";
  std::ifstream f(dir / std::string(name), std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<sse_event> events_of(std::string_view bytes) {
  sse_parser p(1 << 20);
  std::vector<sse_event> out;
  EXPECT_TRUE(p.feed(bytes, out).has_value());
  return out;
}

TEST(azure_errors, content_filter_refusal_is_final) {
  const auto body = azure_fixture("error_400_content_filter.json");
  // The shape SDKs and users read: OpenAI's error object plus Azure's innererror.
  const auto v = boost::json::parse(body);
  EXPECT_EQ(v.at("error").at("code"), "content_filter");
  EXPECT_EQ(v.at("error").at("innererror").at("code"), "ResponsibleAIPolicyViolation");
  simdjson::ondemand::parser json;
  EXPECT_FALSE(says_insufficient_quota(json, body));
  EXPECT_EQ(status_retry_mode(400, false), retry_mode::no);
  EXPECT_FALSE(upstream_fault(upstream_answer(400, retry_mode::no)));  // not the upstream's fault
}

TEST(azure_errors, auth_and_deployment_errors_are_final) {
  simdjson::ondemand::parser json;
  for (auto [file, status] : {std::pair{"error_401.json", 401u},
                              std::pair{"error_404_deployment_not_found.json", 404u}}) {
    const auto body = azure_fixture(file);
    EXPECT_FALSE(says_insufficient_quota(json, body)) << file;
    EXPECT_EQ(status_retry_mode(status, false), retry_mode::no) << file;
  }
}

TEST(azure_errors, rate_limit_is_retried_after_retry_after_ms) {
  const auto body = azure_fixture("error_429_rate_limit.json");
  simdjson::ondemand::parser json;
  // Azure's 429 says "code": "429", not insufficient_quota: a wait fixes it.
  EXPECT_FALSE(says_insufficient_quota(json, body));
  EXPECT_EQ(status_retry_mode(429, false), retry_mode::yes);
  // Azure sends both; the millisecond one is the more precise and wins.
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("1500", "2", now), std::chrono::milliseconds(1500));
  EXPECT_EQ(parse_retry_after("", "2", now), std::chrono::milliseconds(2000));
  retry_config cfg;
  auto d = next_retry(1, cfg, std::chrono::milliseconds(1500), 0.0,
                      std::chrono::steady_clock::now(),
                      std::chrono::steady_clock::now() + std::chrono::minutes(1));
  EXPECT_TRUE(d.retry);
  EXPECT_GE(d.wait, std::chrono::milliseconds(1500));
}

TEST(azure_errors, content_filter_stream_holds_on_annotations_and_ends_on_the_filter) {
  const auto events = events_of(azure_fixture("chat_stream_content_filter.sse"));
  ASSERT_EQ(events.size(), 7u);
  simdjson::ondemand::parser json;
  std::vector<bool> hold;
  std::vector<bool> output;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    simdjson::padded_string padded(events[i].data);
    const auto f = classify_event(json, padded);
    ASSERT_TRUE(f.object) << i;
    EXPECT_FALSE(f.error) << i;
    EXPECT_FALSE(f.usage_only) << i;  // `"usage": null` is not a usage chunk
    hold.push_back(f.keeps_hold());
    output.push_back(f.output);
  }
  EXPECT_EQ(events.back().data, "[DONE]");
  // prompt_filter_results (choices: []) and the role chunk hold; text releases; the
  // annotation-only chunk carries no output; the filter's finish_reason is output (the end).
  EXPECT_EQ(hold, (std::vector<bool>{true, true, false, false, true, false}));
  EXPECT_EQ(output, (std::vector<bool>{false, false, true, true, false, true}));
}

}  // namespace
}  // namespace switchyard
