#include "switchyard/http/ui_files.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

TEST(ui_files, if_none_match_compares_entity_tags_weakly) {
  const std::string tag = R"("abc123")";
  EXPECT_TRUE(if_none_match(R"("abc123")", tag));
  EXPECT_TRUE(if_none_match(R"(W/"abc123")", tag));  // weak comparison (RFC 9110 §13.1.2)
  EXPECT_TRUE(if_none_match(R"("x", W/"y" ,  "abc123")", tag));
  EXPECT_TRUE(if_none_match(" * ", tag));
  EXPECT_FALSE(if_none_match(R"("abc12")", tag));
  EXPECT_FALSE(if_none_match("abc123", tag));  // unquoted: not an entity tag
  EXPECT_FALSE(if_none_match(R"("abc123)", tag));
  EXPECT_FALSE(if_none_match("", tag));
  EXPECT_FALSE(if_none_match(",,", tag));
  EXPECT_FALSE(if_none_match(R"("abc123")", "abc123"));  // our own tag must be well formed
}

TEST(ui_files, the_table_is_sorted_and_every_file_has_a_type_and_a_tag) {
  const auto files = embedded_ui_files();
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_FALSE(files[i].content_type.empty()) << files[i].name;
    EXPECT_TRUE(files[i].etag.starts_with('"') && files[i].etag.ends_with('"')) << files[i].name;
    EXPECT_FALSE(files[i].body.empty()) << files[i].name;
    if (i > 0) {
      EXPECT_LT(files[i - 1].name, files[i].name);
    }
    EXPECT_EQ(find_ui_file(files[i].name), &files[i]);
  }
  EXPECT_EQ(find_ui_file("nope.js"), nullptr);
  EXPECT_EQ(find_ui_file(""), nullptr);
}

#ifndef SWITCHYARD_UI_OFF
TEST(ui_files, the_dashboard_and_uplot_are_embedded) {
  const ui_file* index = find_ui_file("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<html"), std::string_view::npos);
  const ui_file* uplot = find_ui_file("uPlot.iife.min.js");
  ASSERT_NE(uplot, nullptr);
  EXPECT_EQ(uplot->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(find_ui_file("uPlot.min.css"), nullptr);
}
#endif

}  // namespace
}  // namespace switchyard
