#include "switchyard/core/json_text.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

TEST(json_text, escapes_quotes_backslashes_and_controls) {
  std::string out;
  append_json_escaped(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\u000a\\u0001");
}

TEST(json_text, every_byte_round_trips_through_a_json_parser) {
  std::string text;
  for (int c = 1; c < 0x80; ++c) {
    text.push_back(static_cast<char>(c));
  }
  text += "caf\xc3\xa9 \xe2\x82\xac";  // UTF-8 passes through unchanged
  std::string literal = "\"";
  append_json_escaped(literal, text);
  literal += "\"";
  auto v = boost::json::parse(literal);
  EXPECT_EQ(v.as_string(), text);
}

}  // namespace
}  // namespace switchyard
