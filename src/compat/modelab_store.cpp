#include "switchyard/compat/modelab_store.hpp"

#include "../experiments/sqlite_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>

namespace switchyard {

namespace {

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS modelab_assignments (
  assignment_id TEXT PRIMARY KEY, flag_name TEXT NOT NULL, variant_name TEXT NOT NULL,
  user_id TEXT NOT NULL, session_id TEXT, config_json TEXT, assigned_at TEXT,
  assigned_unix INTEGER NOT NULL, received_unix INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS modelab_assignments_flag
  ON modelab_assignments (flag_name, variant_name);
CREATE TABLE IF NOT EXISTS modelab_executions (
  key TEXT PRIMARY KEY, assignment_id TEXT NOT NULL, latency_ms REAL, input_tokens INTEGER,
  output_tokens INTEGER, cost REAL, error TEXT, failed INTEGER NOT NULL, metadata_json TEXT,
  recorded_at TEXT, recorded_unix INTEGER NOT NULL, received_unix INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS modelab_executions_assignment ON modelab_executions (assignment_id);
CREATE TABLE IF NOT EXISTS modelab_events (
  event_id TEXT PRIMARY KEY, assignment_id TEXT NOT NULL, event_type TEXT NOT NULL,
  event_name TEXT, payload_json TEXT, created_at TEXT, created_unix INTEGER NOT NULL,
  received_unix INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS modelab_events_assignment ON modelab_events (assignment_id);
)sql";

// The bucket of a time column: ?2 > 0 → floor to a multiple of ?2; else one bucket (0).
#define SY_BUCKET(col) "CASE WHEN ?2 > 0 THEN (" col " / ?2) * ?2 ELSE 0 END"

constexpr const char* insert_assignment_sql =
    "INSERT OR IGNORE INTO modelab_assignments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* insert_execution_sql =
    "INSERT OR IGNORE INTO modelab_executions VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* insert_event_sql =
    "INSERT OR IGNORE INTO modelab_events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* known_sql = "SELECT 1 FROM modelab_assignments WHERE assignment_id = ?1";
constexpr const char* flags_sql =
    "SELECT DISTINCT flag_name FROM modelab_assignments ORDER BY flag_name";
constexpr const char* assign_stats_sql =
    "SELECT " SY_BUCKET("assigned_unix") " AS b, variant_name, COUNT(*), COUNT(DISTINCT user_id), "
    "MIN(assigned_unix), MAX(assigned_unix) FROM modelab_assignments WHERE flag_name = ?1 "
    "GROUP BY b, variant_name";
constexpr const char* exec_stats_sql =
    "SELECT " SY_BUCKET("e.recorded_unix") " AS b, a.variant_name, COUNT(*), SUM(e.failed), "
    "COUNT(e.latency_ms), TOTAL(e.latency_ms), TOTAL(e.latency_ms * e.latency_ms), "
    "COUNT(e.cost), TOTAL(e.cost), TOTAL(e.cost * e.cost), "
    "SUM(e.input_tokens IS NOT NULL OR e.output_tokens IS NOT NULL), "
    "IFNULL(SUM(e.input_tokens), 0), IFNULL(SUM(e.output_tokens), 0) "
    "FROM modelab_executions e JOIN modelab_assignments a ON a.assignment_id = e.assignment_id "
    "WHERE a.flag_name = ?1 GROUP BY b, a.variant_name";
constexpr const char* event_stats_sql =
    "SELECT " SY_BUCKET("v.created_unix") " AS b, a.variant_name, v.event_type, "
    "IFNULL(v.event_name, ''), COUNT(*) FROM modelab_events v "
    "JOIN modelab_assignments a ON a.assignment_id = v.assignment_id WHERE a.flag_name = ?1 "
    "GROUP BY b, a.variant_name, v.event_type, v.event_name";
constexpr const char* orphans_sql =
    "SELECT (SELECT COUNT(*) FROM modelab_executions e WHERE NOT EXISTS (SELECT 1 FROM "
    "modelab_assignments a WHERE a.assignment_id = e.assignment_id)), (SELECT COUNT(*) FROM "
    "modelab_events v WHERE NOT EXISTS (SELECT 1 FROM modelab_assignments a WHERE "
    "a.assignment_id = v.assignment_id))";

#undef SY_BUCKET

struct finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt = std::unique_ptr<sqlite3_stmt, finalizer>;

// SQLITE_TRANSIENT without the macro's old-style cast.
sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

// One use of a prepared statement: binds by position, resets (releasing its read snapshot) on
// scope exit. Keeps the first bind failure for step().
class use {
 public:
  explicit use(sqlite3_stmt* s) noexcept : s_(s) {}
  ~use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  use(const use&) = delete;
  use& operator=(const use&) = delete;

  use& text(std::string_view v) {
    return check(sqlite3_bind_text(s_, next_++, v.data(), static_cast<int>(v.size()), transient()));
  }
  // "" → NULL: optional text columns.
  use& opt_text(std::string_view v) {
    return v.empty() ? check(sqlite3_bind_null(s_, next_++)) : text(v);
  }
  use& integer(std::int64_t v) { return check(sqlite3_bind_int64(s_, next_++, v)); }
  use& opt_integer(std::optional<std::int64_t> v) {
    return v ? integer(*v) : check(sqlite3_bind_null(s_, next_++));
  }
  use& opt_real(std::optional<double> v) {
    return check(v ? sqlite3_bind_double(s_, next_++, *v) : sqlite3_bind_null(s_, next_++));
  }
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }
  std::int64_t int_at(int c) const { return sqlite3_column_int64(s_, c); }
  std::uint64_t count_at(int c) const {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_at(c)));
  }
  double real_at(int c) const { return sqlite3_column_double(s_, c); }
  std::string text_at(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : "";
  }

 private:
  use& check(int rc) {
    if (rc_ == SQLITE_OK) {
      rc_ = rc;
    }
    return *this;
  }
  sqlite3_stmt* s_;
  int next_ = 1;
  int rc_ = SQLITE_OK;
};

modelab_variant_stats& slot(
    std::map<std::pair<std::int64_t, std::string>, modelab_variant_stats>& m, std::int64_t bucket,
    const std::string& variant) {
  auto& v = m[{bucket, variant}];
  v.variant = variant;
  return v;
}

}  // namespace

struct modelab_store::statements {
  stmt insert_assignment, insert_execution, insert_event, known, flags, assign_stats, exec_stats,
      event_stats, orphans, begin, commit, rollback;
};

modelab_store::modelab_store(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), st_(std::make_unique<statements>()) {}

modelab_store::~modelab_store() {
  st_.reset();  // statements before their connection
  sqlite3_close_v2(db_);
}

error modelab_store::failure(const std::string& what) const {
  return make_error(errc::internal,
                    "modelab store (" + path_ + "): " + what + ": " + sqlite3_errmsg(db_));
}

result<std::unique_ptr<modelab_store>> modelab_store::open(const std::string& path) {
  // The experiment store's opening (WAL, busy timeout, the retried WAL conversion), so that two
  // processes opening one new data_dir together both start.
  auto db = sqlite::open_wal(path, "modelab store");
  if (!db) {
    return db.error();
  }
  sqlite3* raw = db->release();
  std::unique_ptr<modelab_store> s(new modelab_store(raw, path));  // owns (closes) it from here
  if (sqlite3_exec(raw, schema_sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return s->failure("creating its tables");
  }
  const auto prepare = [&](stmt& out, const char* sql) {
    sqlite3_stmt* p = nullptr;
    const bool ok =
        sqlite3_prepare_v3(raw, sql, -1, SQLITE_PREPARE_PERSISTENT, &p, nullptr) == SQLITE_OK;
    out.reset(p);
    return ok;
  };
  auto& st = *s->st_;
  const std::pair<stmt*, const char*> all[] = {
      {&st.insert_assignment, insert_assignment_sql},
      {&st.insert_execution, insert_execution_sql},
      {&st.insert_event, insert_event_sql},
      {&st.known, known_sql},
      {&st.flags, flags_sql},
      {&st.assign_stats, assign_stats_sql},
      {&st.exec_stats, exec_stats_sql},
      {&st.event_stats, event_stats_sql},
      {&st.orphans, orphans_sql},
      {&st.begin, "BEGIN IMMEDIATE"},
      {&st.commit, "COMMIT"},
      {&st.rollback, "ROLLBACK"},
  };
  for (const auto& [out, sql] : all) {
    if (!prepare(*out, sql)) {
      return s->failure(std::string("preparing ") + sql);
    }
  }
  return s;
}

result<modelab_ingest_counts> modelab_store::add(const modelab_batch& batch,
                                                 std::int64_t now_unix) {
  std::lock_guard lock(mu_);
  if (use(st_->begin.get()).step() != SQLITE_DONE) {
    return failure("starting a transaction");
  }
  auto r = add_locked(batch, now_unix);
  if (!r) {
    use(st_->rollback.get()).step();  // the whole batch or none of it
    return r;
  }
  if (use(st_->commit.get()).step() != SQLITE_DONE) {
    auto e = failure("committing");
    use(st_->rollback.get()).step();
    return e;
  }
  return r;
}

result<modelab_ingest_counts> modelab_store::add_locked(const modelab_batch& batch,
                                                        std::int64_t now_unix) {
  modelab_ingest_counts n;
  const auto count = [&](int rc) -> bool {
    if (rc != SQLITE_DONE) {
      return false;
    }
    (sqlite3_changes(db_) > 0 ? n.accepted : n.duplicates) += 1;
    return true;
  };
  // Whether a newly stored record's assignment is unknown (an orphan, until it arrives).
  const auto orphan = [&](const std::string& assignment_id) {
    use q(st_->known.get());
    q.text(assignment_id);
    return q.step() != SQLITE_ROW;
  };
  for (const auto& a : batch.assignments) {
    use q(st_->insert_assignment.get());
    q.text(a.assignment_id).text(a.flag_name).text(a.variant_name).text(a.user_id);
    q.opt_text(a.session_id).opt_text(a.config_json).opt_text(a.assigned_at);
    q.integer(a.assigned_unix).integer(now_unix);
    if (!count(q.step())) {
      return failure("storing an assignment");
    }
  }
  for (const auto& e : batch.executions) {
    const auto before = n.accepted;
    {
      use q(st_->insert_execution.get());
      q.text(e.key).text(e.assignment_id).opt_real(e.latency_ms).opt_integer(e.input_tokens);
      q.opt_integer(e.output_tokens).opt_real(e.cost).opt_text(e.error);
      q.integer(e.error.empty() ? 0 : 1).opt_text(e.metadata_json).opt_text(e.recorded_at);
      q.integer(e.recorded_unix).integer(now_unix);
      if (!count(q.step())) {
        return failure("storing an execution");
      }
    }
    if (n.accepted > before && orphan(e.assignment_id)) {
      ++n.orphans;
    }
  }
  for (const auto& e : batch.events) {
    const auto before = n.accepted;
    {
      use q(st_->insert_event.get());
      q.text(e.event_id).text(e.assignment_id).text(e.event_type).opt_text(e.event_name);
      q.opt_text(e.payload_json).opt_text(e.created_at).integer(e.created_unix).integer(now_unix);
      if (!count(q.step())) {
        return failure("storing an event");
      }
    }
    if (n.accepted > before && orphan(e.assignment_id)) {
      ++n.orphans;
    }
  }
  return n;
}

result<std::vector<std::string>> modelab_store::flags() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  use q(st_->flags.get());
  int rc = SQLITE_OK;
  while ((rc = q.step()) == SQLITE_ROW) {
    out.push_back(q.text_at(0));
  }
  if (rc != SQLITE_DONE) {
    return failure("listing flags");
  }
  return out;
}

result<void> modelab_store::fill(
    std::string_view name, std::int64_t bucket_seconds,
    std::map<std::pair<std::int64_t, std::string>, modelab_variant_stats>& out) {
  int rc = SQLITE_OK;
  {
    use q(st_->assign_stats.get());
    q.text(name).integer(bucket_seconds);
    while ((rc = q.step()) == SQLITE_ROW) {
      auto& v = slot(out, q.int_at(0), q.text_at(1));
      v.assignments = q.count_at(2);
      v.users = q.count_at(3);
    }
    if (rc != SQLITE_DONE) {
      return failure("reading assignments");
    }
  }
  {
    use q(st_->exec_stats.get());
    q.text(name).integer(bucket_seconds);
    while ((rc = q.step()) == SQLITE_ROW) {
      auto& v = slot(out, q.int_at(0), q.text_at(1));
      v.executions = q.count_at(2);
      v.errors = q.count_at(3);
      v.latency_ms = {static_cast<double>(q.count_at(4)), q.real_at(5), q.real_at(6)};
      v.cost = {static_cast<double>(q.count_at(7)), q.real_at(8), q.real_at(9)};
      v.token_executions = q.count_at(10);
      v.input_tokens = q.count_at(11);
      v.output_tokens = q.count_at(12);
    }
    if (rc != SQLITE_DONE) {
      return failure("reading executions");
    }
  }
  use q(st_->event_stats.get());
  q.text(name).integer(bucket_seconds);
  while ((rc = q.step()) == SQLITE_ROW) {
    auto& v = slot(out, q.int_at(0), q.text_at(1));
    const auto type = q.text_at(2);
    const auto n = q.count_at(4);
    if (type == "success") {
      v.success += n;
    } else if (type == "failure") {
      v.failure += n;
    } else {
      v.custom[q.text_at(3)] += n;
    }
  }
  if (rc != SQLITE_DONE) {
    return failure("reading events");
  }
  return {};
}

result<modelab_flag_stats> modelab_store::flag(std::string_view name) {
  std::lock_guard lock(mu_);
  modelab_flag_stats out;
  out.flag = std::string(name);
  std::map<std::pair<std::int64_t, std::string>, modelab_variant_stats> m;
  if (auto r = fill(name, 0, m); !r) {
    return r.error();
  }
  for (auto& [k, v] : m) {
    out.variants.push_back(std::move(v));
  }
  {
    // First and last assignment time, for the summary.
    use q(st_->assign_stats.get());
    q.text(name).integer(0);
    bool first = true;
    while (q.step() == SQLITE_ROW) {
      const auto lo = q.int_at(4), hi = q.int_at(5);
      out.first_unix = first ? lo : std::min(out.first_unix, lo);
      out.last_unix = first ? hi : std::max(out.last_unix, hi);
      first = false;
    }
  }
  return out;
}

result<std::vector<modelab_timeline_bucket>> modelab_store::timeline(std::string_view name,
                                                                     std::int64_t bucket_seconds) {
  std::lock_guard lock(mu_);
  std::map<std::pair<std::int64_t, std::string>, modelab_variant_stats> m;
  if (auto r = fill(name, std::max<std::int64_t>(1, bucket_seconds), m); !r) {
    return r.error();
  }
  std::vector<modelab_timeline_bucket> out;
  for (auto& [k, v] : m) {
    if (out.empty() || out.back().start_unix != k.first) {
      out.push_back({k.first, {}});
    }
    out.back().variants.push_back(std::move(v));
  }
  return out;
}

result<modelab_orphan_counts> modelab_store::orphans() {
  std::lock_guard lock(mu_);
  use q(st_->orphans.get());
  if (q.step() != SQLITE_ROW) {
    return failure("counting orphans");
  }
  return modelab_orphan_counts{q.count_at(0), q.count_at(1)};
}

}  // namespace switchyard
