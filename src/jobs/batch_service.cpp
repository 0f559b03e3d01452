#include "switchyard/jobs/batch_service.hpp"

#include "switchyard/core/random.hpp"
#include "switchyard/jobs/multipart.hpp"
#include "switchyard/jobs/redis_batch_store.hpp"
#include "switchyard/jobs/sqlite_batch_store.hpp"
#include "switchyard/metrics/registry.hpp"

#include <boost/json.hpp>

#include <ctime>

namespace switchyard {

namespace {

namespace json = boost::json;

std::string random_id(std::string_view prefix) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(prefix);
  for (int w = 0; w < 2; ++w) {
    auto v = random_u64();
    for (int i = 0; i < 12; ++i, v >>= 4) {
      out.push_back(digits[v & 15]);
    }
  }
  return out;
}

// Bounds of a form field other than the file (`purpose`), and of metadata (OpenAI's Metadata:
// 16 pairs, keys up to 64 characters, values up to 512).
constexpr std::size_t max_field_bytes = 256;
constexpr std::size_t max_metadata_pairs = 16;
constexpr std::size_t max_metadata_key = 64;
constexpr std::size_t max_metadata_value = 512;
// How much of the body the multipart reader takes at a time (it works on any split).
constexpr std::size_t feed_piece = 64 * 1024;
// completion_window "24h": OpenAI's only value.
constexpr std::int64_t window_seconds = 24 * 3600;

}  // namespace

result<std::unique_ptr<batch_service>> batch_service::open(const boot_config& cfg,
                                                           const config_snapshot* snapshot,
                                                           metrics::registry* registry,
                                                           std::shared_ptr<redis_client> redis) {
  std::unique_ptr<batch_service> s(new batch_service());
  s->cfg_ = cfg.batches;
  if (redis) {
    auto store = redis_batch_store::open(
        std::move(redis), {cfg.store.key_prefix, cfg.store.flush_timeout, cfg.data_dir + "/spool"});
    if (!store) {
      return store.error();
    }
    s->store_ = std::move(*store);
  } else {
    auto store = sqlite_batch_store::open(cfg.data_dir + "/batches.db", cfg.data_dir + "/files");
    if (!store) {
      return store.error();
    }
    s->store_ = std::move(*store);
  }
  metrics::family<metrics::counter>* lines = nullptr;
  if (registry) {
    lines = &registry->add_counter("switchyard_batch_lines_total",
                                   "Batch API lines with a recorded result, by outcome "
                                   "(completed: a 2xx answer; failed: any other).",
                                   {"status"});
  }
  s->runner_ = std::make_unique<batch_runner>(cfg.batches, *s->store_, snapshot, lines);
  return s;
}

result<file_record> batch_service::upload(std::string_view content_type, std::string_view body) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary) {
    return boundary.error();
  }
  file_record f;
  f.id = random_id("file-");
  f.created_at = static_cast<std::int64_t>(std::time(nullptr));
  std::unique_ptr<content_writer> out;
  enum class target { none, file, purpose } into = target::none;
  bool have_file = false, have_purpose = false;
  std::string purpose;
  multipart_reader reader(
      *boundary, {.on_part = [&](const multipart_part_header& h) -> result<void> {
                    if (h.name == "file") {
                      if (have_file) {
                        return make_error(errc::invalid_request, "Only one `file` part is allowed.",
                                          "file");
                      }
                      have_file = true;
                      f.filename = h.has_filename ? h.filename : "file";
                      auto w = store_->write_content(f.id);
                      if (!w) {
                        return w.error();
                      }
                      out = std::move(*w);
                      into = target::file;
                    } else if (h.name == "purpose") {
                      have_purpose = true;
                      into = target::purpose;
                    } else {
                      into = target::none;  // other fields (expires_after[...]) are not used
                    }
                    return {};
                  },
                  .on_data = [&](std::string_view d) -> result<void> {
                    if (into == target::file) {
                      if (auto a = out->append(d); !a) {
                        return a;
                      }
                      f.bytes += d.size();
                    } else if (into == target::purpose) {
                      if (purpose.size() + d.size() > max_field_bytes) {
                        return make_error(errc::invalid_request, "purpose is too long.", "purpose");
                      }
                      purpose.append(d);
                    }
                    return {};
                  },
                  .on_part_end = [&]() -> result<void> {
                    if (into == target::file) {
                      if (auto c = out->commit(); !c) {
                        return c;
                      }
                    }
                    into = target::none;
                    return {};
                  }});
  result<void> r;
  for (std::size_t i = 0; r && i < body.size(); i += feed_piece) {
    r = reader.feed(body.substr(i, feed_piece));
  }
  if (r) {
    r = reader.finish();
  }
  // Before the part's end nothing was committed (the writer discards it); after, the bytes go.
  const auto discard = [&] {
    out.reset();
    if (have_file) {
      (void)store_->remove_content(f.id);
    }
  };
  if (!r) {
    discard();
    return r.error();
  }
  if (!have_file) {
    discard();
    return make_error(errc::invalid_request, "Missing required parameter: 'file'.", "file");
  }
  if (!have_purpose) {
    discard();
    return make_error(errc::invalid_request, "Missing required parameter: 'purpose'.", "purpose");
  }
  if (purpose != "batch") {
    discard();
    return make_error(errc::invalid_request,
                      "purpose must be `batch`: the gateway stores files for the Batch API only.",
                      "purpose");
  }
  f.purpose = purpose;
  if (auto a = store_->add_file(f); !a) {
    discard();
    return a.error();
  }
  return f;
}

result<std::string> batch_service::content_piece(const file_record& f, std::uint64_t offset) {
  auto piece = store_->read_content(f.id, offset, content_piece_bytes);
  if (!piece && piece.error().code == errc::not_found) {
    return make_error(errc::internal, "The file's content is missing from the store.");
  }
  return piece;
}

result<bool> batch_service::remove_file(std::string_view id) {
  auto d = store_->delete_file(id);
  if (d && *d) {
    if (auto c = store_->remove_content(id); !c) {
      return c.error();
    }
  }
  return d;
}

result<batch_record> batch_service::create(std::string_view body, std::string_view authorization) {
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return make_error(errc::invalid_request,
                      R"(The body must be a JSON object like {"input_file_id": "file-...", )"
                      R"("endpoint": "/v1/chat/completions", "completion_window": "24h"}.)");
  }
  const auto& o = v.as_object();
  const auto text = [&](const char* k) -> const json::string* {
    const auto* x = o.if_contains(k);
    return x && x->is_string() ? &x->as_string() : nullptr;
  };
  const auto* input = text("input_file_id");
  if (!input) {
    return make_error(errc::invalid_request, "Missing required parameter: 'input_file_id'.",
                      "input_file_id");
  }
  const auto* endpoint = text("endpoint");
  if (!endpoint || !valid_batch_endpoint(*endpoint)) {
    return make_error(errc::invalid_request,
                      "endpoint must be one of /v1/chat/completions, /v1/completions, "
                      "/v1/embeddings, /v1/responses.",
                      "endpoint");
  }
  const auto* window = text("completion_window");
  if (!window || *window != "24h") {
    return make_error(errc::invalid_request, "completion_window must be `24h`.",
                      "completion_window");
  }
  batch_record b;
  if (const auto* m = o.if_contains("metadata"); m && !m->is_null()) {
    if (!m->is_object() || m->as_object().size() > max_metadata_pairs) {
      return make_error(errc::invalid_request,
                        "metadata must be an object of at most 16 string values.", "metadata");
    }
    for (const auto& kv : m->as_object()) {
      if (kv.key().size() > max_metadata_key || !kv.value().is_string() ||
          kv.value().as_string().size() > max_metadata_value) {
        return make_error(errc::invalid_request,
                          "metadata keys are at most 64 characters, values strings of at most "
                          "512.",
                          "metadata");
      }
    }
    b.metadata_json = json::serialize(*m);
  }
  auto file = store_->file(*input);
  if (!file) {
    return file.error();
  }
  if (!*file) {
    return make_error(errc::not_found, "No such File object: " + std::string(*input),
                      "input_file_id");
  }
  if ((*file)->purpose != "batch") {
    return make_error(errc::invalid_request, "The input file must have purpose `batch`.",
                      "input_file_id");
  }
  b.id = random_id("batch_");
  b.endpoint = std::string(*endpoint);
  b.input_file_id = std::string(*input);
  b.completion_window = "24h";
  b.created_at = static_cast<std::int64_t>(std::time(nullptr));
  b.expires_at = b.created_at + window_seconds;
  b.authorization = std::string(authorization);
  if (auto a = store_->add_batch(b); !a) {
    return a.error();
  }
  runner_->wake();
  return b;
}

result<batch_record> batch_service::cancel(std::string_view id) {
  auto b = store_->batch(id);
  if (!b) {
    return b.error();
  }
  if (!*b) {
    return make_error(errc::not_found, "No such Batch object: " + std::string(id), "batch_id");
  }
  auto rec = std::move(**b);
  if (rec.status == batch_status::cancelling || rec.status == batch_status::cancelled) {
    return rec;  // idempotent
  }
  if (!can_cancel(rec.status)) {
    return make_error(errc::conflict, "Cannot cancel a batch with status `" +
                                          std::string(to_string(rec.status)) + "`.");
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto moved = store_->move_batch(id, rec.status, batch_status::cancelling, now);
  if (!moved) {
    return moved.error();
  }
  if (!*moved) {
    return make_error(errc::conflict, "The batch changed status meanwhile; retrieve it and retry.");
  }
  runner_->cancel(std::string(id));
  rec.status = batch_status::cancelling;
  rec.cancelling_at = now;
  return rec;
}

}  // namespace switchyard
