#pragma once
// The Batch API's state behind the HTTP handlers (http/batches_api.cpp): the store (SQLite in
// data_dir, or the shared Redis with `store.type: redis`) and the runner. Handlers run on the
// admin executor.

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/jobs/batch_runner.hpp"
#include "switchyard/jobs/batch_store.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace switchyard {

class config_snapshot;
class redis_client;
namespace metrics {
class registry;
}

class batch_service {
 public:
  /// Opens data_dir/batches.db and data_dir/files/ (creating them), or with `redis` (the
  /// shared store's connection, `store.type: redis`) the Redis store under store.key_prefix;
  /// registers `switchyard_batch_lines_total{status}` in `registry` (may be null in tests).
  static result<std::unique_ptr<batch_service>> open(const boot_config& cfg,
                                                     const config_snapshot* snapshot,
                                                     metrics::registry* registry,
                                                     std::shared_ptr<redis_client> redis = {});

  /// Stores an uploaded file from a `multipart/form-data` body (fields `file` and `purpose`).
  result<file_record> upload(std::string_view content_type, std::string_view body);
  /// The bytes of a stored file from `offset`, at most content_piece_bytes (streamed a piece at
  /// a time); "" at the end.
  result<std::string> content_piece(const file_record& f, std::uint64_t offset);
  /// Deletes a file's row and bytes; false when it did not exist.
  result<bool> remove_file(std::string_view id);

  /// Creates a batch from a CreateBatchRequest JSON body; `authorization` is the caller's.
  result<batch_record> create(std::string_view body, std::string_view authorization);
  /// Cancels a batch (see can_cancel); errc::not_found, errc::conflict.
  result<batch_record> cancel(std::string_view id);

  batch_store& store() noexcept { return *store_; }
  batch_runner& runner() noexcept { return *runner_; }

 private:
  batch_service() = default;
  batches_config cfg_;
  std::unique_ptr<batch_store> store_;
  std::unique_ptr<batch_runner> runner_;
};

}  // namespace switchyard
