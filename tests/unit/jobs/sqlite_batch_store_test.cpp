// What only the SQLite store has: its state outlives the process (data_dir/batches.db and
// data_dir/files reopened). The behaviour both stores share is one suite over both,
// tests/integration/batch_store_contract_test.cpp.
#include "switchyard/jobs/sqlite_batch_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <stdlib.h>

namespace switchyard {
namespace {

class sqlite_batch_store_test : public ::testing::Test {
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

TEST_F(sqlite_batch_store_test, survives_reopening) {
  ASSERT_TRUE(store_->add_batch(sample("batch_a")));
  ASSERT_TRUE(store_->add_lines("batch_a", {{1, "x", 0, 5}}));
  ASSERT_TRUE(*store_->record("batch_a", {1, true, "{}", {}, 0}));
  store_.reset();
  auto s = sqlite_batch_store::open(dir_ + "/batches.db", dir_ + "/files");
  ASSERT_TRUE(s);
  EXPECT_TRUE((*s)->pending("batch_a", 0, 10)->empty());
  EXPECT_EQ((*(*s)->batch("batch_a"))->completed, 1u);
}

TEST_F(sqlite_batch_store_test, file_bytes_survive_reopening) {
  {
    auto w = store_->write_content("file-1");
    ASSERT_TRUE(w && (*w)->append("line one\n") && (*w)->commit());
  }
  ASSERT_TRUE(store_->add_file({"file-1", 9, 1, "in.jsonl", "batch"}));
  store_.reset();
  auto s = sqlite_batch_store::open(dir_ + "/batches.db", dir_ + "/files");
  ASSERT_TRUE(s);
  EXPECT_EQ(*(*s)->read_content("file-1", 0, 100), "line one\n");
  EXPECT_EQ((*(*s)->file("file-1"))->bytes, 9u);
}

}  // namespace
}  // namespace switchyard
