// batch_runner on its own, over the SQLite store wrapped in one that fails the calls a test
// chooses — what a Redis blip between two lease renewals, or a full disk, does to a run: a
// line's result that cannot be recorded, a page of pending lines that cannot be read. The lines
// go to a counting fake on 127.0.0.1 port 0 standing in for the gateway's listener. A batch must
// then neither lose a line nor end short: it resumes from what the store holds.
#include "batch_client.hpp"

#include "switchyard/jobs/batch_runner.hpp"
#include "switchyard/jobs/sqlite_batch_store.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <ctime>
#include <map>

namespace switchyard::test {
namespace {

namespace json = boost::json;

result<void> unavailable() {
  return make_error(errc::unavailable, "the test's store does not answer");
}

// Forwards every call to the SQLite store; the record() calls numbered in [fail_from,
// fail_from + fail_count) and the pending() calls numbered `fail_pending_at` fail instead.
class flaky_store final : public batch_store {
 public:
  explicit flaky_store(std::unique_ptr<batch_store> inner) : inner_(std::move(inner)) {}
  std::atomic<int> fail_from{-1}, fail_count{0}, fail_pending_at{-1};
  std::atomic<int> records{0}, pendings{0}, failed{0};

  result<void> add_file(const file_record& f) override { return inner_->add_file(f); }
  result<std::optional<file_record>> file(std::string_view id) override { return inner_->file(id); }
  result<std::vector<file_record>> files(std::string_view purpose, std::string_view after,
                                         std::size_t limit, bool ascending) override {
    return inner_->files(purpose, after, limit, ascending);
  }
  result<bool> delete_file(std::string_view id) override { return inner_->delete_file(id); }
  result<std::unique_ptr<content_writer>> write_content(std::string_view id) override {
    return inner_->write_content(id);
  }
  result<std::string> read_content(std::string_view id, std::uint64_t offset,
                                   std::size_t max) override {
    return inner_->read_content(id, offset, max);
  }
  result<void> remove_content(std::string_view id) override { return inner_->remove_content(id); }
  result<int> open_local(std::string_view id) override { return inner_->open_local(id); }
  result<void> add_batch(const batch_record& b) override { return inner_->add_batch(b); }
  result<std::optional<batch_record>> batch(std::string_view id) override {
    return inner_->batch(id);
  }
  result<std::vector<batch_record>> batches(std::string_view after, std::size_t limit) override {
    return inner_->batches(after, limit);
  }
  result<std::vector<std::string>> unfinished() override { return inner_->unfinished(); }
  result<void> save_batch(const batch_record& b) override { return inner_->save_batch(b); }
  result<bool> move_batch(std::string_view id, batch_status from, batch_status to,
                          std::int64_t at) override {
    return inner_->move_batch(id, from, to, at);
  }
  result<void> clear_lines(std::string_view id) override { return inner_->clear_lines(id); }
  result<std::vector<std::int64_t>> add_lines(std::string_view id,
                                              const std::vector<batch_line_ref>& l) override {
    return inner_->add_lines(id, l);
  }
  result<std::vector<batch_line_ref>> pending(std::string_view id, std::int64_t after,
                                              std::size_t limit) override {
    if (pendings++ == fail_pending_at.load()) {
      ++failed;
      return unavailable().error();
    }
    return inner_->pending(id, after, limit);
  }
  result<bool> record(std::string_view id, const batch_line_result& r) override {
    const int n = records++;
    if (n >= fail_from.load() && n < fail_from.load() + fail_count.load()) {
      ++failed;
      return unavailable().error();
    }
    return inner_->record(id, r);
  }
  result<void> for_each_result(std::string_view id, bool ok,
                               const std::function<result<void>(std::string_view)>& fn) override {
    return inner_->for_each_result(id, ok, fn);
  }
  result<bool> claim_lease(std::string_view id, std::string_view owner,
                           std::chrono::milliseconds ttl) override {
    return inner_->claim_lease(id, owner, ttl);
  }
  result<void> release_lease(std::string_view id, std::string_view owner) override {
    return inner_->release_lease(id, owner);
  }

 private:
  std::unique_ptr<batch_store> inner_;
};

class batch_runner_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = sqlite_batch_store::open(dir.path + "/batches.db", dir.path + "/files");
    ASSERT_TRUE(s) << s.error().message;
    store = std::make_unique<flaky_store>(std::move(*s));
    cfg.concurrency = 4;
    cfg.poll_interval = std::chrono::milliseconds(20);
    cfg.retry_base = std::chrono::milliseconds(10);
    cfg.retry_cap = std::chrono::milliseconds(100);
  }
  // A batch of `n` chat lines (custom_ids "<prefix>0"…), stored as the API stores one.
  std::string add_batch(const std::string& prefix, int n) {
    std::string bytes;
    for (int i = 0; i < n; ++i) {
      bytes += line(prefix + std::to_string(i)) + "\n";
    }
    auto w = store->write_content("file-in");
    EXPECT_TRUE(w && (*w)->append(bytes) && (*w)->commit());
    EXPECT_TRUE(store->add_file({"file-in", bytes.size(), 1, "in.jsonl", "batch"}));
    batch_record b;
    b.id = "batch_" + prefix;
    b.endpoint = "/v1/chat/completions";
    b.input_file_id = "file-in";
    b.created_at = 1;
    b.expires_at = std::time(nullptr) + 86400;
    EXPECT_TRUE(store->add_batch(b));
    return b.id;
  }
  // Waits for a terminal status; the batch as stored.
  batch_record wait_done(const std::string& id) {
    batch_record last;
    EXPECT_TRUE(eventually(
        [&] {
          auto b = store->batch(id);
          if (b && *b) {
            last = **b;
          }
          return is_terminal(last.status);
        },
        30s))
        << "batch still " << to_string(last.status);
    return last;
  }
  // custom_id -> how often it is in the output file.
  std::map<std::string, int> output(const std::string& id) {
    std::map<std::string, int> out;
    EXPECT_TRUE(store->for_each_result(id, true, [&](std::string_view l) -> result<void> {
      ++out[std::string(json::parse(l).at("custom_id").as_string())];
      return {};
    }));
    return out;
  }
  temp_dir dir;
  counting_upstream up;
  std::unique_ptr<flaky_store> store;
  batches_config cfg;
};

TEST_F(batch_runner_test, lines_whose_result_could_not_be_recorded_run_again_and_none_is_lost) {
  constexpr int n = 60;
  const auto id = add_batch("r-", n);
  store->fail_count = 3;
  store->fail_from = 10;  // the 11th to 13th results meet a store that does not answer
  batch_runner runner(cfg, *store, nullptr, nullptr);
  runner.start("127.0.0.1", up.fake.port());
  const auto b = wait_done(id);
  EXPECT_EQ(to_string(b.status), "completed");
  EXPECT_EQ(b.completed, n);
  EXPECT_EQ(store->failed.load(), 3);
  const auto out = output(id);
  EXPECT_EQ(out.size(), static_cast<std::size_t>(n));
  int twice = 0;
  for (int i = 0; i < n; ++i) {
    const std::string cid = "r-" + std::to_string(i);
    EXPECT_EQ(out.count(cid) ? out.at(cid) : 0, 1) << cid;
    const int k = up.calls_of(cid);
    EXPECT_GE(k, 1) << cid;
    twice += k == 2 ? 1 : 0;
  }
  EXPECT_EQ(twice, 3) << "exactly the lines whose record failed ran again";
  runner.stop(steady_clock::now() + 5s);
}

TEST_F(batch_runner_test,
       a_page_of_pending_lines_that_cannot_be_read_does_not_end_the_batch_short) {
  constexpr int n = 600;  // three pages of pending lines (256 a page)
  const auto id = add_batch("p-", n);
  store->fail_pending_at = 1;  // the second page
  batch_runner runner(cfg, *store, nullptr, nullptr);
  runner.start("127.0.0.1", up.fake.port());
  const auto b = wait_done(id);
  EXPECT_EQ(to_string(b.status), "completed");
  EXPECT_EQ(b.completed, n);
  EXPECT_EQ(store->failed.load(), 1);
  EXPECT_EQ(output(id).size(), static_cast<std::size_t>(n));
  EXPECT_EQ(up.total.load(), n) << "no line ran twice: none had been sent unrecorded";
  runner.stop(steady_clock::now() + 5s);
}

}  // namespace
}  // namespace switchyard::test
