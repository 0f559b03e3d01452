#include "switchyard/experiments/sqlite_store.hpp"

#include <sqlite3.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <utility>

namespace switchyard {

namespace {

constexpr int schema_version = 1;

// Sketches are rewritten on every flush, so variant_hours keeps a rowid (WITHOUT ROWID suits only
// small rows). The key is ordered for read_stats: experiment, then the hour range.
constexpr const char* schema_sql = R"sql(
CREATE TABLE variant_hours (
  experiment TEXT NOT NULL, variant TEXT NOT NULL, prompt_version TEXT NOT NULL,
  hour INTEGER NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
  latency_n REAL NOT NULL, latency_sum REAL NOT NULL, latency_sum_sq REAL NOT NULL,
  ttft_n REAL NOT NULL, ttft_sum REAL NOT NULL, ttft_sum_sq REAL NOT NULL,
  input_n REAL NOT NULL, input_sum REAL NOT NULL, input_sum_sq REAL NOT NULL,
  output_n REAL NOT NULL, output_sum REAL NOT NULL, output_sum_sq REAL NOT NULL,
  cost_n REAL NOT NULL, cost_sum REAL NOT NULL, cost_sum_sq REAL NOT NULL,
  latency_sketch BLOB NOT NULL, ttft_sketch BLOB NOT NULL,
  PRIMARY KEY (experiment, hour, variant, prompt_version));
CREATE INDEX variant_hours_by_prompt ON variant_hours (prompt_version);
CREATE TABLE units (
  experiment TEXT NOT NULL, fingerprint INTEGER NOT NULL, variant TEXT NOT NULL,
  hour INTEGER NOT NULL, PRIMARY KEY (experiment, fingerprint)) WITHOUT ROWID;
CREATE TABLE unit_counts (
  experiment TEXT NOT NULL, variant TEXT NOT NULL, units INTEGER NOT NULL,
  PRIMARY KEY (experiment, variant)) WITHOUT ROWID;
CREATE TABLE feedback (
  request_id TEXT NOT NULL, event TEXT NOT NULL, experiment TEXT NOT NULL,
  variant TEXT NOT NULL, prompt_version TEXT NOT NULL, value REAL,
  unix_seconds INTEGER NOT NULL, PRIMARY KEY (request_id, event)) WITHOUT ROWID;
CREATE INDEX feedback_by_experiment ON feedback (experiment);
CREATE INDEX feedback_by_prompt ON feedback (prompt_version);
CREATE TABLE controls (
  experiment TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, weights TEXT NOT NULL,
  winner TEXT NOT NULL, paused_variants TEXT NOT NULL, updated_unix INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE guardrail_events (
  id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, unix_seconds INTEGER NOT NULL);
CREATE INDEX guardrail_events_by_experiment ON guardrail_events (experiment, unix_seconds);
PRAGMA user_version = 1;
)sql";

// The five moments of a stats row, in column order.
constexpr std::array<const char*, 5> moment_columns = {"latency", "ttft", "input", "output",
                                                       "cost"};
constexpr int stats_column_count = 6 + 3 * 5 + 2;

// Columns of variant_hours in the order bind_stats binds and read_stats_row reads them.
std::string stats_columns() {
  std::string s = "experiment, variant, prompt_version, hour, requests, errors";
  for (const char* m : moment_columns) {
    for (const char* part : {"_n", "_sum", "_sum_sq"}) {
      s.append(", ").append(m).append(part);
    }
  }
  return s + ", latency_sketch, ttft_sketch";
}

// Adds the sums into an existing row; sketches go through the caller's merge (sy_sketch_merge).
std::string upsert_stats_sql() {
  std::string s = "INSERT INTO variant_hours (" + stats_columns() + ") VALUES (?";
  for (int i = 1; i < stats_column_count; ++i) {
    s += ", ?";
  }
  s += ") ON CONFLICT (experiment, hour, variant, prompt_version) DO UPDATE SET ";
  s += "requests = requests + excluded.requests, errors = errors + excluded.errors";
  for (const char* m : moment_columns) {
    for (const char* part : {"_n", "_sum", "_sum_sq"}) {
      const std::string c = std::string(m) + part;
      s += ", " + c + " = " + c + " + excluded." + c;
    }
  }
  return s +
         ", latency_sketch = sy_sketch_merge(latency_sketch, excluded.latency_sketch)"
         ", ttft_sketch = sy_sketch_merge(ttft_sketch, excluded.ttft_sketch)";
}

// Feedback aggregate columns shared by both feedback reads (read_feedback_row's order).
constexpr const char* feedback_aggregates =
    "COUNT(*), COUNT(value), TOTAL(value), TOTAL(value * value)";

enum stmt_id : std::size_t {
  upsert_stats,
  insert_unit,
  bump_unit_count,
  insert_feedback,
  select_stats,
  select_prompt_stats,
  select_unit_counts,
  select_feedback,
  select_prompt_feedback,
  select_controls,
  replace_control,
  insert_guardrail,
  select_guardrails,
  stmt_count,
};

std::array<std::string, stmt_count> statement_sql() {
  const std::string cols = stats_columns();
  const std::string agg = feedback_aggregates;
  return {
      upsert_stats_sql(),
      "INSERT INTO units (experiment, fingerprint, variant, hour) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (experiment, fingerprint) DO NOTHING",
      "INSERT INTO unit_counts (experiment, variant, units) VALUES (?, ?, ?) "
      "ON CONFLICT (experiment, variant) DO UPDATE SET units = units + excluded.units",
      "INSERT INTO feedback (request_id, event, experiment, variant, prompt_version, value, "
      "unix_seconds) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, event) DO NOTHING",
      "SELECT " + cols +
          " FROM variant_hours WHERE experiment = ?1 AND hour >= ?2 AND hour < ?3 "
          "ORDER BY hour, variant, prompt_version",
      "SELECT " + cols +
          " FROM variant_hours WHERE prompt_version >= ?1 AND prompt_version < ?2 "
          "ORDER BY prompt_version, hour, experiment, variant",
      "SELECT variant, units FROM unit_counts WHERE experiment = ?",
      "SELECT variant, prompt_version, event, "
      "CASE WHEN ?2 THEN unix_seconds / 3600 * 3600 ELSE 0 END AS h, " +
          agg +
          " FROM feedback WHERE experiment = ?1 GROUP BY h, variant, prompt_version, event "
          "ORDER BY h, variant, prompt_version, event",
      "SELECT '', prompt_version, event, 0, " + agg +
          " FROM feedback WHERE prompt_version >= ?1 AND prompt_version < ?2 "
          "GROUP BY prompt_version, event ORDER BY prompt_version, event",
      "SELECT experiment, status, weights, winner, paused_variants, updated_unix FROM controls "
      "ORDER BY experiment",
      "INSERT OR REPLACE INTO controls (experiment, status, weights, winner, paused_variants, "
      "updated_unix) VALUES (?, ?, ?, ?, ?, ?)",
      "INSERT INTO guardrail_events (experiment, variant, reason, detail, unix_seconds) "
      "VALUES (?, ?, ?, ?, ?)",
      "SELECT experiment, variant, reason, detail, unix_seconds FROM guardrail_events "
      "WHERE experiment = ? ORDER BY unix_seconds, id",
  };
}

struct db_closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using db_ptr = std::unique_ptr<sqlite3, db_closer>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

error db_error(sqlite3* db, const std::string& what) {
  return make_error(errc::internal, "experiment store: " + what + ": " + sqlite3_errmsg(db));
}

result<void> exec(sqlite3* db, const char* sql, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, what);
  }
  return {};
}

// SQLite's "copy the buffer" destructor; the SQLITE_TRANSIENT macro is an old-style cast.
sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

// One use of a prepared statement: binds in order, steps, reads columns. Resets on scope exit so
// that the statement releases its read snapshot and the buffers it borrowed: text and blobs are
// bound without a copy, so they must outlive the query object.
class query {
 public:
  explicit query(sqlite3_stmt* s) noexcept : s_(s) {}
  ~query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  query& text(std::string_view v) {
    // A null pointer would bind SQL NULL; an empty string_view may carry one.
    return check(sqlite3_bind_text64(s_, next_++, v.empty() ? "" : v.data(), v.size(), nullptr,
                                     SQLITE_UTF8));
  }
  query& blob(std::string_view v) {
    return check(sqlite3_bind_blob64(s_, next_++, v.empty() ? "" : v.data(), v.size(), nullptr));
  }
  query& integer(std::int64_t v) { return check(sqlite3_bind_int64(s_, next_++, v)); }
  query& real(double v) { return check(sqlite3_bind_double(s_, next_++, v)); }
  query& optional_real(std::optional<double> v) {
    return v ? real(*v) : check(sqlite3_bind_null(s_, next_++));
  }

  /// SQLITE_ROW, SQLITE_DONE, or the error (a failed bind included).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }

  std::string text_at(int col) const {
    const unsigned char* p = sqlite3_column_text(s_, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p), bytes_at(col));
  }
  std::string blob_at(int col) const {
    const void* p = sqlite3_column_blob(s_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), bytes_at(col));
  }
  std::int64_t int_at(int col) const { return sqlite3_column_int64(s_, col); }
  std::uint64_t count_at(int col) const { return static_cast<std::uint64_t>(int_at(col)); }
  double real_at(int col) const { return sqlite3_column_double(s_, col); }

 private:
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

// BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails half-way with
// SQLITE_BUSY on lock upgrade. Rolls back unless committed.
class transaction {
 public:
  explicit transaction(sqlite3* db) noexcept : db_(db) {}
  ~transaction() {
    if (open_) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  result<void> begin(const std::string& what) {
    auto r = exec(db_, "BEGIN IMMEDIATE", what + ": BEGIN");
    open_ = r.has_value();
    return r;
  }
  result<void> commit(const std::string& what) {
    auto r = exec(db_, "COMMIT", what + ": COMMIT");
    open_ = !r.has_value();
    return r;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

void bind_stats(query& q, const variant_hour_stats& s) {
  q.text(s.experiment).text(s.variant).text(s.prompt_version).integer(s.hour);
  q.integer(static_cast<std::int64_t>(s.requests)).integer(static_cast<std::int64_t>(s.errors));
  for (const moments* m :
       {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
    q.real(m->n).real(m->sum).real(m->sum_sq);
  }
  q.blob(s.latency_sketch).blob(s.ttft_sketch);
}

variant_hour_stats read_stats_row(const query& q) {
  variant_hour_stats s;
  s.experiment = q.text_at(0);
  s.variant = q.text_at(1);
  s.prompt_version = q.text_at(2);
  s.hour = q.int_at(3);
  s.requests = q.count_at(4);
  s.errors = q.count_at(5);
  int col = 6;
  for (moments* m : {&s.latency_ms, &s.ttft_ms, &s.input_tokens, &s.output_tokens, &s.cost_usd}) {
    m->n = q.real_at(col++);
    m->sum = q.real_at(col++);
    m->sum_sq = q.real_at(col++);
  }
  s.latency_sketch = q.blob_at(col++);
  s.ttft_sketch = q.blob_at(col);
  return s;
}

feedback_summary read_feedback_row(const query& q) {
  feedback_summary f;
  f.variant = q.text_at(0);
  f.prompt_version = q.text_at(1);
  f.event = q.text_at(2);
  f.hour = q.int_at(3);
  f.count = q.count_at(4);
  f.value = moments{q.real_at(5), q.real_at(6), q.real_at(7)};
  return f;
}

// Lists are stored as JSON arrays: readable in the sqlite3 shell, any characters allowed.
template <class T>
std::string encode_list(const std::vector<T>& list) {
  return boost::json::serialize(boost::json::value_from(list));
}

// False when `text` is not a JSON array of T.
template <class T>
bool decode_list(std::string_view text, std::vector<T>& out) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec) {
    return false;
  }
  auto list = boost::json::try_value_to<std::vector<T>>(v);
  if (!list) {
    return false;
  }
  out = std::move(*list);
  return true;
}

// The bounds of the byte strings that start with `name@`: [name@, nameA), as 'A' follows '@'.
std::pair<std::string, std::string> prompt_range(std::string_view name) {
  return {std::string(name) + "@", std::string(name) + "A"};
}

std::string_view value_bytes(sqlite3_value* v) {
  const void* p = sqlite3_value_blob(v);  // before _bytes, as SQLite documents
  const auto n = static_cast<std::size_t>(sqlite3_value_bytes(v));
  return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), n);
}

// sy_sketch_merge(a, b): the caller's merge; an empty sketch is the identity. A throwing merge
// fails the statement (and so the batch) with its message.
void sql_sketch_merge(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* merge = static_cast<const sketch_merge*>(sqlite3_user_data(ctx));
  const std::string_view a = value_bytes(argv[0]);
  const std::string_view b = value_bytes(argv[1]);
  try {
    const std::string m = a.empty() ? std::string(b) : b.empty() ? std::string(a) : (*merge)(a, b);
    sqlite3_result_blob64(ctx, m.empty() ? "" : m.data(), m.size(), transient());
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(ctx);
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, (std::string("sketch merge failed: ") + e.what()).c_str(), -1);
  } catch (...) {
    sqlite3_result_error(ctx, "sketch merge failed", -1);
  }
}

class sqlite_store final : public experiment_store {
 public:
  sqlite_store(db_ptr db, sketch_merge merge) : db_(std::move(db)), merge_(std::move(merge)) {}

  // Registers sy_sketch_merge (it points at merge_, so only once the store has its address) and
  // prepares every statement once.
  result<void> init() {
    if (sqlite3_create_function_v2(db_.get(), "sy_sketch_merge", 2,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC, &merge_, sql_sketch_merge,
                                   nullptr, nullptr, nullptr) != SQLITE_OK) {
      return db_error(db_.get(), "registering the sketch merge function");
    }
    const auto sql = statement_sql();
    for (std::size_t i = 0; i < stmt_count; ++i) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_.get(), sql[i].c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s,
                             nullptr) != SQLITE_OK) {
        return db_error(db_.get(), "preparing `" + sql[i] + "`");
      }
      stmts_[i].reset(s);
    }
    return {};
  }

  result<void> write_batch(std::span<const variant_hour_stats> rows,
                           std::span<const unit_record> units) override {
    std::lock_guard lock(mu_);
    transaction tx(db_.get());
    if (auto r = tx.begin("write_batch"); !r) {
      return r.error();
    }
    for (const variant_hour_stats& row : rows) {
      query q(stmt(upsert_stats));
      bind_stats(q, row);
      if (q.step() != SQLITE_DONE) {
        return fail("write_batch: adding the statistics of experiment '" + row.experiment +
                    "' variant '" + row.variant + "'");
      }
    }
    // Counted here so that unit_counts need not scan every unit of an experiment.
    std::map<std::pair<std::string_view, std::string_view>, std::int64_t> new_units;
    for (const unit_record& u : units) {
      query q(stmt(insert_unit));
      q.text(u.experiment).integer(std::bit_cast<std::int64_t>(u.fingerprint));
      q.text(u.variant).integer(u.hour);
      if (q.step() != SQLITE_DONE) {
        return fail("write_batch: recording a unit of experiment '" + u.experiment + "'");
      }
      if (sqlite3_changes(db_.get()) == 1) {
        ++new_units[{u.experiment, u.variant}];
      }
    }
    for (const auto& [key, n] : new_units) {
      query q(stmt(bump_unit_count));
      q.text(key.first).text(key.second).integer(n);
      if (q.step() != SQLITE_DONE) {
        return fail("write_batch: counting units of experiment '" + std::string(key.first) + "'");
      }
    }
    return tx.commit("write_batch");
  }

  result<bool> add_feedback(const feedback_record& f) override {
    std::lock_guard lock(mu_);
    query q(stmt(insert_feedback));
    q.text(f.request_id).text(f.event).text(f.experiment).text(f.variant).text(f.prompt_version);
    q.optional_real(f.value).integer(f.unix_seconds);
    if (q.step() != SQLITE_DONE) {
      return fail("add_feedback: recording '" + f.event + "' for request '" + f.request_id + "'");
    }
    return sqlite3_changes(db_.get()) == 1;
  }

  result<std::vector<variant_hour_stats>> read_stats(std::string_view experiment,
                                                     std::int64_t from_hour,
                                                     std::int64_t to_hour) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_stats));
    q.text(experiment).integer(from_hour).integer(to_hour);
    return collect<variant_hour_stats>(q, read_stats_row, "read_stats");
  }

  result<std::vector<variant_hour_stats>> read_prompt_stats(std::string_view prompt_name) override {
    const auto [lo, hi] = prompt_range(prompt_name);
    std::lock_guard lock(mu_);
    query q(stmt(select_prompt_stats));
    q.text(lo).text(hi);
    return collect<variant_hour_stats>(q, read_stats_row, "read_prompt_stats");
  }

  result<std::map<std::string, std::uint64_t>> unit_counts(std::string_view experiment) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_unit_counts));
    q.text(experiment);
    std::map<std::string, std::uint64_t> out;
    if (!for_each_row(q, [&](const query& r) { out[r.text_at(0)] = r.count_at(1); })) {
      return fail("unit_counts");
    }
    return out;
  }

  result<std::vector<feedback_summary>> read_feedback(std::string_view experiment,
                                                      bool per_hour) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_feedback));
    q.text(experiment).integer(per_hour ? 1 : 0);
    return collect<feedback_summary>(q, read_feedback_row, "read_feedback");
  }

  result<std::vector<feedback_summary>> read_prompt_feedback(
      std::string_view prompt_name) override {
    const auto [lo, hi] = prompt_range(prompt_name);
    std::lock_guard lock(mu_);
    query q(stmt(select_prompt_feedback));
    q.text(lo).text(hi);
    return collect<feedback_summary>(q, read_feedback_row, "read_prompt_feedback");
  }

  result<std::vector<experiment_control>> load_controls() override {
    std::lock_guard lock(mu_);
    query q(stmt(select_controls));
    std::vector<experiment_control> out;
    std::optional<std::string> malformed;  // the experiment whose lists do not parse
    auto row = [&](const query& r) {
      experiment_control& c = out.emplace_back();
      c.experiment = r.text_at(0);
      c.status = r.text_at(1);
      c.winner = r.text_at(3);
      c.updated_unix = r.int_at(5);
      if (!decode_list(r.text_at(2), c.weights) || !decode_list(r.text_at(4), c.paused_variants)) {
        malformed = c.experiment;
      }
    };
    if (!for_each_row(q, row)) {
      return fail("load_controls");
    }
    if (malformed) {
      return make_error(errc::internal, "experiment store: load_controls: the control of '" +
                                            *malformed +
                                            "' has weights or paused_variants that "
                                            "are not a JSON array of numbers / strings");
    }
    return out;
  }

  result<void> save_control(const experiment_control& c) override {
    const std::string weights = encode_list(c.weights);
    const std::string paused = encode_list(c.paused_variants);
    std::lock_guard lock(mu_);
    query q(stmt(replace_control));
    q.text(c.experiment).text(c.status).text(weights).text(c.winner).text(paused);
    q.integer(c.updated_unix);
    if (q.step() != SQLITE_DONE) {
      return fail("save_control: saving the control of '" + c.experiment + "'");
    }
    return {};
  }

  result<void> add_guardrail_event(const guardrail_event& e) override {
    std::lock_guard lock(mu_);
    query q(stmt(insert_guardrail));
    q.text(e.experiment).text(e.variant).text(e.reason).text(e.detail).integer(e.unix_seconds);
    if (q.step() != SQLITE_DONE) {
      return fail("add_guardrail_event: recording an event of '" + e.experiment + "'");
    }
    return {};
  }

  result<std::vector<guardrail_event>> guardrail_events(std::string_view experiment) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_guardrails));
    q.text(experiment);
    auto row = [](const query& r) {
      return guardrail_event{r.text_at(0), r.text_at(1), r.text_at(2), r.text_at(3), r.int_at(4)};
    };
    return collect<guardrail_event>(q, row, "guardrail_events");
  }

 private:
  sqlite3_stmt* stmt(stmt_id id) const noexcept { return stmts_[id].get(); }

  // Built before any rollback, which would replace SQLite's message.
  error fail(const std::string& what) const { return db_error(db_.get(), what); }

  // Calls `row` for each result row; false on a SQLite error (see `fail`).
  template <class Row>
  static bool for_each_row(query& q, Row row) {
    int rc = SQLITE_OK;
    while ((rc = q.step()) == SQLITE_ROW) {
      row(q);
    }
    return rc == SQLITE_DONE;
  }

  template <class T, class Row>
  result<std::vector<T>> collect(query& q, Row row, const char* what) const {
    std::vector<T> out;
    if (!for_each_row(q, [&](const query& r) { out.push_back(row(r)); })) {
      return fail(what);
    }
    return out;
  }

  std::mutex mu_;
  db_ptr db_;  // declared before stmts_: statements are finalized before the connection closes
  sketch_merge merge_;
  std::array<stmt_ptr, stmt_count> stmts_;
};

// Single-row PRAGMA read (user_version, journal_mode); errors name the database file.
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

// Creates the schema in an empty database; refuses one written by a newer build, whose tables
// this build would misread.
result<void> migrate(sqlite3* db, const std::string& path) {
  transaction tx(db);
  if (auto r = tx.begin("creating the schema of " + path); !r) {
    return r.error();
  }
  auto version = pragma(db, "PRAGMA user_version", path);
  if (!version) {
    return version.error();
  }
  const int v = std::stoi(*version);
  if (v > schema_version || v < 0) {
    return make_error(errc::internal, "experiment store " + path + " has schema version " +
                                          *version + ", newer than this build supports (" +
                                          std::to_string(schema_version) +
                                          "); run a newer Switchyard or point data_dir elsewhere");
  }
  if (v == 0) {
    if (auto r = exec(db, schema_sql, "creating the schema of " + path); !r) {
      return r.error();
    }
  }
  return tx.commit("creating the schema of " + path);
}

result<db_ptr> open_db(const std::string& path) {
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
  if (auto r = migrate(db.get(), path); !r) {
    return r.error();
  }
  return db;
}

}  // namespace

result<std::unique_ptr<experiment_store>> open_sqlite_store(const std::string& dir,
                                                            sketch_merge merge) {
  if (!merge) {
    return make_error(errc::internal, "experiment store: no sketch merge function given");
  }
  std::error_code ec;
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
  }
  if (ec) {
    return make_error(errc::internal,
                      "experiment store: creating directory " + dir + ": " + ec.message());
  }
  auto db = open_db((std::filesystem::path(dir) / "switchyard.db").string());
  if (!db) {
    return db.error();
  }
  auto store = std::make_unique<sqlite_store>(std::move(*db), std::move(merge));
  if (auto r = store->init(); !r) {
    return r.error();
  }
  return std::unique_ptr<experiment_store>(std::move(store));
}

}  // namespace switchyard
