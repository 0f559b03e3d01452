#include "switchyard/jobs/sqlite_batch_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <stdlib.h>

namespace switchyard {
namespace {

class batch_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/switchyard-batches-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = sqlite_batch_store::open(dir_ + "/batches.db", dir_ + "/files");
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  batch_record sample(const std::string& id) {
    batch_record b;
    b.id = id;
    b.endpoint = "/v1/chat/completions";
    b.input_file_id = "file-1";
    b.created_at = 100;
    b.expires_at = 100 + 86400;
    b.authorization = "Bearer sk-x";
    return b;
  }
  std::string dir_;
  std::unique_ptr<batch_store> store_;
};

TEST_F(batch_store_test, files_round_trip_and_list_in_order) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->add_file({"file-" + std::to_string(i), 10u + static_cast<unsigned>(i), i,
                                  "f.jsonl", i == 4 ? "batch_output" : "batch"}));
  }
  auto f = store_->file("file-2");
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->bytes, 12u);
  auto desc = store_->files("", "", 10, false);
  ASSERT_TRUE(desc);
  EXPECT_EQ(desc->front().id, "file-4");
  auto batch_only = store_->files("batch", "file-3", 10, false);
  ASSERT_TRUE(batch_only);
  ASSERT_EQ(batch_only->size(), 3u);
  EXPECT_EQ(batch_only->front().id, "file-2");
  auto asc = store_->files("", "file-1", 2, true);
  ASSERT_TRUE(asc);
  ASSERT_EQ(asc->size(), 2u);
  EXPECT_EQ(asc->front().id, "file-2");
  EXPECT_TRUE(*store_->delete_file("file-2"));
  EXPECT_FALSE(*store_->delete_file("file-2"));
  EXPECT_FALSE(store_->file("file-2")->has_value());
}

TEST_F(batch_store_test, batch_round_trip_moves_and_unfinished) {
  auto b = sample("batch_a");
  b.metadata_json = R"({"k":"v"})";
  ASSERT_TRUE(store_->add_batch(b));
  ASSERT_TRUE(store_->add_batch(sample("batch_b")));
  auto got = store_->batch("batch_a");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->metadata_json, R"({"k":"v"})");
  EXPECT_EQ((*got)->expires_at, 100 + 86400);
  EXPECT_FALSE((*got)->in_progress_at);
  EXPECT_EQ((*got)->authorization, "Bearer sk-x");
  EXPECT_TRUE(
      *store_->move_batch("batch_a", batch_status::validating, batch_status::cancelling, 5));
  EXPECT_FALSE(
      *store_->move_batch("batch_a", batch_status::validating, batch_status::in_progress, 6));
  got = store_->batch("batch_a");
  EXPECT_EQ((*got)->status, batch_status::cancelling);
  EXPECT_EQ((*got)->cancelling_at, 5);
  auto list = store_->batches("", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->front().id, "batch_b");
  auto after = store_->batches("batch_b", 10);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().id, "batch_a");
  auto c = **store_->batch("batch_b");
  c.status = batch_status::completed;
  c.completed_at = 9;
  ASSERT_TRUE(store_->save_batch(c));
  auto open = store_->unfinished();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front(), "batch_a");
}

TEST_F(batch_store_test, lines_duplicates_pending_and_exactly_once_records) {
  ASSERT_TRUE(store_->add_batch(sample("batch_a")));
  std::vector<batch_line_ref> lines;
  for (int i = 1; i <= 10; ++i) {
    lines.push_back({i, "c" + std::to_string(i % 8), static_cast<std::uint64_t>(i * 10), 9});
  }
  auto dup = store_->add_lines("batch_a", lines);
  ASSERT_TRUE(dup);
  EXPECT_EQ(*dup, (std::vector<std::int64_t>{9, 10}));  // c1 and c2 again
  auto p = store_->pending("batch_a", 0, 3);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[2].line_no, 3);
  EXPECT_EQ((*p)[2].offset, 30u);
  batch_line_result ok{2, true, "{\"ok\":2}", {3, 4}, 0.5};
  EXPECT_TRUE(*store_->record("batch_a", ok));
  EXPECT_FALSE(*store_->record("batch_a", ok));  // a second result for the line is refused
  EXPECT_TRUE(*store_->record("batch_a", {1, false, "{\"err\":1}", {}, 0}));
  EXPECT_TRUE(*store_->record("batch_a", {3, true, "{\"ok\":3}", {1, 1}, 0.25}));
  auto b = **store_->batch("batch_a");
  EXPECT_EQ(b.completed, 2u);
  EXPECT_EQ(b.failed, 1u);
  EXPECT_EQ(b.input_tokens, 4u);
  EXPECT_DOUBLE_EQ(b.cost_usd, 0.75);
  std::vector<std::string> outs;
  ASSERT_TRUE(store_->for_each_result("batch_a", true, [&](std::string_view l) -> result<void> {
    outs.emplace_back(l);
    return {};
  }));
  EXPECT_EQ(outs, (std::vector<std::string>{"{\"ok\":2}", "{\"ok\":3}"}));
  auto rest = store_->pending("batch_a", 0, 100);
  ASSERT_EQ(rest->size(), 5u);
  EXPECT_EQ(rest->front().line_no, 4);
  ASSERT_TRUE(store_->clear_lines("batch_a"));
  EXPECT_TRUE(store_->pending("batch_a", 0, 100)->empty());
}

TEST_F(batch_store_test, survives_reopening) {
  ASSERT_TRUE(store_->add_batch(sample("batch_a")));
  ASSERT_TRUE(store_->add_lines("batch_a", {{1, "x", 0, 5}}));
  ASSERT_TRUE(*store_->record("batch_a", {1, true, "{}", {}, 0}));
  store_.reset();
  auto s = sqlite_batch_store::open(dir_ + "/batches.db", dir_ + "/files");
  ASSERT_TRUE(s);
  EXPECT_TRUE((*s)->pending("batch_a", 0, 10)->empty());
  EXPECT_EQ((*(*s)->batch("batch_a"))->completed, 1u);
}

}  // namespace
}  // namespace switchyard
