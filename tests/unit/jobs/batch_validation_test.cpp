#include "switchyard/jobs/batch_validation.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdio>
#include <memory>

namespace switchyard {
namespace {

namespace json = boost::json;

struct closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// A FILE over `text` (fmemopen: no disk).
std::unique_ptr<std::FILE, closer> memfile(std::string& text) {
  return std::unique_ptr<std::FILE, closer>(fmemopen(text.data(), text.size(), "rb"));
}

std::string req(const std::string& id, const std::string& model = "m") {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"model":")" + model + R"("}})";
}

TEST(line_reader, offsets_long_lines_and_a_last_line_without_newline) {
  std::string text = "ab\n" + std::string(20, 'x') + "\n\ncd";
  auto f = memfile(text);
  line_reader r(f.get(), 10);
  auto a = r.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "ab");
  EXPECT_EQ(a->offset, 0u);
  auto b = r.next();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->too_long);
  EXPECT_TRUE(b->text.empty());
  auto blank = r.next();
  ASSERT_TRUE(blank);
  EXPECT_EQ(blank->offset, 24u);
  auto d = r.next();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->text, "cd");
  EXPECT_EQ(d->offset, 25u);
  EXPECT_FALSE(r.next());
}

TEST(batch_validation, valid_file_gives_refs_with_offsets_and_crlf_trimmed) {
  std::string text = req("a") + "\r\n" + req("b") + "\n\n";
  auto f = memfile(text);
  line_reader r(f.get(), 1 << 20);
  batch_validation v("/v1/chat/completions", 100, 1 << 20);
  std::vector<batch_line_ref> refs;
  while (auto l = r.next()) {
    if (auto ref = v.add(*l)) {
      refs.push_back(*ref);
    }
  }
  v.finish();
  EXPECT_FALSE(v.failed());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].line_no, 1);
  EXPECT_EQ(refs[0].length, req("a").size());  // the CR is not part of the request
  EXPECT_EQ(refs[1].line_no, 2);
  EXPECT_EQ(refs[1].offset, req("a").size() + 2);
  EXPECT_EQ(v.requests(), 2u);
  EXPECT_EQ(v.model(), "m");
}

TEST(batch_validation, errors_name_their_lines_and_are_bounded) {
  batch_validation v("/v1/chat/completions", 1000, 64);
  v.add({0, req("a"), false});
  v.add({0, "nope", false});
  v.add({0, req("c", "other"), false});
  v.add({0, "", true});
  v.duplicate(1);
  v.finish();
  ASSERT_TRUE(v.failed());
  auto errors = json::parse(v.errors_json()).as_array();
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].at("code").as_string(), "invalid_json_line");
  EXPECT_EQ(errors[0].at("line").as_int64(), 2);
  EXPECT_EQ(errors[1].at("code").as_string(), "mismatched_model");
  EXPECT_EQ(errors[1].at("param").as_string(), "body.model");
  EXPECT_EQ(errors[2].at("code").as_string(), "line_too_long");
  EXPECT_EQ(errors[3].at("code").as_string(), "duplicate_custom_id");

  batch_validation many("/v1/chat/completions", 1000, 64);
  for (int i = 0; i < 250; ++i) {
    many.add({0, "bad", false});
  }
  auto listed = json::parse(many.errors_json()).as_array();
  ASSERT_EQ(listed.size(), max_listed_errors + 1);
  EXPECT_EQ(listed.back().at("code").as_string(), "too_many_errors");
  EXPECT_TRUE(listed.back().at("line").is_null());
}

TEST(batch_validation, empty_file_and_too_many_lines) {
  batch_validation empty("/v1/embeddings", 10, 64);
  empty.add({0, "", false});
  empty.finish();
  ASSERT_TRUE(empty.failed());
  EXPECT_EQ(json::parse(empty.errors_json()).at(0).at("code").as_string(), "empty_file");

  batch_validation big("/v1/chat/completions", 2, 1 << 20);
  for (int i = 0; i < 5 && !big.stopped(); ++i) {
    big.add({0, req(std::to_string(i)), false});
  }
  EXPECT_TRUE(big.stopped());
  EXPECT_EQ(json::parse(big.errors_json()).at(0).at("code").as_string(), "too_many_requests");
}

}  // namespace
}  // namespace switchyard
