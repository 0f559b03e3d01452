// The batch_store contract (include/switchyard/jobs/batch_store.hpp), one suite run against both
// implementations: sqlite_batch_store in a temporary data_dir and redis_batch_store on a real
// redis-server started by the test. What the Batch API and the runner rely on: files and their
// bytes (in pieces, larger than one piece, replaced atomically), batches and their compare-and-set
// moves, lines with duplicate custom_ids refused, results recorded exactly once with the
// counters, and the per-batch lease.
#include "harness.hpp"
#include "redis_server.hpp"
#include "switchyard/jobs/redis_batch_store.hpp"
#include "switchyard/jobs/sqlite_batch_store.hpp"
#include "switchyard/store/redis_client.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// One redis-server for the whole suite (a fresh key prefix per test keeps them apart).
redis_server& shared_redis() {
  static redis_server server;
  return server;
}

class batch_store_contract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      auto s = sqlite_batch_store::open(dir_.path + "/batches.db", dir_.path + "/files");
      ASSERT_TRUE(s) << s.error().message;
      store_ = std::move(*s);
    } else {
      client_ = redis_client::start(*parse_redis_url(shared_redis().url()), duration(1000));
      ASSERT_TRUE(client_->wait_connected(duration(5000)));
      static int n = 0;
      redis_batch_store_options o;
      o.key_prefix = "contract" + std::to_string(++n) + ":";
      o.timeout = duration(2000);
      o.spool_dir = dir_.path + "/spool";
      auto s = redis_batch_store::open(client_, o);
      ASSERT_TRUE(s) << s.error().message;
      store_ = std::move(*s);
    }
  }
  static batch_record sample(const std::string& id) {
    batch_record b;
    b.id = id;
    b.endpoint = "/v1/chat/completions";
    b.input_file_id = "file-1";
    b.created_at = 100;
    b.expires_at = 100 + 86400;
    b.authorization = "Bearer sk-x";
    return b;
  }
  // The file's whole content through the piecewise reader.
  std::string content(const std::string& id) {
    std::string out;
    auto r = for_each_content_piece(*store_, id, 0, [&](std::string_view p) -> result<void> {
      EXPECT_LE(p.size(), content_piece_bytes);
      out.append(p);
      return {};
    });
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return out;
  }
  temp_dir dir_;
  std::shared_ptr<redis_client> client_;
  std::unique_ptr<batch_store> store_;
};

TEST_P(batch_store_contract, files_round_trip_and_list_in_order) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->add_file({"file-" + std::to_string(i), 10u + static_cast<unsigned>(i), i,
                                  "f.jsonl", i == 4 ? "batch_output" : "batch"}));
  }
  auto f = store_->file("file-2");
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->bytes, 12u);
  EXPECT_EQ((*f)->filename, "f.jsonl");
  EXPECT_EQ((*f)->purpose, "batch");
  auto desc = store_->files("", "", 10, false);
  ASSERT_TRUE(desc);
  ASSERT_EQ(desc->size(), 5u);
  EXPECT_EQ(desc->front().id, "file-4");
  auto batch_only = store_->files("batch", "file-3", 10, false);
  ASSERT_TRUE(batch_only);
  ASSERT_EQ(batch_only->size(), 3u);
  EXPECT_EQ(batch_only->front().id, "file-2");
  auto asc = store_->files("", "file-1", 2, true);
  ASSERT_TRUE(asc);
  ASSERT_EQ(asc->size(), 2u);
  EXPECT_EQ(asc->front().id, "file-2");
  EXPECT_EQ(asc->back().id, "file-3");
  EXPECT_TRUE(store_->files("", "file-unknown", 10, false)->empty());
  EXPECT_TRUE(*store_->delete_file("file-2"));
  EXPECT_FALSE(*store_->delete_file("file-2"));
  EXPECT_FALSE(store_->file("file-2")->has_value());
}

TEST_P(batch_store_contract, content_larger_than_a_piece_round_trips_and_reads_from_offsets) {
  std::string bytes;
  for (int i = 0; bytes.size() < 3 * content_piece_bytes + 1234; ++i) {
    bytes += "{\"custom_id\":\"line-" + std::to_string(i) + "\"}\n";
  }
  {
    auto w = store_->write_content("file-big");
    ASSERT_TRUE(w);
    // Appends of odd sizes: the writer cuts pieces itself.
    for (std::size_t at = 0; at < bytes.size(); at += 70'001) {
      ASSERT_TRUE((*w)->append(std::string_view(bytes).substr(at, 70'001)));
    }
    ASSERT_TRUE((*w)->commit());
  }
  EXPECT_EQ(content("file-big"), bytes);
  const std::uint64_t off = content_piece_bytes + 17;
  auto part = store_->read_content("file-big", off, 100);
  ASSERT_TRUE(part);
  EXPECT_EQ(*part, bytes.substr(off, 100));
  auto past = store_->read_content("file-big", bytes.size(), 100);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());
  auto local = store_->open_local("file-big");
  ASSERT_TRUE(local) << local.error().message;
  std::string copy(bytes.size() + 1, '\0');
  EXPECT_EQ(::pread(*local, copy.data(), copy.size(), 0), static_cast<ssize_t>(bytes.size()));
  copy.resize(bytes.size());
  EXPECT_TRUE(copy == bytes) << "the local bytes differ";
  ::close(*local);
  if (GetParam() == "redis") {  // the private copy was unlinked when opened: nothing is left
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path + "/spool"));
  }
  ASSERT_TRUE(store_->remove_content("file-big"));
  auto gone = store_->read_content("file-big", 0, 10);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, errc::not_found);
}

TEST_P(batch_store_contract, uncommitted_content_is_invisible_and_a_commit_replaces_at_once) {
  {
    auto w = store_->write_content("file-x");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append("old\n"));
    ASSERT_TRUE((*w)->commit());
  }
  {
    auto w = store_->write_content("file-x");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(std::string(content_piece_bytes + 5, 'n')));
    EXPECT_EQ(content("file-x"), "old\n") << "nothing is readable before the commit";
  }  // destroyed uncommitted: discarded
  EXPECT_EQ(content("file-x"), "old\n");
  {
    auto w = store_->write_content("file-x");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append("new\n"));
    ASSERT_TRUE((*w)->commit());
  }
  EXPECT_EQ(content("file-x"), "new\n");
}

TEST_P(batch_store_contract, batch_round_trip_moves_and_unfinished) {
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
  EXPECT_EQ((*got)->status, batch_status::validating);
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
  c.output_file_id = "file-out";
  ASSERT_TRUE(store_->save_batch(c));
  EXPECT_EQ((**store_->batch("batch_b")).output_file_id, "file-out");
  EXPECT_EQ((**store_->batch("batch_b")).completed_at, 9);
  auto open = store_->unfinished();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front(), "batch_a");
  EXPECT_TRUE(*store_->move_batch("batch_a", batch_status::cancelling, batch_status::cancelled, 7));
  EXPECT_TRUE(store_->unfinished()->empty());
  EXPECT_FALSE(store_->batch("batch_unknown")->has_value());
}

TEST_P(batch_store_contract, lines_duplicates_pending_and_exactly_once_records) {
  ASSERT_TRUE(store_->add_batch(sample("batch_a")));
  std::vector<batch_line_ref> lines;
  for (int i = 1; i <= 10; ++i) {
    lines.push_back({i, "c " + std::to_string(i % 8), static_cast<std::uint64_t>(i * 10), 9});
  }
  auto dup = store_->add_lines("batch_a", lines);
  ASSERT_TRUE(dup);
  EXPECT_EQ(*dup, (std::vector<std::int64_t>{9, 10}));  // "c 1" and "c 2" again
  auto p = store_->pending("batch_a", 0, 3);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[2].line_no, 3);
  EXPECT_EQ((*p)[2].offset, 30u);
  EXPECT_EQ((*p)[2].length, 9u);
  EXPECT_EQ((*p)[2].custom_id, "c 3");  // a custom_id with a space survives
  batch_line_result ok{2, true, "{\"ok\":2}", {3, 4}, 0.5};
  EXPECT_TRUE(*store_->record("batch_a", ok));
  EXPECT_FALSE(*store_->record("batch_a", ok));  // a second result for the line changes nothing
  EXPECT_FALSE(*store_->record("batch_a", {99, true, "{}", {}, 0}));  // no such line
  EXPECT_TRUE(*store_->record("batch_a", {1, false, "{\"err\":1}", {}, 0}));
  EXPECT_TRUE(*store_->record("batch_a", {3, true, "{\"ok\":3}", {1, 1}, 0.25}));
  auto b = **store_->batch("batch_a");
  EXPECT_EQ(b.completed, 2u);
  EXPECT_EQ(b.failed, 1u);
  EXPECT_EQ(b.input_tokens, 4u);
  EXPECT_EQ(b.output_tokens, 5u);
  EXPECT_DOUBLE_EQ(b.cost_usd, 0.75);
  // save_batch leaves the counters alone (only record changes them).
  auto stale = b;
  stale.completed = 0;
  stale.status = batch_status::in_progress;
  ASSERT_TRUE(store_->save_batch(stale));
  EXPECT_EQ((**store_->batch("batch_a")).completed, 2u);
  std::vector<std::string> outs, errs;
  ASSERT_TRUE(store_->for_each_result("batch_a", true, [&](std::string_view l) -> result<void> {
    outs.emplace_back(l);
    return {};
  }));
  ASSERT_TRUE(store_->for_each_result("batch_a", false, [&](std::string_view l) -> result<void> {
    errs.emplace_back(l);
    return {};
  }));
  EXPECT_EQ(outs, (std::vector<std::string>{"{\"ok\":2}", "{\"ok\":3}"}));
  EXPECT_EQ(errs, (std::vector<std::string>{"{\"err\":1}"}));
  auto rest = store_->pending("batch_a", 0, 100);
  ASSERT_EQ(rest->size(), 5u);
  EXPECT_EQ(rest->front().line_no, 4);
  EXPECT_EQ(store_->pending("batch_a", 5, 100)->front().line_no, 6);
  ASSERT_TRUE(store_->clear_lines("batch_a"));
  EXPECT_TRUE(store_->pending("batch_a", 0, 100)->empty());
}

TEST_P(batch_store_contract, results_page_through_more_than_one_page_in_line_order) {
  ASSERT_TRUE(store_->add_batch(sample("batch_p")));
  std::vector<batch_line_ref> lines;
  for (int i = 1; i <= 700; ++i) {
    lines.push_back({i, "id-" + std::to_string(i), static_cast<std::uint64_t>(i), 1});
  }
  ASSERT_TRUE(store_->add_lines("batch_p", lines));
  for (int i = 700; i >= 1; --i) {  // recorded out of order
    ASSERT_TRUE(*store_->record("batch_p", {i, true, std::to_string(i), {}, 0}));
  }
  int expect = 1;
  ASSERT_TRUE(store_->for_each_result("batch_p", true, [&](std::string_view l) -> result<void> {
    EXPECT_EQ(l, std::to_string(expect));
    ++expect;
    return {};
  }));
  EXPECT_EQ(expect, 701);
}

TEST_P(batch_store_contract, a_lease_has_one_holder_until_released_or_expired) {
  ASSERT_TRUE(store_->add_batch(sample("batch_l")));
  EXPECT_TRUE(*store_->claim_lease("batch_l", "replica-a", 60s));
  EXPECT_TRUE(*store_->claim_lease("batch_l", "replica-a", 60s));  // a renewal
  if (GetParam() == "sqlite") {
    return;  // one replica, one runner: the lease is always granted
  }
  EXPECT_FALSE(*store_->claim_lease("batch_l", "replica-b", 60s));
  ASSERT_TRUE(store_->release_lease("batch_l", "replica-b"));  // not the holder: no effect
  EXPECT_FALSE(*store_->claim_lease("batch_l", "replica-b", 60s));
  ASSERT_TRUE(store_->release_lease("batch_l", "replica-a"));
  EXPECT_TRUE(*store_->claim_lease("batch_l", "replica-b", 200ms));
  // Expiry: the holder stops renewing; the next claim after the TTL wins (Redis expires the key).
  EXPECT_TRUE(eventually([&] { return *store_->claim_lease("batch_l", "replica-a", 60s); }, 5s));
}

INSTANTIATE_TEST_SUITE_P(stores, batch_store_contract, ::testing::Values("sqlite", "redis"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace switchyard::test
