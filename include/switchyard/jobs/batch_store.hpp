#pragma once
// The Batch API's durable state in `data_dir/batches.db` (SQLite, WAL, prepared statements):
// files' metadata (their bytes are files in data_dir/files/), batches, and one row per input line
// with its result once recorded. A line's result and the batch's counters change in one
// transaction, so a restart never runs a recorded line again.

#include "switchyard/core/error.hpp"
#include "switchyard/jobs/batch_line.hpp"
#include "switchyard/jobs/batch_object.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace switchyard {

/// A line as validation found it: where it is in the input file.
struct batch_line_ref {
  std::int64_t line_no = 0;  // 1-based, as BatchError.line counts
  std::string custom_id;
  std::uint64_t offset = 0;  // byte offset of the line in the input file
  std::uint32_t length = 0;  // without the newline
};

/// A line's recorded result.
struct batch_line_result {
  std::int64_t line_no = 0;
  bool ok = false;     // true: output file; false: error file
  std::string output;  // the output or error file's line (BatchRequestOutput JSON)
  batch_usage usage;
  double cost_usd = 0;
};

/// Thread-safe: every call takes the store's lock (SQLite calls are short; none runs on a
/// worker's loop — the API runs on the admin executor, the runner on its own thread).
class batch_store {
 public:
  /// Opens (creating) the database at `path`.
  static result<std::unique_ptr<batch_store>> open(const std::string& path);
  ~batch_store();
  batch_store(const batch_store&) = delete;
  batch_store& operator=(const batch_store&) = delete;

  result<void> add_file(const file_record& f);
  result<std::optional<file_record>> file(std::string_view id);
  /// Files, newest first (or oldest first with `ascending`), after the file `after` ("" = from
  /// the start), at most `limit`, of `purpose` ("" = any).
  result<std::vector<file_record>> files(std::string_view purpose, std::string_view after,
                                         std::size_t limit, bool ascending);
  /// False when there was no such file.
  result<bool> delete_file(std::string_view id);

  result<void> add_batch(const batch_record& b);
  result<std::optional<batch_record>> batch(std::string_view id);
  /// Batches newest first, after the batch `after` ("" = from the newest), at most `limit`.
  result<std::vector<batch_record>> batches(std::string_view after, std::size_t limit);
  /// Ids of the batches not in a terminal status, oldest first (what the runner resumes).
  result<std::vector<std::string>> unfinished();
  /// Writes every member of `b` but the counters, which only `record` changes.
  result<void> save_batch(const batch_record& b);
  /// Sets the status (and its timestamp column) only while the batch is in `from`; false when it
  /// was not (another actor moved it first).
  result<bool> move_batch(std::string_view id, batch_status from, batch_status to, std::int64_t at);

  /// Removes the lines of a batch (validation starting over after a restart).
  result<void> clear_lines(std::string_view batch_id);
  /// Adds lines in one transaction; the line numbers whose custom_id was already taken in this
  /// batch (not added).
  result<std::vector<std::int64_t>> add_lines(std::string_view batch_id,
                                              const std::vector<batch_line_ref>& lines);
  /// Lines without a result, in line order, after line `after_line`, at most `limit`.
  result<std::vector<batch_line_ref>> pending(std::string_view batch_id, std::int64_t after_line,
                                              std::size_t limit);
  /// Records a line's result and adds it to the batch's counters, in one transaction; false
  /// (nothing changed) when the line already had one.
  result<bool> record(std::string_view batch_id, const batch_line_result& r);
  /// Calls `fn(line)` for each recorded output (`ok`) or error line, in line order, a page at a
  /// time (bounded memory, the lock released between pages).
  result<void> for_each_result(std::string_view batch_id, bool ok,
                               const std::function<result<void>(std::string_view)>& fn);

 private:
  batch_store() = default;
  result<void> prepare();
  std::mutex mutex_;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard
