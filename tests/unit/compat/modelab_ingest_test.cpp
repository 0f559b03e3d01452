#include "switchyard/compat/modelab_ingest.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace switchyard {
namespace {

constexpr std::int64_t now = 1'700'000'000;

// Records as modelab's SDK builds them (seeds.md §2: field names; Python's json.dumps spacing,
// datetime.isoformat() timestamps, uuid4 ids, config_json/metadata_json as json.dumps text).
const char* assignments =
    R"([{"assignment_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "flag_name": "checkout-flow", "variant_name": "treatment", "user_id": "user-17", "session_id": null, "config_json": "{\"model\": \"gpt-4o-mini\"}", "assigned_at": "2024-05-01T13:00:00.123456"}])";
const char* executions =
    R"([{"assignment_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "latency_ms": 812.5, "input_tokens": 120, "output_tokens": 48, "cost": 0.00042, "error": null, "metadata_json": "{}", "recorded_at": "2024-05-01T13:00:01.5+00:00"}])";
const char* events =
    R"([{"event_id": "9c5b94b1-35ad-49bb-b118-8e8fc24abf80", "assignment_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "event_type": "custom", "event_name": "copied", "payload_json": "{\"chars\": 120}", "created_at": "2024-05-01T13:00:02Z"}])";

TEST(ModelabIngest, ParsesWhatTheSdkSends) {
  auto a = parse_modelab_batch(modelab_kind::assignments, assignments, {}, now);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->assignments.size(), 1u);
  EXPECT_EQ(a->assignments[0].flag_name, "checkout-flow");
  EXPECT_EQ(a->assignments[0].session_id, "");
  EXPECT_EQ(a->assignments[0].config_json, R"({"model": "gpt-4o-mini"})");
  EXPECT_EQ(a->assignments[0].assigned_unix, 1714568400);
  auto x = parse_modelab_batch(modelab_kind::executions, executions, {}, now);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(*x->executions[0].input_tokens, 120);
  EXPECT_DOUBLE_EQ(*x->executions[0].cost, 0.00042);
  EXPECT_TRUE(x->executions[0].error.empty());
  EXPECT_EQ(x->executions[0].recorded_unix, 1714568401);
  auto e = parse_modelab_batch(modelab_kind::events, events, {}, now);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->events[0].event_name, "copied");
}

TEST(ModelabIngest, ExecutionKeyIgnoresOrderAndWhitespace) {
  const std::string reordered = R"([ {"recorded_at":"2024-05-01T13:00:01.5+00:00","error":null,
      "cost":4.2e-4, "output_tokens":48,"input_tokens":120,"latency_ms":812.50,
      "metadata_json":"{}","assignment_id":"1b4e28ba-2fa1-41d2-883f-0016d3cca427"} ])";
  auto a = parse_modelab_batch(modelab_kind::executions, executions, {}, now);
  auto b = parse_modelab_batch(modelab_kind::executions, reordered, {}, now);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->executions[0].key, b->executions[0].key);
  auto c = parse_modelab_batch(
      modelab_kind::executions,
      R"([{"assignment_id":"1b4e28ba-2fa1-41d2-883f-0016d3cca427","latency_ms":813}])", {}, now);
  ASSERT_TRUE(c);
  EXPECT_NE(a->executions[0].key, c->executions[0].key);
}

TEST(ModelabIngest, RandomWhitespaceBetweenTokensParsesTheSame) {
  std::mt19937 rng(7);
  auto base = parse_modelab_batch(modelab_kind::events, events, {}, now);
  ASSERT_TRUE(base);
  for (int round = 0; round < 50; ++round) {
    std::string spaced;
    bool in_string = false;
    for (char ch : std::string(events)) {
      if (ch == '"' && (spaced.empty() || spaced.back() != '\\')) {
        in_string = !in_string;
      }
      if (!in_string && (ch == ',' || ch == ':' || ch == '[' || ch == '{')) {
        spaced += ch;
        spaced.append(rng() % 4, " \n\t\r"[rng() % 4]);
        continue;
      }
      spaced += ch;
    }
    auto p = parse_modelab_batch(modelab_kind::events, spaced, {}, now);
    ASSERT_TRUE(p) << spaced;
    EXPECT_EQ(p->events[0].event_id, base->events[0].event_id);
    EXPECT_EQ(p->events[0].payload_json, base->events[0].payload_json);
  }
}

std::string error_of(modelab_kind k, const std::string& body, modelab_ingest_limits l = {}) {
  auto r = parse_modelab_batch(k, body, l, now);
  return r ? "" : r.error().message;
}

TEST(ModelabIngest, MalformedBatchesSayWhere) {
  EXPECT_NE(error_of(modelab_kind::events, "[{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(modelab_kind::events, R"({"event_id": "x"})").find("JSON array"),
            std::string::npos);
  EXPECT_NE(error_of(modelab_kind::events, "[1]").find("[0]: each record must be a JSON object"),
            std::string::npos);
  EXPECT_EQ(error_of(modelab_kind::events,
                     R"([{"event_id":"e","assignment_id":"a","event_type":"success"},
                         {"event_id":"e2","assignment_id":"a","event_type":"clicked"}])"),
            "[1].event_type: must be success, failure or custom");
  EXPECT_EQ(error_of(modelab_kind::assignments,
                     R"([{"assignment_id":"a","flag_name":"f","user_id":"u"}])"),
            "[0].variant_name: is required");
  EXPECT_EQ(error_of(modelab_kind::executions, R"([{"assignment_id":"a","input_tokens":-3}])"),
            "[0].input_tokens: must be an integer ≥ 0 or null");
  EXPECT_EQ(error_of(modelab_kind::executions, R"([{"assignment_id":"a","latency_ms":"fast"}])"),
            "[0].latency_ms: must be a number or null");
  EXPECT_NE(
      error_of(modelab_kind::executions, R"([{"assignment_id":"a","recorded_at":"yesterday"}])")
          .find("[0].recorded_at: must be an ISO 8601"),
      std::string::npos);
  EXPECT_NE(error_of(modelab_kind::assignments,
                     R"([{"assignment_id":"a","flag_name":"f","variant_name":"v","user_id":")" +
                         std::string(300, 'x') + R"("}])",
                     {10, 256})
                .find("longer than 256 bytes"),
            std::string::npos);
}

TEST(ModelabIngest, OversizedBatchIsBodyTooLarge) {
  std::string body = "[";
  for (int i = 0; i < 51; ++i) {
    body += std::string(i ? "," : "") + R"({"event_id":"e)" + std::to_string(i) +
            R"(","assignment_id":"a","event_type":"success"})";
  }
  body += "]";
  auto r = parse_modelab_batch(modelab_kind::events, body, {50, 1024}, now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::body_too_large);
  EXPECT_NE(r.error().message.find("at most 50"), std::string::npos);
  EXPECT_TRUE(parse_modelab_batch(modelab_kind::events, "[]", {50, 1024}, now));
}

TEST(ModelabIngest, IntegerUserIdsAndMissingTimesAreAccepted) {
  auto a = parse_modelab_batch(
      modelab_kind::assignments,
      R"([{"assignment_id":"a","flag_name":"f","variant_name":"v","user_id":42}])", {}, now);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->assignments[0].user_id, "42");
  EXPECT_EQ(a->assignments[0].assigned_unix, now);
}

TEST(ModelabIngest, Iso8601) {
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00"), 0);
  EXPECT_EQ(parse_iso8601("2024-05-01T13:00:00Z"), 1714568400);
  EXPECT_EQ(parse_iso8601("2024-05-01 15:00:00.999999+02:00"), 1714568400);
  EXPECT_EQ(parse_iso8601("2024-05-01T08:30:00-0430"), 1714568400);
  EXPECT_EQ(parse_iso8601("2024-05-01T13:00"), 1714568400);
  EXPECT_FALSE(parse_iso8601("2024-02-30T00:00:00"));
  EXPECT_FALSE(parse_iso8601("2024-05-01"));
  EXPECT_FALSE(parse_iso8601("2024-05-01T25:00:00"));
  EXPECT_FALSE(parse_iso8601("2024-05-01T13:00:00.Z"));
  EXPECT_FALSE(parse_iso8601("2024-05-01T13:00:00+"));
}

}  // namespace
}  // namespace switchyard
