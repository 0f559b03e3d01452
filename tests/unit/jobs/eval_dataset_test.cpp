#include "switchyard/jobs/eval_dataset.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <random>

namespace switchyard {
namespace {

bool has_problem(const eval_dataset& d, std::size_t line, std::string_view part) {
  for (const auto& p : d.problems) {
    if (p.line == line && p.message.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(EvalDataset, ParsesCasesAndSkipsBlankAndCommentLines) {
  auto d = parse_dataset(
      "// golden set\n"
      R"({"id":"a","messages":[{"role":"user","content":"2+2?"}],"assert":[{"type":"equals","value":"4"}]})"
      "\n\n"
      R"({"vars":{"topic":"cats","n":3},"expected":"meow"})"
      "\r\n"
      R"({"vars":{"q":"x"},"assert":[{"type":"contains-all","value":["a","b"],"metric":"recall"},{"type":"icontains","value":["x","y"],"mode":"any"}]})");
  ASSERT_TRUE(d.problems.empty()) << describe_problems(d.problems);
  ASSERT_EQ(d.cases.size(), 3u);
  EXPECT_EQ(d.cases[0].id, "a");
  EXPECT_EQ(d.cases[0].line, 2u);
  EXPECT_TRUE(d.cases[0].messages.is_array());
  EXPECT_EQ(d.cases[1].id, "line-4");
  EXPECT_TRUE(d.cases[1].messages.is_null());
  // An expected value without assertions is checked with equals.
  ASSERT_EQ(d.cases[1].asserts.size(), 1u);
  EXPECT_EQ(d.cases[1].asserts[0].kind, assertion_kind::equals);
  EXPECT_EQ(d.cases[1].asserts[0].value, boost::json::value("meow"));
  const auto& c = d.cases[2];
  ASSERT_EQ(c.asserts.size(), 2u);
  EXPECT_EQ(c.asserts[0].kind, assertion_kind::contains);
  EXPECT_TRUE(c.asserts[0].all);
  EXPECT_EQ(c.asserts[0].metric, "recall");
  EXPECT_EQ(c.asserts[1].kind, assertion_kind::icontains);
  EXPECT_FALSE(c.asserts[1].all);
}

TEST(EvalDataset, ReportsEveryBadLineByNumber) {
  auto d = parse_dataset(
      R"({"messages":[{"role":"user","content":"ok"}],"assert":[{"type":"is-json"}]})"
      "\n"
      R"({"messages": [ )"  // line 2: not JSON
      "\n"
      R"({"messages":[{"role":"user","content":"x"}],"assert":[{"type":"contains-some","value":"x"}]})"
      "\n"
      R"({"assert":[{"type":"is-json"}]})"  // line 4: no input
      "\n"
      R"({"vars":{"a":1},"assert":[{"type":"regex","value":"(unclosed"}]})"
      "\n"
      R"({"vars":{"a":1},"assert":[{"type":"json-schema","value":{"pattern":"x"}}]})"
      "\n"
      R"({"vars":{"a":{"b":1}},"assert":[{"type":"max-latency","value":-1}]})"
      "\n"
      R"([1,2])"
      "\n"
      R"({"vars":{},"bogus":1,"assert":[{"type":"json-path","path":"a.b","value":1}]})"
      "\n"
      R"({"vars":{}})"
      "\n"
      R"({"vars":{},"assert":[{"type":"similar"},{"type":"llm-rubric","value":"good","threshold":2}]})"
      "\n");
  EXPECT_EQ(d.cases.size(), 1u);
  EXPECT_TRUE(has_problem(d, 2, "not valid JSON")) << describe_problems(d.problems);
  EXPECT_TRUE(has_problem(d, 3, "unknown assertion type `contains-some`"));
  EXPECT_TRUE(has_problem(d, 4, "needs messages or vars"));
  EXPECT_TRUE(has_problem(d, 5, "assert[0].value: does not compile"));
  EXPECT_TRUE(has_problem(d, 6, "unsupported keyword `pattern`"));
  EXPECT_TRUE(has_problem(d, 7, "vars.a: must be a text"));
  EXPECT_TRUE(has_problem(d, 7, "limit in milliseconds"));
  EXPECT_TRUE(has_problem(d, 8, "must be a JSON object"));
  EXPECT_TRUE(has_problem(d, 9, "bogus: unknown member"));
  EXPECT_TRUE(has_problem(d, 9, "assert[0].path"));
  EXPECT_TRUE(has_problem(d, 10, "needs assertions or an expected value"));
  EXPECT_TRUE(has_problem(d, 11, "assert[0].value: must be the reference text"));
  EXPECT_TRUE(has_problem(d, 11, "assert[1].threshold: must be a score in [0, 1]"));
  EXPECT_NE(describe_problems(d.problems).find("line 3: assert[0].type: unknown assertion type"),
            std::string::npos);
}

TEST(EvalDataset, LimitsAreEnforced) {
  dataset_limits l;
  l.max_cases = 2;
  l.max_line_bytes = 200;
  l.max_pattern_bytes = 8;
  const std::string ok = R"({"vars":{"a":"b"},"expected":"x"})";
  auto d = parse_dataset(ok + "\n" + ok + "\n" + ok + "\n", l);
  EXPECT_EQ(d.cases.size(), 2u);
  EXPECT_TRUE(has_problem(d, 3, "more than 2 cases"));
  auto long_line =
      parse_dataset(R"({"vars":{"a":")" + std::string(300, 'x') + R"("},"expected":"x"})", l);
  EXPECT_TRUE(has_problem(long_line, 1, "longer than 200 bytes"));
  auto long_re =
      parse_dataset(R"({"vars":{},"assert":[{"type":"regex","value":"aaaaaaaaaaaa"}]})", l);
  EXPECT_TRUE(has_problem(long_re, 1, "longer than 8 bytes"));
  EXPECT_TRUE(has_problem(parse_dataset("\n\n"), 0, "no cases"));
}

// The same case with members reordered and whitespace anywhere JSON allows it parses the same.
TEST(EvalDataset, IndependentOfMemberOrderAndWhitespace) {
  boost::json::object c{
      {"id", "k"},
      {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", "hi"}}}},
      {"assert", boost::json::array{boost::json::object{{"type", "contains"}, {"value", "h"}},
                                    boost::json::object{{"value", 5}, {"type", "max-tokens"}}}}};
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::string text = boost::json::serialize(c);
    std::string spaced;
    bool in_string = false;
    for (char ch : text) {
      if (ch == '"' && (spaced.empty() || spaced.back() != '\\')) {
        in_string = !in_string;
      }
      spaced.push_back(ch);
      if (!in_string && (ch == ',' || ch == ':' || ch == '{' || ch == '[') && rng() % 2) {
        spaced.append(rng() % 3 + 1, rng() % 2 ? ' ' : '\t');
      }
    }
    auto d = parse_dataset(spaced);
    ASSERT_TRUE(d.problems.empty()) << spaced << "\n" << describe_problems(d.problems);
    ASSERT_EQ(d.cases[0].asserts.size(), 2u);
    EXPECT_EQ(d.cases[0].asserts[1].threshold, 5);
    // Reorder the case's members for the next round.
    boost::json::object r;
    std::vector<std::string> keys;
    for (const auto& [k, v] : c) {
      keys.emplace_back(k);
    }
    std::shuffle(keys.begin(), keys.end(), rng);
    for (const auto& k : keys) {
      r[k] = c[k];
    }
    c = std::move(r);
  }
}

}  // namespace
}  // namespace switchyard
