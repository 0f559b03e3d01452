#pragma once
// Private to src/: the thin layer over the SQLite C API that the embedded stores build on — the
// experiment store (sqlite_store.cpp), jobs/batch_store.cpp, jobs/eval_store.cpp and
// alerts/alert_store.cpp (they include it as "../experiments/sqlite_db.hpp"): opening a file,
// owning handles, one use of a prepared statement (binding, stepping, reading columns) and a
// write-transaction guard. Errors start with the store's name (`store`, default the experiment
// store's), so a failure says which file of data_dir it concerns.

#include "switchyard/core/error.hpp"
#include "switchyard/core/yield_pacer.hpp"

#include <sqlite3.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchyard::sqlite {

struct db_closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
/// An open connection, closed on destruction.
using db_ptr = std::unique_ptr<sqlite3, db_closer>;
/// A prepared statement, finalized on destruction (before its connection closes).
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

/// The name errors start with unless a store gives its own.
inline constexpr std::string_view default_store = "experiment store";

/// errc::internal "<store>: <what>: <SQLite's last message on db>". Build it before a rollback,
/// which would replace that message.
error db_error(sqlite3* db, const std::string& what, std::string_view store = default_store);

/// Runs `sql` (statements without result rows); fails with db_error(db, what, store).
result<void> exec(sqlite3* db, const char* sql, const std::string& what,
                  std::string_view store = default_store);

/// Prepares `sql` once for many uses (SQLITE_PREPARE_PERSISTENT); fails with
/// db_error(db, what, store).
result<stmt_ptr> prepare(sqlite3* db, const char* sql, const std::string& what,
                         std::string_view store = default_store);

/// SQLite's "copy the buffer" destructor; the SQLITE_TRANSIENT macro is an old-style cast.
sqlite3_destructor_type transient() noexcept;

/// The bytes of a blob argument of an SQL function (empty for NULL); valid until the call returns.
std::string_view value_bytes(sqlite3_value* v);

/// One use of a prepared statement: binds in order, steps, reads columns. Resets on scope exit so
/// that the statement releases its read snapshot and the buffers it borrowed: text and blobs are
/// bound without a copy, so they must outlive the query object.
class query {
 public:
  explicit query(sqlite3_stmt* s) noexcept : s_(s) {}
  ~query();
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  query& text(std::string_view v);
  query& blob(std::string_view v);
  query& integer(std::int64_t v) { return check(sqlite3_bind_int64(s_, next_++, v)); }
  query& real(double v) { return check(sqlite3_bind_double(s_, next_++, v)); }
  query& null() { return check(sqlite3_bind_null(s_, next_++)); }
  /// SQL NULL when `v` is empty.
  query& optional_real(std::optional<double> v) {
    return v ? real(*v) : check(sqlite3_bind_null(s_, next_++));
  }

  /// SQLITE_ROW, SQLITE_DONE, or the error (a failed bind included).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }

  /// Columns of the current row (after step() returned SQLITE_ROW); NULL reads as empty or 0.
  std::string text_at(int col) const;
  std::string blob_at(int col) const;
  std::int64_t int_at(int col) const { return sqlite3_column_int64(s_, col); }
  std::uint64_t count_at(int col) const { return static_cast<std::uint64_t>(int_at(col)); }
  double real_at(int col) const { return sqlite3_column_double(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  // Keeps the first failure, so a chain of binds reports it at step().
  query& check(int rc) {
    if (rc_ == SQLITE_OK) {
      rc_ = rc;
    }
    return *this;
  }
  std::size_t bytes_at(int col) const {
    return static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
  }

  sqlite3_stmt* s_;
  int next_ = 1;
  int rc_ = SQLITE_OK;
};

/// Calls `row(q)` for each result row; false on a SQLite error (see db_error). A long scan (a
/// guardrail's read of every unit of a phase, an analysis) lets a worker waiting for this CPU
/// run every 200 µs (core/yield_pacer.hpp); the stores run on background threads only.
template <class Row>
bool for_each_row(query& q, Row row) {
  int rc = SQLITE_OK;
  yield_pacer pacer;
  while ((rc = q.step()) == SQLITE_ROW) {
    row(q);
    pacer.step();
  }
  return rc == SQLITE_DONE;
}

/// BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails half-way with
/// SQLITE_BUSY on lock upgrade. Rolls back unless committed.
class transaction {
 public:
  explicit transaction(sqlite3* db) noexcept : db_(db) {}
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  /// `what` names the operation in the error.
  result<void> begin(const std::string& what);
  result<void> commit(const std::string& what);

 private:
  sqlite3* db_;
  bool open_ = false;
};

/// Single-row PRAGMA read (user_version, journal_mode); errors name the database file `path`.
result<std::string> pragma(sqlite3* db, const char* sql, const std::string& path,
                           std::string_view store = default_store);

/// Opens (creating) the database file `path` with a 5 s busy timeout, in SQLite's default
/// (rollback) journal mode; SQLite's memory comes from core/arena (sqlite_db.cpp says why). The
/// connection is not serialised by SQLite (NOMUTEX): its store serialises its calls.
result<db_ptr> open(const std::string& path, std::string_view store = default_store);

/// open(), then WAL mode with synchronous=NORMAL; fails when the file system does not allow WAL.
result<db_ptr> open_wal(const std::string& path, std::string_view store = default_store);

/// A store's connection and the statements it prepares once, by index.
template <std::size_t N>
struct prepared_db {
  db_ptr db;
  std::array<stmt_ptr, N> s;
  sqlite3_stmt* operator[](std::size_t i) const { return s[i].get(); }
};

/// Takes the connection `opened` (from open() or open_wal()), runs `schema` on it and prepares
/// `sql[i]` into `into.s[i]`; errors name `store` and the file `path`.
result<void> setup(result<db_ptr> opened, const char* schema, std::span<const char* const> sql,
                   db_ptr& db, std::span<stmt_ptr> into, const std::string& path,
                   std::string_view store);

template <std::size_t N>
result<void> setup(result<db_ptr> opened, const char* schema, const std::array<const char*, N>& sql,
                   prepared_db<N>& into, const std::string& path, std::string_view store) {
  return setup(std::move(opened), schema, std::span<const char* const>(sql), into.db,
               std::span<stmt_ptr>(into.s), path, store);
}

}  // namespace switchyard::sqlite
