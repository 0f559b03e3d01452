#include "switchyard/jobs/eval_assertions.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

// The first assertion of a one-case dataset line with `assert_json` as its only assertion.
eval_assertion parse_one(const std::string& assert_json) {
  auto d = parse_dataset(R"({"vars":{},"expected":{"a":1},"assert":[)" + assert_json + "]}");
  EXPECT_TRUE(d.problems.empty()) << describe_problems(d.problems);
  return d.cases.empty() ? eval_assertion{} : d.cases[0].asserts.at(0);
}

eval_output output(std::string text) {
  eval_output o;
  o.ok = true;
  o.text = std::move(text);
  o.finish_reason = "stop";
  o.latency_ms = 120;
  o.completion_tokens = 12;
  o.prompt_tokens = 30;
  o.cost_usd = 0.002;
  return o;
}

bool passes(const std::string& a, const std::string& text) {
  return check_assertion(parse_one(a), output(text)).pass;
}

TEST(EvalAssertions, Equals) {
  EXPECT_TRUE(passes(R"({"type":"equals","value":"Paris"})", "  Paris\n"));
  EXPECT_FALSE(passes(R"({"type":"equals","value":"Paris"})", "paris"));
  // A JSON value compares parsed: member order and spacing do not matter.
  EXPECT_TRUE(
      passes(R"({"type":"equals","value":{"a":1,"b":[true]}})", R"({ "b" : [true], "a": 1.0 })"));
  EXPECT_FALSE(passes(R"({"type":"equals","value":{"a":1}})", R"({"a":2})"));
  // Without a value: the case's expected.
  EXPECT_TRUE(passes(R"({"type":"equals"})", R"({"a":1})"));
}

TEST(EvalAssertions, ContainsFamilies) {
  EXPECT_TRUE(passes(R"({"type":"contains","value":"cat"})", "a cat sat"));
  EXPECT_FALSE(passes(R"({"type":"contains","value":"Cat"})", "a cat sat"));
  EXPECT_TRUE(passes(R"({"type":"icontains","value":"Cat"})", "a cAT sat"));
  EXPECT_TRUE(passes(R"({"type":"contains-any","value":["dog","cat"]})", "a cat"));
  EXPECT_FALSE(passes(R"({"type":"contains-all","value":["dog","cat"]})", "a cat"));
  EXPECT_TRUE(passes(R"({"type":"contains","value":["dog","cat"],"mode":"all"})", "cat dog"));
  EXPECT_TRUE(passes(R"({"type":"icontains-all","value":["DOG","cat"]})", "Cat, Dog"));
  EXPECT_TRUE(passes(R"({"type":"not-contains","value":"sorry"})", "here it is"));
  EXPECT_FALSE(passes(R"({"type":"not-contains","value":["sorry","cannot"]})", "I cannot"));
  auto why = check_assertion(parse_one(R"({"type":"contains-all","value":["dog","cat"]})"),
                             output("a cat"));
  EXPECT_EQ(why.reason, R"(the output lacks "dog")");
}

TEST(EvalAssertions, Regex) {
  EXPECT_TRUE(passes(R"({"type":"regex","value":"^\\d{3}-\\d{4}$"})", "555-1234"));
  EXPECT_FALSE(passes(R"({"type":"regex","value":"^\\d{3}-\\d{4}$"})", "555-12345"));
  check_limits l;
  l.max_regex_input = 4;
  auto o = check_assertion(parse_one(R"({"type":"regex","value":"a"})"), output("aaaaa"), l);
  EXPECT_FALSE(o.pass);
  EXPECT_TRUE(o.error);
}

TEST(EvalAssertions, JsonKinds) {
  EXPECT_TRUE(passes(R"({"type":"is-json"})", "\n {\"a\": [1, 2]} \n"));
  EXPECT_FALSE(passes(R"({"type":"is-json"})", "{\"a\": 1} trailing"));
  EXPECT_FALSE(passes(R"({"type":"is-json"})", "```json\n{}\n```"));
  const std::string schema =
      R"({"type":"json-schema","value":{"type":"object","required":["n"],"properties":{"n":{"type":"integer","maximum":9}}}})";
  EXPECT_TRUE(passes(schema, R"({"n": 3})"));
  EXPECT_FALSE(passes(schema, R"({"n": 30})"));
  EXPECT_EQ(check_assertion(parse_one(schema), output(R"({"m":1})")).reason,
            "schema: $: member `n` is required");
  // is-json takes an optional schema too (Promptfoo).
  EXPECT_FALSE(passes(R"({"type":"is-json","value":{"type":"array"}})", "{}"));
  const std::string path = R"({"type":"json-path","path":"$.items[1].name","value":"b"})";
  EXPECT_TRUE(passes(path, R"({"items":[{"name":"a"},{"name":"b"}]})"));
  EXPECT_FALSE(passes(path, R"({"items":[{"name":"a"}]})"));
  EXPECT_FALSE(passes(path, "not json"));
  EXPECT_TRUE(passes(R"({"type":"json-path","path":"$.n","value":2})", R"({"n":2.0})"));
}

TEST(EvalAssertions, MeasuredLimits) {
  EXPECT_TRUE(passes(R"({"type":"finish-reason","value":"stop"})", "x"));
  EXPECT_FALSE(passes(R"({"type":"finish-reason","value":"length"})", "x"));
  EXPECT_TRUE(passes(R"({"type":"max-latency","value":120})", "x"));
  EXPECT_FALSE(passes(R"({"type":"max-latency","threshold":119})", "x"));
  EXPECT_TRUE(passes(R"({"type":"max-cost","value":0.002})", "x"));
  EXPECT_FALSE(passes(R"({"type":"max-cost","value":0.001})", "x"));
  EXPECT_TRUE(passes(R"({"type":"max-tokens","value":12})", "x"));
  EXPECT_FALSE(passes(R"({"type":"max-tokens","value":11})", "x"));
}

TEST(EvalAssertions, SimilarByCosine) {
  std::vector<double> a{1, 0, 0}, b{1, 1, 0}, c{0, 0, 1}, z{0, 0, 0};
  EXPECT_NEAR(cosine_similarity(a, a), 1, 1e-12);
  EXPECT_NEAR(cosine_similarity(a, b), 0.7071067811865476, 1e-12);
  EXPECT_EQ(cosine_similarity(a, c), 0);
  EXPECT_EQ(cosine_similarity(a, z), 0);
  EXPECT_EQ(cosine_similarity(a, std::vector<double>{1, 0}), 0);
  auto s = parse_one(R"({"type":"similar","value":"ref","threshold":0.7})");
  EXPECT_TRUE(similar_outcome(s, 0.71).pass);
  EXPECT_FALSE(similar_outcome(s, 0.69).pass);
  EXPECT_NEAR(similar_outcome(s, 0.69).score, 0.69, 1e-12);
  EXPECT_EQ(parse_one(R"({"type":"similar","value":"ref"})").threshold, 0.8);  // the default
}

TEST(EvalAssertions, JudgeAnswersParsedRobustly) {
  auto r = parse_one(R"({"type":"llm-rubric","value":"polite","threshold":0.7})");
  EXPECT_TRUE(judge_outcome(r, R"({"pass": true, "score": 0.9, "reason": "fine"})").pass);
  auto low = judge_outcome(r, R"({"score": 0.5, "reason": "rude"})");
  EXPECT_FALSE(low.pass);
  EXPECT_FALSE(low.error);
  EXPECT_NE(low.reason.find("rude"), std::string::npos);
  // Fenced, with prose around, and an earlier object that is not the verdict.
  EXPECT_TRUE(
      judge_outcome(r, "Sure! Example {\"x\":1}. Verdict:\n```json\n{\"score\":0.8}\n```").pass);
  EXPECT_TRUE(judge_outcome(r, R"({"pass":true})").pass);  // pass alone = score 1
  EXPECT_FALSE(judge_outcome(r, R"({"pass":false})").pass);
  // A judge failure is an error, never a pass.
  for (const char* bad : {"I think it is good.", R"({"score": 7})", R"({"score": "high"})", "{",
                          R"({"reason": "no verdict"})", ""}) {
    auto o = judge_outcome(r, bad);
    EXPECT_FALSE(o.pass) << bad;
    EXPECT_TRUE(o.error) << bad;
  }
  auto m = boost::json::parse(judge_messages("be polite", "hello", "say hi"));
  ASSERT_TRUE(m.is_array());
  EXPECT_EQ(m.as_array().size(), 2u);
  EXPECT_NE(std::string(m.as_array()[1].as_object().at("content").as_string()).find("be polite"),
            std::string::npos);
}

TEST(EvalAssertions, Labels) {
  EXPECT_EQ(assertion_label(parse_one(R"({"type":"contains-all","value":["a"]})")), "contains-all");
  EXPECT_EQ(assertion_label(parse_one(R"({"type":"contains","value":"a"})")), "contains");
  EXPECT_EQ(assertion_label(parse_one(R"({"type":"not-contains","value":"a"})")), "not-contains");
}

}  // namespace
}  // namespace switchyard
