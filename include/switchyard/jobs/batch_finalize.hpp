#pragma once
// The end of a batch (docs/batches.md): its output and error files written from the recorded
// results (a page at a time, the bytes through the store's content writer: bounded memory), and
// its final status. Safe to repeat after a restart or a takeover: the files' ids derive from the
// batch id and a commit replaces earlier bytes.

#include "switchyard/jobs/batch_store.hpp"

#include <string>
#include <string_view>

namespace switchyard {

/// The id of a batch's output (or error) file: derived from the batch id, so a finalization
/// that a restart repeats writes the same file again.
std::string batch_result_file_id(std::string_view batch_id, bool errors);

/// Writes the output and error files of `batch_id` (a file only when it has lines, as OpenAI
/// leaves the id null otherwise) and saves the batch in `final_status` (completed, expired or
/// cancelled) at `now`; in_progress → finalizing first unless cancelled.
result<void> finalize_batch(batch_store& store, std::string_view batch_id,
                            batch_status final_status, std::int64_t now);

}  // namespace switchyard
