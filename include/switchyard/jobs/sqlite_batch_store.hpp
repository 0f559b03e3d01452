#pragma once
// The Batch API's state for one replica (store.type sqlite): `data_dir/batches.db` (SQLite, WAL,
// prepared statements) for files' metadata, batches and one row per input line with its result,
// and the files' bytes as files in `data_dir/files/`. A line's result and the batch's counters
// change in one transaction.

#include "switchyard/jobs/batch_store.hpp"

#include <mutex>

namespace switchyard {

/// Every call takes the store's lock (SQLite calls are short).
class sqlite_batch_store final : public batch_store {
 public:
  /// Opens (creating) the database at `path`; file bytes live in `files_dir` (created).
  static result<std::unique_ptr<sqlite_batch_store>> open(const std::string& path,
                                                          std::string files_dir);
  ~sqlite_batch_store() override;
  sqlite_batch_store(const sqlite_batch_store&) = delete;
  sqlite_batch_store& operator=(const sqlite_batch_store&) = delete;

  result<void> add_file(const file_record& f) override;
  result<std::optional<file_record>> file(std::string_view id) override;
  result<std::vector<file_record>> files(std::string_view purpose, std::string_view after,
                                         std::size_t limit, bool ascending) override;
  result<bool> delete_file(std::string_view id) override;

  result<std::unique_ptr<content_writer>> write_content(std::string_view id) override;
  result<std::string> read_content(std::string_view id, std::uint64_t offset,
                                   std::size_t max) override;
  result<void> remove_content(std::string_view id) override;
  result<int> open_local(std::string_view id) override;

  result<void> add_batch(const batch_record& b) override;
  result<std::optional<batch_record>> batch(std::string_view id) override;
  result<std::vector<batch_record>> batches(std::string_view after, std::size_t limit) override;
  result<std::vector<std::string>> unfinished() override;
  result<void> save_batch(const batch_record& b) override;
  result<bool> move_batch(std::string_view id, batch_status from, batch_status to,
                          std::int64_t at) override;

  result<void> clear_lines(std::string_view batch_id) override;
  result<std::vector<std::int64_t>> add_lines(std::string_view batch_id,
                                              const std::vector<batch_line_ref>& lines) override;
  result<std::vector<batch_line_ref>> pending(std::string_view batch_id, std::int64_t after_line,
                                              std::size_t limit) override;
  result<bool> record(std::string_view batch_id, const batch_line_result& r) override;
  result<void> for_each_result(std::string_view batch_id, bool ok,
                               const std::function<result<void>(std::string_view)>& fn) override;

  result<bool> claim_lease(std::string_view, std::string_view, std::chrono::milliseconds) override {
    return true;  // one process owns the database: its one runner runs every batch
  }
  result<void> release_lease(std::string_view, std::string_view) override { return {}; }

  /// Where file `id`'s bytes are.
  std::string path_of(std::string_view id) const;

 private:
  sqlite_batch_store() = default;
  result<void> prepare();
  std::mutex mutex_;
  std::string files_dir_;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard
