#pragma once
// The Batch API's state in the shared Redis (store.type redis, docs/replicas.md): every replica
// answers for every file and batch, and any replica's runner can take over a batch whose runner
// died (its lease expired). Keys under `<key_prefix>bt:` (the layout is in docs/batches.md);
// file bytes as values of content_piece_bytes each, so that a 50,000-line file is no one giant
// value. Where the SQLite store uses a transaction a Lua script runs (a line's result with the
// counters; move_batch's compare-and-set; adding lines with their custom_id check).

#include "switchyard/jobs/batch_store.hpp"
#include "switchyard/store/redis_client.hpp"

#include <memory>

namespace switchyard {

struct redis_batch_store_options {
  std::string key_prefix = "switchyard:";
  duration timeout{2'000};  // every call (store.flush_timeout)
  std::string spool_dir;    // local copies of input files (data_dir/spool)
};

class redis_batch_store final : public batch_store {
 public:
  /// Creates the spool directory.
  static result<std::unique_ptr<redis_batch_store>> open(std::shared_ptr<redis_client> client,
                                                         redis_batch_store_options opts);

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

  /// SET NX PX, or PEXPIRE when `owner` holds it (one script).
  result<bool> claim_lease(std::string_view batch_id, std::string_view owner,
                           std::chrono::milliseconds ttl) override;
  result<void> release_lease(std::string_view batch_id, std::string_view owner) override;

  /// Key of `kind` for `id` (tests look at the layout).
  std::string key(std::string_view kind, std::string_view id = {}) const;

  // Used by the content writer.
  result<redis_reply> call(std::vector<std::string> argv);
  result<redis_reply> eval(const redis_script& s, std::vector<std::string> keys,
                           std::vector<std::string> args);

 private:
  redis_batch_store(std::shared_ptr<redis_client> client, redis_batch_store_options opts);
  result<std::vector<batch_record>> load_batches(const std::vector<std::string>& ids);
  std::shared_ptr<redis_client> client_;
  redis_batch_store_options opts_;
};

}  // namespace switchyard
