#include "switchyard/experiments/prompt_template.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace switchyard {
namespace {

using strings = std::map<std::string, std::string, std::less<>>;

// A lookup over a fixed map, standing in for the request's `metadata` object.
prompt_template::lookup_fn from(const strings& metadata) {
  return [&metadata](std::string_view name) -> std::optional<std::string_view> {
    const auto it = metadata.find(name);
    if (it == metadata.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

prompt_template parsed(std::string_view text) {
  auto t = prompt_template::parse(text);
  EXPECT_TRUE(t) << text;
  return t ? std::move(*t) : prompt_template{};
}

std::string render(std::string_view text, const strings& metadata, const strings& defaults = {}) {
  const auto r = parsed(text).render(from(metadata), defaults, "p@v1");
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : "";
}

TEST(prompt_template, fills_variables_from_lookup) {
  EXPECT_EQ(
      render("Summarize for {{audience}} in {{ lang }}.", {{"audience", "kids"}, {"lang", "fr"}}),
      "Summarize for kids in fr.");
}

TEST(prompt_template, falls_back_to_defaults_and_lookup_wins) {
  const strings defaults{{"audience", "adults"}, {"lang", "en"}};
  EXPECT_EQ(render("{{audience}}/{{lang}}", {}, defaults), "adults/en");
  EXPECT_EQ(render("{{audience}}/{{lang}}", {{"lang", "de"}}, defaults), "adults/de");
  // An empty value is a value: it does not fall back.
  EXPECT_EQ(render("[{{lang}}]", {{"lang", ""}}, defaults), "[]");
}

TEST(prompt_template, missing_variable_names_prompt_and_metadata_field) {
  const prompt_template t = parsed("Write for {{audience}}: {{input}}");
  const strings metadata{{"input", "text"}};
  const auto r = t.render(from(metadata), {}, "summarizer@v2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
  EXPECT_EQ(r.error().param, "metadata.audience");
  EXPECT_EQ(r.error().message,
            "prompt `summarizer@v2` needs variable `audience`: send it in metadata.audience");
}

TEST(prompt_template, input_is_just_a_variable_and_values_are_not_reparsed) {
  EXPECT_EQ(render("{{input}}", {{"input", "hello {{audience}}"}}), "hello {{audience}}");
}

TEST(prompt_template, single_braces_and_stray_closers_are_literal) {
  EXPECT_EQ(render(R"(Reply as JSON: {"a": {{x}}} or }} or { })", {{"x", "1"}}),
            R"(Reply as JSON: {"a": 1} or }} or { })");
  EXPECT_EQ(render("no placeholders at all", {}), "no placeholders at all");
  EXPECT_EQ(render("", {}), "");
}

TEST(prompt_template, adjacent_placeholders_and_repeats) {
  const prompt_template t = parsed("{{a}}{{b}}{{a}}-{{ b.c-d_e }}");
  EXPECT_EQ(t.variables(), (std::vector<std::string>{"a", "b", "b.c-d_e"}));
  const strings metadata{{"a", "1"}, {"b", "2"}, {"b.c-d_e", "3"}};
  EXPECT_EQ(*t.render(from(metadata), {}, "p"), "121-3");
  EXPECT_EQ(t.text(), "{{a}}{{b}}{{a}}-{{ b.c-d_e }}");
}

TEST(prompt_template, render_to_appends_and_leaves_output_alone_on_error) {
  const prompt_template t = parsed("Hi {{name}}!");
  std::string out = R"({"content":")";
  const strings metadata{{"name", "Ada"}};
  ASSERT_TRUE(t.render_to(out, from(metadata), {}, "p"));
  EXPECT_EQ(out, R"({"content":"Hi Ada!)");
  ASSERT_FALSE(t.render_to(out, from({}), {}, "p"));
  EXPECT_EQ(out, R"({"content":"Hi Ada!)");
  // No lookup at all (a request without metadata): defaults only.
  std::string plain;
  ASSERT_TRUE(t.render_to(plain, nullptr, {{"name", "you"}}, "p"));
  EXPECT_EQ(plain, "Hi you!");
}

TEST(prompt_template, many_variables) {
  std::string text;
  strings metadata;
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    text += "{{v" + std::to_string(i) + "}},";
    metadata["v" + std::to_string(i)] = std::to_string(i * i);
    expected += std::to_string(i * i) + ",";
  }
  EXPECT_EQ(render(text, metadata), expected);
}

TEST(prompt_template, parse_errors_name_the_offset) {
  const auto message = [](std::string_view text) {
    const auto r = prompt_template::parse(text);
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_EQ(message("Hello there {{audience"), "unclosed {{ at offset 12");
  EXPECT_EQ(message("ab {{}} cd"), "empty variable name at offset 3");
  EXPECT_EQ(message("{{   }}"), "empty variable name at offset 0");
  EXPECT_EQ(message("{{a b}}"), "invalid variable name `a b` at offset 0");
  EXPECT_EQ(message("x{{9lives}}"), "invalid variable name `9lives` at offset 1");
  EXPECT_EQ(message("{{ok}} {{$x}}"), "invalid variable name `$x` at offset 7");
  EXPECT_EQ(message("{{{x}}}"), "invalid variable name `{x` at offset 0");
  const auto r = prompt_template::parse("{{");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_request);
}

TEST(prompt_template, content_hash_is_sha256_hex) {
  EXPECT_EQ(content_hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(content_hash(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Both expected outputs below were produced by GNU diff 3.8:
// `diff -u --label summarizer@v1 --label summarizer@v2 v1.txt v2.txt`.
constexpr std::string_view v1 = R"(You are a helpful assistant that summarizes documents.

Audience: {{audience}}
Tone: neutral

Rules:
1. Keep it short.
2. Do not invent facts.
3. Cite the section you used.
4. Use plain words.

Format:
- one title line
- three bullet points
- a closing sentence

Document:
{{input}}
)";

constexpr std::string_view v2 = R"(You are a helpful assistant that summarizes documents.

Audience: {{ audience }}
Tone: {{tone}}

Rules:
1. Keep it short.
2. Do not invent facts.
3. Cite the section you used.
4. Use plain words.

Format:
- one title line
- five bullet points

Example:
- Title: Q3 results

Document:
{{input}}
)";

TEST(prompt_template, unified_diff_matches_diff_u_with_two_hunks) {
  EXPECT_EQ(unified_diff(v1, v2, "summarizer@v1", "summarizer@v2"), R"(--- summarizer@v1
+++ summarizer@v2
@@ -1,7 +1,7 @@
 You are a helpful assistant that summarizes documents.
 
-Audience: {{audience}}
-Tone: neutral
+Audience: {{ audience }}
+Tone: {{tone}}
 
 Rules:
 1. Keep it short.
@@ -11,8 +11,10 @@
 
 Format:
 - one title line
-- three bullet points
-- a closing sentence
+- five bullet points
+
+Example:
+- Title: Q3 results
 
 Document:
 {{input}}
)");
}

TEST(prompt_template, unified_diff_inserted_paragraph_sits_where_diff_u_puts_it) {
  const std::string_view a = "Intro.\n\nRules:\n- a\n\nEnd.\n";
  const std::string_view b = "Intro.\n\nRules:\n- a\n\nNote: be kind.\n\nEnd.\n";
  EXPECT_EQ(unified_diff(a, b, "p1", "p2"),
            "--- p1\n+++ p2\n@@ -3,4 +3,6 @@\n Rules:\n - a\n \n+Note: be kind.\n+\n End.\n");
  EXPECT_EQ(unified_diff(b, a, "p2", "p1"),
            "--- p2\n+++ p1\n@@ -3,6 +3,4 @@\n Rules:\n - a\n \n-Note: be kind.\n-\n End.\n");
}

TEST(prompt_template, unified_diff_missing_final_newline_and_empty_sides) {
  EXPECT_EQ(unified_diff("Be brief.\nAnswer in {{lang}}.", "Be brief.\nAnswer in {{lang}}.\n", "n1",
                         "n2"),
            "--- n1\n+++ n2\n@@ -1,2 +1,2 @@\n Be brief.\n-Answer in {{lang}}.\n"
            "\\ No newline at end of file\n+Answer in {{lang}}.\n");
  EXPECT_EQ(unified_diff("", "y\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1 @@\n+y\n");
  EXPECT_EQ(unified_diff("y\n", "", "a", "b"), "--- a\n+++ b\n@@ -1 +0,0 @@\n-y\n");
}

TEST(prompt_template, unified_diff_equal_inputs_give_empty_string) {
  EXPECT_EQ(unified_diff(v1, v1, "a", "b"), "");
  EXPECT_EQ(unified_diff("", "", "a", "b"), "");
}

TEST(prompt_template, unified_diff_refuses_more_than_5000_lines) {
  std::string big;
  for (int i = 0; i < 5001; ++i) {
    big += "line " + std::to_string(i) + "\n";
  }
  const std::string note = unified_diff(big, "x\n", "old", "new");
  EXPECT_EQ(note, "diff not shown: old has 5001 lines and new has 1 (limit 5000)\n");
  // 5000 lines on each side are still diffed.
  std::string a;
  std::string b;
  for (int i = 0; i < 5000; ++i) {
    a += "a" + std::to_string(i) + "\n";
    b += (i == 2500 ? "changed" : "a" + std::to_string(i)) + "\n";
  }
  EXPECT_EQ(
      unified_diff(a, b, "a", "b"),
      "--- a\n+++ b\n@@ -2498,7 +2498,7 @@\n a2497\n a2498\n a2499\n-a2500\n+changed\n a2501\n"
      " a2502\n a2503\n");
}

}  // namespace
}  // namespace switchyard
