#include "sqlite_db.hpp"

namespace switchyard::sqlite {

error db_error(sqlite3* db, const std::string& what) {
  return make_error(errc::internal, "experiment store: " + what + ": " + sqlite3_errmsg(db));
}

result<void> exec(sqlite3* db, const char* sql, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, what);
  }
  return {};
}

sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

std::string_view value_bytes(sqlite3_value* v) {
  const void* p = sqlite3_value_blob(v);  // before _bytes, as SQLite documents
  const auto n = static_cast<std::size_t>(sqlite3_value_bytes(v));
  return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), n);
}

query::~query() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

query& query::text(std::string_view v) {
  // A null pointer would bind SQL NULL; an empty string_view may carry one.
  return check(
      sqlite3_bind_text64(s_, next_++, v.empty() ? "" : v.data(), v.size(), nullptr, SQLITE_UTF8));
}

query& query::blob(std::string_view v) {
  return check(sqlite3_bind_blob64(s_, next_++, v.empty() ? "" : v.data(), v.size(), nullptr));
}

std::string query::text_at(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), bytes_at(col));
}

std::string query::blob_at(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), bytes_at(col));
}

transaction::~transaction() {
  if (open_) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

result<void> transaction::begin(const std::string& what) {
  auto r = exec(db_, "BEGIN IMMEDIATE", what + ": BEGIN");
  open_ = r.has_value();
  return r;
}

result<void> transaction::commit(const std::string& what) {
  auto r = exec(db_, "COMMIT", what + ": COMMIT");
  open_ = !r.has_value();
  return r;
}

result<std::string> pragma(sqlite3* db, const char* sql, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return db_error(db, path + ": preparing `" + sql + "`");
  }
  stmt_ptr s(raw);
  query q(s.get());
  if (q.step() != SQLITE_ROW) {
    return db_error(db, path + ": running `" + sql + "`");
  }
  return q.text_at(0);
}

result<db_ptr> open_wal(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_ptr db(raw);  // a failed open still returns a handle to close
  if (rc != SQLITE_OK) {
    return make_error(errc::internal, "experiment store: opening " + path + ": " +
                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  auto mode = pragma(db.get(), "PRAGMA journal_mode = WAL", path);
  if (!mode) {
    return mode.error();
  }
  if (*mode != "wal") {
    return make_error(errc::internal, "experiment store: " + path +
                                          " cannot use WAL mode (journal_mode is " + *mode +
                                          "; a network file system?)");
  }
  if (auto r = exec(db.get(), "PRAGMA synchronous = NORMAL", path + ": setting synchronous"); !r) {
    return r.error();
  }
  return db;
}

}  // namespace switchyard::sqlite
