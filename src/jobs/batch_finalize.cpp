#include "switchyard/jobs/batch_finalize.hpp"

#include <spdlog/spdlog.h>

namespace switchyard {

std::string batch_result_file_id(std::string_view batch_id, bool errors) {
  std::string_view tail = batch_id.starts_with("batch_") ? batch_id.substr(6) : batch_id;
  return "file-" + std::string(tail) + (errors ? "-errors" : "-output");
}

result<void> finalize_batch(batch_store& store, std::string_view batch_id,
                            batch_status final_status, std::int64_t now) {
  if (final_status != batch_status::cancelled) {
    (void)store.move_batch(batch_id, batch_status::in_progress, batch_status::finalizing, now);
  }
  std::string ids[2];
  for (int errors = 0; errors < 2; ++errors) {
    const auto id = batch_result_file_id(batch_id, errors == 1);
    auto writer = store.write_content(id);
    if (!writer) {
      return writer.error();
    }
    std::uint64_t bytes = 0;
    auto w = store.for_each_result(batch_id, errors == 0, [&](std::string_view line) {
      if (auto a = (*writer)->append(line); !a) {
        return a;
      }
      bytes += line.size() + 1;
      return (*writer)->append("\n");
    });
    if (!w) {
      return w.error();
    }
    if (bytes == 0) {
      continue;  // no such lines: the file id stays null (the writer discards nothing)
    }
    if (auto c = (*writer)->commit(); !c) {
      return c.error();
    }
    (void)store.delete_file(id);  // a finalization repeated after a restart
    if (auto a = store.add_file(
            {id, bytes, now, std::string(batch_id) + (errors ? "_error.jsonl" : "_output.jsonl"),
             "batch_output"});
        !a) {
      return a.error();
    }
    ids[errors] = id;
  }
  auto rec = store.batch(batch_id);
  if (!rec || !*rec) {
    return rec ? result<void>(make_error(errc::internal, "batch vanished")) : rec.error();
  }
  auto b = std::move(**rec);
  b.output_file_id = ids[0];
  b.error_file_id = ids[1];
  b.status = final_status;
  switch (final_status) {
    case batch_status::completed:
      b.completed_at = now;
      break;
    case batch_status::expired:
      b.expired_at = now;
      break;
    default:
      b.cancelled_at = now;
      break;
  }
  if (!b.finalizing_at && final_status != batch_status::cancelled) {
    b.finalizing_at = now;
  }
  spdlog::info("batch {} {}: {} completed, {} failed of {}", b.id, to_string(b.status), b.completed,
               b.failed, b.total);
  return store.save_batch(b);
}

}  // namespace switchyard
