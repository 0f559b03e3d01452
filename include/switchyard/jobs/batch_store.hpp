#pragma once
// The Batch API's durable state, behind one contract with two implementations chosen by
// `store.type` (docs/batches.md, docs/replicas.md): sqlite_batch_store (data_dir/batches.db and
// the bytes in data_dir/files/, one replica) and redis_batch_store (everything in the shared
// Redis, so every replica answers for every batch and any replica can finish one). The same
// typed test suite runs against both (tests/integration/batch_store_contract_test.cpp).
//
// The contract: files' metadata and bytes, batches, and one entry per input line with its
// result once recorded. A line's result and the batch's counters change together, exactly once,
// so a restart (or another replica) never counts a recorded line again.

#include "switchyard/core/error.hpp"
#include "switchyard/jobs/batch_line.hpp"
#include "switchyard/jobs/batch_object.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// Writes one file's bytes. Nothing is readable before commit(), which replaces any earlier
/// bytes of the same id at once; a writer destroyed uncommitted discards what it wrote.
class content_writer {
 public:
  virtual ~content_writer() = default;
  virtual result<void> append(std::string_view bytes) = 0;
  virtual result<void> commit() = 0;
};

/// The pieces a file's content is read (and streamed) in: a bound on the memory one read takes.
inline constexpr std::size_t content_piece_bytes = 256 * 1024;

/// Thread-safe. Calls block for at most the store's timeout (the API runs on the admin
/// executor, the runner on its own thread; never a worker's loop). A shared store that does not
/// answer fails the call with errc::unavailable (a 503 `store_unavailable` to API clients).
class batch_store {
 public:
  virtual ~batch_store() = default;

  virtual result<void> add_file(const file_record& f) = 0;
  virtual result<std::optional<file_record>> file(std::string_view id) = 0;
  /// Files, newest first (or oldest first with `ascending`), after the file `after` ("" = from
  /// the start), at most `limit`, of `purpose` ("" = any).
  virtual result<std::vector<file_record>> files(std::string_view purpose, std::string_view after,
                                                 std::size_t limit, bool ascending) = 0;
  /// False when there was no such file. The metadata only (see remove_content).
  virtual result<bool> delete_file(std::string_view id) = 0;

  /// A writer of file `id`'s bytes.
  virtual result<std::unique_ptr<content_writer>> write_content(std::string_view id) = 0;
  /// Up to `max` bytes of file `id` from `offset` (fewer at a piece's or the file's end; ""
  /// past the end); errc::not_found when the file has no bytes.
  virtual result<std::string> read_content(std::string_view id, std::uint64_t offset,
                                           std::size_t max) = 0;
  virtual result<void> remove_content(std::string_view id) = 0;
  /// A read-only descriptor on file `id`'s bytes for the runner's positioned reads; the caller
  /// closes it. The stored file itself (SQLite), or a private copy (Redis): written to the spool
  /// directory and unlinked at once, so it takes disk space only while open and no exit — a
  /// crash included — leaves a copy behind. errc::not_found when the file has no bytes.
  virtual result<int> open_local(std::string_view id) = 0;

  virtual result<void> add_batch(const batch_record& b) = 0;
  virtual result<std::optional<batch_record>> batch(std::string_view id) = 0;
  /// Batches newest first, after the batch `after` ("" = from the newest), at most `limit`.
  virtual result<std::vector<batch_record>> batches(std::string_view after, std::size_t limit) = 0;
  /// Ids of the batches not in a terminal status, oldest first (what the runner resumes).
  virtual result<std::vector<std::string>> unfinished() = 0;
  /// Writes every member of `b` but the counters, which only `record` changes.
  virtual result<void> save_batch(const batch_record& b) = 0;
  /// Sets the status (and its timestamp) only while the batch is in `from`; false when it was
  /// not (another actor moved it first): a compare-and-set.
  virtual result<bool> move_batch(std::string_view id, batch_status from, batch_status to,
                                  std::int64_t at) = 0;

  /// Removes the lines of a batch (validation starting over after a restart).
  virtual result<void> clear_lines(std::string_view batch_id) = 0;
  /// Adds lines atomically; the line numbers whose custom_id was already taken in this batch
  /// (not added).
  virtual result<std::vector<std::int64_t>> add_lines(std::string_view batch_id,
                                                      const std::vector<batch_line_ref>& lines) = 0;
  /// Lines without a result, in line order, after line `after_line`, at most `limit`.
  virtual result<std::vector<batch_line_ref>> pending(std::string_view batch_id,
                                                      std::int64_t after_line,
                                                      std::size_t limit) = 0;
  /// Records a line's result and adds it to the batch's counters, atomically; false (nothing
  /// changed) when the line already had one (or is no line of the batch).
  virtual result<bool> record(std::string_view batch_id, const batch_line_result& r) = 0;
  /// Calls `fn(line)` for each recorded output (`ok`) or error line, in line order, a page at a
  /// time (bounded memory).
  virtual result<void> for_each_result(std::string_view batch_id, bool ok,
                                       const std::function<result<void>(std::string_view)>& fn) = 0;

  /// Takes (or extends, when `owner` has it) the lease on running `batch_id` for `ttl`; false
  /// when another owner holds it. The SQLite store has one runner: always true.
  virtual result<bool> claim_lease(std::string_view batch_id, std::string_view owner,
                                   std::chrono::milliseconds ttl) = 0;
  /// Gives the lease up if `owner` holds it.
  virtual result<void> release_lease(std::string_view batch_id, std::string_view owner) = 0;
};

/// Reads file `id` from `offset` to its end a piece at a time (content_piece_bytes), calling
/// `fn(piece)` for each: bounded memory whatever the file's size.
result<void> for_each_content_piece(batch_store& store, std::string_view id, std::uint64_t offset,
                                    const std::function<result<void>(std::string_view)>& fn);

}  // namespace switchyard
