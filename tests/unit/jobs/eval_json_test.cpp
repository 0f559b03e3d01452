#include "switchyard/jobs/eval_json.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

namespace json = boost::json;

TEST(EvalJson, PathParsesAndFinds) {
  auto v = json::parse(R"({"a":{"b":[{"c":1},{"c":"two"}]},"x y":true})");
  auto p = parse_json_path("$.a.b[1].c");
  ASSERT_TRUE(p);
  ASSERT_NE(at_json_path(v, *p), nullptr);
  EXPECT_EQ(*at_json_path(v, *p), json::value("two"));
  auto q = parse_json_path("$['x y']");
  ASSERT_TRUE(q);
  EXPECT_EQ(*at_json_path(v, *q), json::value(true));
  EXPECT_EQ(at_json_path(v, *parse_json_path("$.a.b[5]")), nullptr);
  EXPECT_EQ(at_json_path(v, *parse_json_path("$.a.nope")), nullptr);
  EXPECT_EQ(at_json_path(v, *parse_json_path("$")), &v);
  for (const char* bad : {"", "a.b", "$.", "$..a", "$[x]", "$[1", "$['a]", "$a"}) {
    EXPECT_FALSE(parse_json_path(bad)) << bad;
  }
}

TEST(EvalJson, EqualityByValue) {
  EXPECT_TRUE(json_equal(json::parse("1"), json::parse("1.0")));
  EXPECT_TRUE(json_equal(json::parse(R"({"a":1,"b":[2]})"), json::parse(R"({"b":[2.0],"a":1})")));
  EXPECT_FALSE(json_equal(json::parse("[1,2]"), json::parse("[2,1]")));
  EXPECT_FALSE(json_equal(json::parse(R"("1")"), json::parse("1")));
  EXPECT_TRUE(json_equal(json::parse("18446744073709551615"), json::parse("18446744073709551615")));
}

TEST(EvalJson, SchemaSubset) {
  auto schema = json::parse(R"({
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
      "name": {"type": "string", "minLength": 2, "maxLength": 5},
      "age": {"type": "integer", "minimum": 0, "maximum": 150},
      "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1},
      "ratio": {"type": ["number", "null"], "exclusiveMaximum": 1}
    },
    "additionalProperties": false
  })");
  ASSERT_FALSE(schema_problem(schema));
  EXPECT_FALSE(schema_violation(schema, json::parse(R"({"name":"ab","tags":["a"],"age":3})")));
  EXPECT_FALSE(schema_violation(schema, json::parse(R"({"name":"ab","tags":["a"],"ratio":null})")));
  auto why = [&](const char* doc) {
    return schema_violation(schema, json::parse(doc)).value_or("");
  };
  EXPECT_EQ(why(R"({"tags":["a"]})"), "$: member `name` is required");
  EXPECT_EQ(why(R"({"name":"a","tags":["a"]})"), "$.name: must have at least 2 characters");
  EXPECT_EQ(why(R"({"name":"ab","tags":["c"]})"), R"($.tags[0]: must be one of ["a","b"])");
  EXPECT_EQ(why(R"({"name":"ab","tags":[]})"), "$.tags: must have at least 1 items");
  EXPECT_EQ(why(R"({"name":"ab","tags":["a"],"age":1.5})"), R"($.age: must be of type "integer")");
  EXPECT_EQ(why(R"({"name":"ab","tags":["a"],"age":-1})"), "$.age: must be ≥ 0");
  EXPECT_EQ(why(R"({"name":"ab","tags":["a"],"ratio":1})"), "$.ratio: must be < 1");
  EXPECT_EQ(why(R"({"name":"ab","tags":["a"],"extra":1})"), "$.extra: not allowed");
  EXPECT_EQ(why(R"([1])"), R"($: must be of type "object")");
  // Lengths count characters, not bytes: "ééé" is 3 characters (6 bytes).
  EXPECT_FALSE(schema_violation(schema, json::parse(R"({"name":"ééé","tags":["a"]})")));
}

TEST(EvalJson, SchemaProblemsNameTheKeyword) {
  EXPECT_TRUE(schema_problem(json::parse(R"({"properties":{"a":{"pattern":"x"}}})"))
                  .value_or("")
                  .starts_with("properties.a.pattern: unsupported keyword `pattern`"));
  EXPECT_TRUE(schema_problem(json::parse(R"({"type":"text"})")));
  EXPECT_TRUE(schema_problem(json::parse(R"({"required":"a"})")));
  EXPECT_TRUE(schema_problem(json::parse(R"({"minLength":-1})")));
  EXPECT_TRUE(schema_problem(json::parse(R"([1])")));
  EXPECT_FALSE(schema_problem(json::parse(R"({"title":"t","description":"d","items":true})")));
}

}  // namespace
}  // namespace switchyard
