#include "switchyard/jobs/sqlite_batch_store.hpp"

#include "../experiments/sqlite_db.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>

namespace switchyard {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS files (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  endpoint TEXT NOT NULL, model TEXT NOT NULL, input_file_id TEXT NOT NULL,
  completion_window TEXT NOT NULL, status TEXT NOT NULL,
  output_file_id TEXT NOT NULL, error_file_id TEXT NOT NULL,
  errors TEXT NOT NULL, metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL, in_progress_at INTEGER, expires_at INTEGER, finalizing_at INTEGER,
  completed_at INTEGER, failed_at INTEGER, expired_at INTEGER, cancelling_at INTEGER,
  cancelled_at INTEGER,
  total INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,
  authorization TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lines (
  batch_id TEXT NOT NULL,
  line_no INTEGER NOT NULL,
  custom_id TEXT NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  state INTEGER NOT NULL DEFAULT 0,  -- 0 pending, 1 output file, 2 error file
  output TEXT,
  PRIMARY KEY (batch_id, line_no),
  UNIQUE (batch_id, custom_id)
) WITHOUT ROWID;
)sql";

constexpr const char* batch_columns =
    "id, endpoint, model, input_file_id, completion_window, status, output_file_id, "
    "error_file_id, errors, metadata, created_at, in_progress_at, expires_at, finalizing_at, "
    "completed_at, failed_at, expired_at, cancelling_at, cancelled_at, total, completed, failed, "
    "input_tokens, output_tokens, cost_usd, authorization";

enum stmt_id {
  add_file_s,
  get_file_s,
  del_file_s,
  add_batch_s,
  get_batch_s,
  unfinished_s,
  save_batch_s,
  clear_lines_s,
  add_line_s,
  pending_s,
  record_line_s,
  count_line_s,
  results_s,
  stmt_count
};

error store_error(sqlite3* db, const std::string& what) {
  return make_error(errc::internal,
                    "batch store: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

std::optional<std::int64_t> opt_at(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(s, col);
}

// SQL NULL for an absent timestamp (the query binds NULL through an empty optional).
std::optional<double> opt_bind(const std::optional<std::int64_t>& v) {
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

file_record read_file_row(const sqlite::query& q) {
  return {q.text_at(0), q.count_at(1), q.int_at(2), q.text_at(3), q.text_at(4)};
}

batch_record read_batch_row(const sqlite::query& q, sqlite3_stmt* s) {
  batch_record b;
  b.id = q.text_at(0);
  b.endpoint = q.text_at(1);
  b.model = q.text_at(2);
  b.input_file_id = q.text_at(3);
  b.completion_window = q.text_at(4);
  b.status = parse_batch_status(q.text_at(5)).value_or(batch_status::failed);
  b.output_file_id = q.text_at(6);
  b.error_file_id = q.text_at(7);
  b.errors_json = q.text_at(8);
  b.metadata_json = q.text_at(9);
  b.created_at = q.int_at(10);
  b.in_progress_at = opt_at(s, 11);
  b.expires_at = opt_at(s, 12);
  b.finalizing_at = opt_at(s, 13);
  b.completed_at = opt_at(s, 14);
  b.failed_at = opt_at(s, 15);
  b.expired_at = opt_at(s, 16);
  b.cancelling_at = opt_at(s, 17);
  b.cancelled_at = opt_at(s, 18);
  b.total = q.count_at(19);
  b.completed = q.count_at(20);
  b.failed = q.count_at(21);
  b.input_tokens = q.count_at(22);
  b.output_tokens = q.count_at(23);
  b.cost_usd = q.real_at(24);
  b.authorization = q.text_at(25);
  return b;
}

}  // namespace

struct sqlite_batch_store::impl {
  sqlite::db_ptr db;
  std::array<sqlite::stmt_ptr, stmt_count> s;
  sqlite3_stmt* operator[](stmt_id i) const { return s[i].get(); }
};

sqlite_batch_store::~sqlite_batch_store() = default;

result<std::unique_ptr<sqlite_batch_store>> sqlite_batch_store::open(const std::string& path,
                                                                     std::string files_dir) {
  std::error_code ec;
  std::filesystem::create_directories(files_dir, ec);
  if (ec) {
    return make_error(errc::internal, "batches: cannot create " + files_dir + ": " + ec.message());
  }
  auto db = sqlite::open_wal(path);
  if (!db) {
    return db.error();
  }
  std::unique_ptr<sqlite_batch_store> st(new sqlite_batch_store());
  st->files_dir_ = std::move(files_dir);
  st->impl_ = std::make_unique<impl>();
  st->impl_->db = std::move(*db);
  if (auto r = sqlite::exec(st->impl_->db.get(), schema, "creating the batch tables"); !r) {
    return store_error(st->impl_->db.get(), "creating the batch tables");
  }
  if (auto r = st->prepare(); !r) {
    return r.error();
  }
  return st;
}

result<void> sqlite_batch_store::prepare() {
  const std::string cols = batch_columns;
  const std::array<std::string, stmt_count> sql = {
      "INSERT INTO files (id, bytes, created_at, filename, purpose) VALUES (?,?,?,?,?)",
      "SELECT id, bytes, created_at, filename, purpose FROM files WHERE id = ?",
      "DELETE FROM files WHERE id = ?",
      "INSERT INTO batches (" + cols +
          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      "SELECT " + cols + " FROM batches WHERE id = ?",
      "SELECT id FROM batches WHERE status NOT IN ('completed','failed','expired','cancelled') "
      "ORDER BY seq",
      "UPDATE batches SET endpoint=?, model=?, input_file_id=?, completion_window=?, status=?, "
      "output_file_id=?, error_file_id=?, errors=?, metadata=?, created_at=?, in_progress_at=?, "
      "expires_at=?, finalizing_at=?, completed_at=?, failed_at=?, expired_at=?, "
      "cancelling_at=?, cancelled_at=?, total=? WHERE id = ?",
      "DELETE FROM lines WHERE batch_id = ?",
      "INSERT OR IGNORE INTO lines (batch_id, line_no, custom_id, offset, length) "
      "VALUES (?,?,?,?,?)",
      "SELECT line_no, custom_id, offset, length FROM lines WHERE batch_id = ? AND line_no > ? "
      "AND state = 0 ORDER BY line_no LIMIT ?",
      "UPDATE lines SET state = ?, output = ? WHERE batch_id = ? AND line_no = ? AND state = 0",
      "UPDATE batches SET completed = completed + ?, failed = failed + ?, "
      "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
      "cost_usd = cost_usd + ? WHERE id = ?",
      "SELECT line_no, output FROM lines WHERE batch_id = ? AND state = ? AND line_no > ? "
      "ORDER BY line_no LIMIT 256",
  };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(impl_->db.get(), sql[i].c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw,
                           nullptr) != SQLITE_OK) {
      return store_error(impl_->db.get(), "preparing statement " + std::to_string(i));
    }
    impl_->s[i].reset(raw);
  }
  return {};
}

result<void> sqlite_batch_store::add_file(const file_record& f) {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[add_file_s]);
  q.text(f.id)
      .integer(static_cast<std::int64_t>(f.bytes))
      .integer(f.created_at)
      .text(f.filename)
      .text(f.purpose);
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "adding file " + f.id);
  }
  return {};
}

result<std::optional<file_record>> sqlite_batch_store::file(std::string_view id) {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[get_file_s]);
  q.text(id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    return std::optional<file_record>(read_file_row(q));
  }
  if (rc != SQLITE_DONE) {
    return store_error(impl_->db.get(), "reading a file");
  }
  return std::optional<file_record>();
}

result<std::vector<file_record>> sqlite_batch_store::files(std::string_view purpose,
                                                           std::string_view after,
                                                           std::size_t limit, bool ascending) {
  std::lock_guard lock(mutex_);
  // Built per call (the order and the filters vary); bound values only, never spliced text.
  std::string sql =
      "SELECT id, bytes, created_at, filename, purpose FROM files WHERE (? = '' "
      "OR purpose = ?) AND (? = '' OR seq ";
  sql += ascending ? ">" : "<";
  sql += " (SELECT seq FROM files WHERE id = ?)) ORDER BY seq ";
  sql += ascending ? "ASC" : "DESC";
  sql += " LIMIT ?";
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(impl_->db.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return store_error(impl_->db.get(), "listing files");
  }
  sqlite::stmt_ptr owned(raw);
  std::vector<file_record> out;
  {
    sqlite::query q(raw);
    q.text(purpose).text(purpose).text(after).text(after).integer(static_cast<std::int64_t>(limit));
    if (!sqlite::for_each_row(q,
                              [&](const sqlite::query& r) { out.push_back(read_file_row(r)); })) {
      return store_error(impl_->db.get(), "listing files");
    }
  }
  return out;
}

result<bool> sqlite_batch_store::delete_file(std::string_view id) {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[del_file_s]);
  q.text(id);
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "deleting a file");
  }
  return sqlite3_changes(impl_->db.get()) > 0;
}

namespace {

// The columns save_batch and add_batch share, from endpoint to total, bound in order.
void bind_batch(sqlite::query& q, const batch_record& b) {
  q.text(b.endpoint)
      .text(b.model)
      .text(b.input_file_id)
      .text(b.completion_window)
      .text(to_string(b.status))
      .text(b.output_file_id)
      .text(b.error_file_id)
      .text(b.errors_json)
      .text(b.metadata_json)
      .integer(b.created_at);
  for (const auto* v : {&b.in_progress_at, &b.expires_at, &b.finalizing_at, &b.completed_at,
                        &b.failed_at, &b.expired_at, &b.cancelling_at, &b.cancelled_at}) {
    q.optional_real(opt_bind(*v));
  }
  q.integer(static_cast<std::int64_t>(b.total));
}

}  // namespace

result<void> sqlite_batch_store::add_batch(const batch_record& b) {
  std::lock_guard lock(mutex_);
  auto* s = (*impl_)[add_batch_s];
  sqlite::query q(s);
  q.text(b.id);
  bind_batch(q, b);
  q.integer(static_cast<std::int64_t>(b.completed))
      .integer(static_cast<std::int64_t>(b.failed))
      .integer(static_cast<std::int64_t>(b.input_tokens))
      .integer(static_cast<std::int64_t>(b.output_tokens))
      .real(b.cost_usd)
      .text(b.authorization);
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "adding batch " + b.id);
  }
  return {};
}

result<std::optional<batch_record>> sqlite_batch_store::batch(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto* s = (*impl_)[get_batch_s];
  sqlite::query q(s);
  q.text(id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    return std::optional<batch_record>(read_batch_row(q, s));
  }
  if (rc != SQLITE_DONE) {
    return store_error(impl_->db.get(), "reading a batch");
  }
  return std::optional<batch_record>();
}

result<std::vector<batch_record>> sqlite_batch_store::batches(std::string_view after,
                                                              std::size_t limit) {
  std::lock_guard lock(mutex_);
  // Appended rather than `std::string(..) + ..`: GCC 12 at -O2 warns falsely (-Warray-bounds)
  // about the temporary's inlined memcpy.
  std::string sql = "SELECT ";
  sql += batch_columns;
  sql +=
      " FROM batches WHERE (? = '' OR seq < (SELECT seq FROM batches WHERE id = ?)) "
      "ORDER BY seq DESC LIMIT ?";
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(impl_->db.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return store_error(impl_->db.get(), "listing batches");
  }
  sqlite::stmt_ptr owned(raw);
  std::vector<batch_record> out;
  {
    sqlite::query q(raw);
    q.text(after).text(after).integer(static_cast<std::int64_t>(limit));
    if (!sqlite::for_each_row(
            q, [&](const sqlite::query& r) { out.push_back(read_batch_row(r, raw)); })) {
      return store_error(impl_->db.get(), "listing batches");
    }
  }
  return out;
}

result<std::vector<std::string>> sqlite_batch_store::unfinished() {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[unfinished_s]);
  std::vector<std::string> out;
  if (!sqlite::for_each_row(q, [&](const sqlite::query& r) { out.push_back(r.text_at(0)); })) {
    return store_error(impl_->db.get(), "listing unfinished batches");
  }
  return out;
}

result<void> sqlite_batch_store::save_batch(const batch_record& b) {
  std::lock_guard lock(mutex_);
  auto* s = (*impl_)[save_batch_s];
  sqlite::query q(s);
  bind_batch(q, b);
  q.text(b.id);
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "saving batch " + b.id);
  }
  return {};
}

result<bool> sqlite_batch_store::move_batch(std::string_view id, batch_status from, batch_status to,
                                            std::int64_t at) {
  std::lock_guard lock(mutex_);
  // The column name comes from a fixed table (status_timestamp_name), never from input.
  const std::string sql = std::string("UPDATE batches SET status = ?, ") +
                          status_timestamp_name(to) + " = ? WHERE id = ? AND status = ?";
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(impl_->db.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return store_error(impl_->db.get(), "moving a batch");
  }
  sqlite::stmt_ptr owned(raw);
  sqlite::query q(raw);
  q.text(to_string(to)).integer(at).text(id).text(to_string(from));
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "moving a batch");
  }
  return sqlite3_changes(impl_->db.get()) > 0;
}

result<void> sqlite_batch_store::clear_lines(std::string_view batch_id) {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[clear_lines_s]);
  q.text(batch_id);
  if (q.step() != SQLITE_DONE) {
    return store_error(impl_->db.get(), "clearing lines");
  }
  return {};
}

result<std::vector<std::int64_t>> sqlite_batch_store::add_lines(
    std::string_view batch_id, const std::vector<batch_line_ref>& lines) {
  std::lock_guard lock(mutex_);
  sqlite::transaction tx(impl_->db.get());
  if (auto r = tx.begin("adding lines"); !r) {
    return r.error();
  }
  std::vector<std::int64_t> duplicates;
  for (const auto& l : lines) {
    sqlite::query q((*impl_)[add_line_s]);
    q.text(batch_id)
        .integer(l.line_no)
        .text(l.custom_id)
        .integer(static_cast<std::int64_t>(l.offset))
        .integer(l.length);
    if (q.step() != SQLITE_DONE) {
      return store_error(impl_->db.get(), "adding a line");
    }
    if (sqlite3_changes(impl_->db.get()) == 0) {
      duplicates.push_back(l.line_no);
    }
  }
  if (auto r = tx.commit("adding lines"); !r) {
    return r.error();
  }
  return duplicates;
}

result<std::vector<batch_line_ref>> sqlite_batch_store::pending(std::string_view batch_id,
                                                                std::int64_t after_line,
                                                                std::size_t limit) {
  std::lock_guard lock(mutex_);
  sqlite::query q((*impl_)[pending_s]);
  q.text(batch_id).integer(after_line).integer(static_cast<std::int64_t>(limit));
  std::vector<batch_line_ref> out;
  if (!sqlite::for_each_row(q, [&](const sqlite::query& r) {
        out.push_back(
            {r.int_at(0), r.text_at(1), r.count_at(2), static_cast<std::uint32_t>(r.int_at(3))});
      })) {
    return store_error(impl_->db.get(), "reading pending lines");
  }
  return out;
}

result<bool> sqlite_batch_store::record(std::string_view batch_id, const batch_line_result& r) {
  std::lock_guard lock(mutex_);
  sqlite::transaction tx(impl_->db.get());
  if (auto b = tx.begin("recording a line"); !b) {
    return b.error();
  }
  {
    sqlite::query q((*impl_)[record_line_s]);
    q.integer(r.ok ? 1 : 2).text(r.output).text(batch_id).integer(r.line_no);
    if (q.step() != SQLITE_DONE) {
      return store_error(impl_->db.get(), "recording a line");
    }
  }
  if (sqlite3_changes(impl_->db.get()) == 0) {
    return false;  // already recorded: the counters stay as they are
  }
  {
    sqlite::query q((*impl_)[count_line_s]);
    q.integer(r.ok ? 1 : 0)
        .integer(r.ok ? 0 : 1)
        .integer(static_cast<std::int64_t>(r.usage.input_tokens))
        .integer(static_cast<std::int64_t>(r.usage.output_tokens))
        .real(r.cost_usd)
        .text(batch_id);
    if (q.step() != SQLITE_DONE) {
      return store_error(impl_->db.get(), "counting a line");
    }
  }
  if (auto c = tx.commit("recording a line"); !c) {
    return c.error();
  }
  return true;
}

result<void> sqlite_batch_store::for_each_result(
    std::string_view batch_id, bool ok, const std::function<result<void>(std::string_view)>& fn) {
  std::int64_t after = 0;
  for (;;) {
    std::vector<std::pair<std::int64_t, std::string>> page;
    {
      std::lock_guard lock(mutex_);
      sqlite::query q((*impl_)[results_s]);
      q.text(batch_id).integer(ok ? 1 : 2).integer(after);
      if (!sqlite::for_each_row(
              q, [&](const sqlite::query& r) { page.emplace_back(r.int_at(0), r.text_at(1)); })) {
        return store_error(impl_->db.get(), "reading results");
      }
    }
    if (page.empty()) {
      return {};
    }
    for (const auto& [line, text] : page) {
      if (auto r = fn(text); !r) {
        return r;
      }
      after = line;
    }
  }
}

namespace {

// Bytes go to `<path>.tmp`, renamed over `<path>` by commit (a reader sees the old or the new).
class file_writer final : public content_writer {
 public:
  explicit file_writer(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
  }
  ~file_writer() override {
    if (!committed_) {
      out_.close();
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
    }
  }
  bool opened() const { return out_.is_open(); }
  result<void> append(std::string_view bytes) override {
    out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out_) {
      return make_error(errc::internal, "The file could not be stored (disk full?).");
    }
    return {};
  }
  result<void> commit() override {
    out_.close();
    if (!out_) {
      return make_error(errc::internal, "The file could not be stored.");
    }
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      return make_error(errc::internal, "The file could not be stored: " + ec.message());
    }
    committed_ = true;
    return {};
  }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace

std::string sqlite_batch_store::path_of(std::string_view id) const {
  return files_dir_ + "/" + std::string(id);
}

result<std::unique_ptr<content_writer>> sqlite_batch_store::write_content(std::string_view id) {
  auto w = std::make_unique<file_writer>(path_of(id));
  if (!w->opened()) {
    return make_error(errc::internal, "The file could not be stored.");
  }
  return std::unique_ptr<content_writer>(std::move(w));
}

result<std::string> sqlite_batch_store::read_content(std::string_view id, std::uint64_t offset,
                                                     std::size_t max) {
  const int fd = ::open(path_of(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errc::not_found, "The file's content is missing from data_dir/files.");
  }
  std::string out(std::min(max, content_piece_bytes), '\0');
  const auto got = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
  ::close(fd);
  if (got < 0) {
    return make_error(errc::internal, "The file's content cannot be read.");
  }
  out.resize(static_cast<std::size_t>(got));
  return out;
}

result<void> sqlite_batch_store::remove_content(std::string_view id) {
  std::error_code ec;
  std::filesystem::remove(path_of(id), ec);
  return {};
}

result<int> sqlite_batch_store::open_local(std::string_view id) {
  const int fd = ::open(path_of(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errno == ENOENT ? errc::not_found : errc::internal,
                      "The file's content cannot be opened in data_dir/files.");
  }
  return fd;
}

}  // namespace switchyard
