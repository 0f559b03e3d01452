#include "sqlite_db.hpp"

#include "switchyard/core/arena.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace switchyard::sqlite {

namespace {

// SQLite's memory from core/arena's per-thread free lists. Debian's SQLite is built with
// SQLITE_OMIT_LOOKASIDE, so every cursor, record and value of every statement is a malloc: the
// statistics flush made ~60 per unit and flush (2.2 per proxied request at 30k req/s). Through
// the lists, a flush takes back what the one before gave. Each block starts with its size (16
// bytes, keeping max_align_t alignment), which xSize and xFree need.
constexpr std::size_t header = 16;

void* mem_malloc(int n) {
  if (n <= 0) {
    return nullptr;
  }
  const auto size = static_cast<std::size_t>(n);
  try {
    auto* p = static_cast<unsigned char*>(arena::allocate(size + header));
    std::memcpy(p, &size, sizeof size);
    return p + header;
  } catch (...) {
    return nullptr;  // SQLite reports SQLITE_NOMEM
  }
}

std::size_t size_of(void* p) noexcept {
  std::size_t size = 0;
  std::memcpy(&size, static_cast<unsigned char*>(p) - header, sizeof size);
  return size;
}

void mem_free(void* p) {
  if (p != nullptr) {
    arena::deallocate(static_cast<unsigned char*>(p) - header, size_of(p) + header);
  }
}

void* mem_realloc(void* p, int n) {
  if (p == nullptr) {
    return mem_malloc(n);
  }
  if (n <= 0) {
    mem_free(p);
    return nullptr;
  }
  const std::size_t old = size_of(p);
  const auto size = static_cast<std::size_t>(n);
  // Still within the block's class: in place.
  if (old + header <= arena::max_block && size + header <= arena::max_block &&
      arena::block_size(old + header) == arena::block_size(size + header)) {
    std::memcpy(static_cast<unsigned char*>(p) - header, &size, sizeof size);
    return p;
  }
  void* q = mem_malloc(n);
  if (q != nullptr) {
    std::memcpy(q, p, std::min(old, size));
    mem_free(p);
  }
  return q;
}

int mem_size(void* p) {
  return p == nullptr ? 0 : static_cast<int>(size_of(p));
}

int mem_roundup(int n) {
  return (n + 7) & ~7;
}

int mem_init(void*) {
  return SQLITE_OK;
}

void mem_shutdown(void*) {}

// Once per process, before the first connection initialises SQLite (after that sqlite3_config
// refuses, and SQLite keeps the system allocator: correct, only slower).
void use_recycled_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    static const sqlite3_mem_methods methods{mem_malloc,  mem_free, mem_realloc,  mem_size,
                                             mem_roundup, mem_init, mem_shutdown, nullptr};
    (void)sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
  });
}

}  // namespace

error db_error(sqlite3* db, const std::string& what, std::string_view store) {
  return make_error(errc::internal, std::string(store) + ": " + what + ": " +
                                        (db ? sqlite3_errmsg(db) : "out of memory"));
}

result<void> exec(sqlite3* db, const char* sql, const std::string& what, std::string_view store) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, what, store);
  }
  return {};
}

result<stmt_ptr> prepare(sqlite3* db, const char* sql, const std::string& what,
                         std::string_view store) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);  // null after a failure, as SQLite documents; harmless either way
    return db_error(db, what, store);
  }
  return stmt_ptr(raw);
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

result<std::string> pragma(sqlite3* db, const char* sql, const std::string& path,
                           std::string_view store) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return db_error(db, path + ": preparing `" + sql + "`", store);
  }
  stmt_ptr s(raw);
  query q(s.get());
  if (q.step() != SQLITE_ROW) {
    return db_error(db, path + ": running `" + sql + "`", store);
  }
  return q.text_at(0);
}

result<db_ptr> open(const std::string& path, std::string_view store) {
  use_recycled_memory();
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_ptr db(raw);  // a failed open still returns a handle to close
  if (rc != SQLITE_OK) {
    return make_error(errc::internal, std::string(store) + ": opening " + path + ": " +
                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

result<db_ptr> open_wal(const std::string& path, std::string_view store) {
  auto db = open(path, store);
  if (!db) {
    return db.error();
  }
  // Turning a new file to WAL takes an exclusive lock for which SQLite does not call the busy
  // handler: two processes opening one new data_dir together (two replicas on a node, a restart
  // overlapping the old process, parallel tests) got "database is locked" at once, 53 times in
  // 1,200 four-way races, despite the 5 s busy timeout. So the conversion is retried here, with
  // the same 5 s bound; it runs at start-up, on no event loop.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto pause = std::chrono::milliseconds(1);
  auto mode = pragma(db->get(), "PRAGMA journal_mode = WAL", path, store);
  while (!mode && (sqlite3_errcode(db->get()) & 0xff) == SQLITE_BUSY &&
         std::chrono::steady_clock::now() + pause < give_up) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
    mode = pragma(db->get(), "PRAGMA journal_mode = WAL", path, store);
  }
  if (!mode) {
    return mode.error();
  }
  if (*mode != "wal") {
    return make_error(errc::internal, std::string(store) + ": " + path +
                                          " cannot use WAL mode (journal_mode is " + *mode +
                                          "; a network file system?)");
  }
  if (auto r =
          exec(db->get(), "PRAGMA synchronous = NORMAL", path + ": setting synchronous", store);
      !r) {
    return r.error();
  }
  return db;
}

result<void> setup(result<db_ptr> opened, const char* schema, std::span<const char* const> sql,
                   db_ptr& db, std::span<stmt_ptr> into, const std::string& path,
                   std::string_view store) {
  if (!opened) {
    return opened.error();
  }
  db = std::move(*opened);
  if (auto r = exec(db.get(), schema, "create the tables in " + path, store); !r) {
    return r;
  }
  for (std::size_t i = 0; i < sql.size() && i < into.size(); ++i) {
    auto s = prepare(db.get(), sql[i], "prepare statement " + std::to_string(i), store);
    if (!s) {
      return s.error();
    }
    into[i] = std::move(*s);
  }
  return {};
}

}  // namespace switchyard::sqlite
