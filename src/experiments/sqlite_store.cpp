#include "switchyard/experiments/sqlite_store.hpp"

#include "switchyard/core/yield_pacer.hpp"

#include "sqlite_db.hpp"
#include "sqlite_schema.hpp"

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
#include <tuple>
#include <utility>

namespace switchyard {

namespace {

using namespace sqlite;
using namespace store_schema;

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
    // A second's units are thousands of statements (milliseconds of CPU): the pacer lets a
    // worker waiting for this CPU run between them (core/yield_pacer.hpp). One transaction
    // still, so a reader never sees half a flush.
    yield_pacer pacer;
    for (const variant_hour_stats& row : rows) {
      query q(stmt(upsert_stats));
      bind_stats(q, row);
      if (q.step() != SQLITE_DONE) {
        return fail("write_batch: adding the statistics of experiment '" + row.experiment +
                    "' variant '" + row.variant + "'");
      }
      pacer.step();
    }
    // Counted here so that unit_counts need not scan every unit of an experiment.
    std::map<std::tuple<std::string_view, std::int64_t, std::string_view>, std::int64_t> new_units;
    for (const unit_record& u : units) {
      query insert(stmt(insert_unit));
      bind_unit(insert, u, max_units_per_phase);
      if (insert.step() != SQLITE_DONE) {
        return fail("write_batch: recording a unit of experiment '" + u.experiment + "'");
      }
      pacer.step();
      if (sqlite3_changes(db_.get()) == 1) {
        ++new_units[{u.experiment, u.phase, u.variant}];
        continue;
      }
      query update(stmt(update_unit));  // known unit (or the phase is full: then a no-op)
      bind_unit(update, u, 0);
      if (update.step() != SQLITE_DONE) {
        return fail("write_batch: adding to a unit of experiment '" + u.experiment + "'");
      }
      pacer.step();
    }
    for (const auto& [key, n] : new_units) {
      query q(stmt(bump_unit_count));
      q.text(std::get<0>(key)).integer(std::get<1>(key)).text(std::get<2>(key)).integer(n);
      if (q.step() != SQLITE_DONE) {
        return fail("write_batch: counting units of experiment '" + std::string(std::get<0>(key)) +
                    "'");
      }
    }
    return tx.commit("write_batch");
  }

  result<bool> add_feedback(const feedback_record& f) override {
    std::lock_guard lock(mu_);
    query q(stmt(insert_feedback));
    q.text(f.request_id).text(f.event).text(f.experiment).text(f.variant).text(f.prompt_version);
    q.optional_real(f.value).integer(f.unix_seconds).integer(std::bit_cast<std::int64_t>(f.unit));
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

  result<unit_summary> read_units(std::string_view experiment, std::int64_t phase) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_units));
    q.text(experiment).integer(phase);
    unit_summary out;
    if (!for_each_row(q, [&](const query& r) { read_units_row(r, out); })) {
      return fail("read_units");
    }
    return out;
  }

  result<std::vector<phase_record>> phases(std::string_view experiment) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_phases));
    q.text(experiment);
    std::vector<phase_record> out;
    bool malformed = false;
    auto row = [&](const query& r) {
      phase_record& p = out.emplace_back();
      p.experiment = r.text_at(0);
      p.phase = r.int_at(1);
      p.start_unix = r.int_at(2);
      p.reason = r.text_at(5);
      malformed = malformed || !decode_list(r.text_at(3), p.variants) ||
                  !decode_list(r.text_at(4), p.weights);
    };
    if (!for_each_row(q, row)) {
      return fail("phases");
    }
    if (malformed) {
      return make_error(errc::internal, "experiment store: the phases of '" +
                                            std::string(experiment) +
                                            "' have variants or weights that are not JSON arrays");
    }
    return out;
  }

  result<void> add_phase(const phase_record& p) override {
    const std::string variants = encode_list(p.variants);
    const std::string weights = encode_list(p.weights);
    std::lock_guard lock(mu_);
    query q(stmt(replace_phase));
    q.text(p.experiment).integer(p.phase).integer(p.start_unix).text(variants).text(weights);
    q.text(p.reason);
    if (q.step() != SQLITE_DONE) {
      return fail("add_phase: recording phase " + std::to_string(p.phase) + " of '" + p.experiment +
                  "'");
    }
    return {};
  }

  result<std::vector<feedback_summary>> read_feedback(std::string_view experiment,
                                                      bool per_hour) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_feedback));
    q.text(experiment).integer(per_hour ? 1 : 0);
    return collect<feedback_summary>(q, read_feedback_row, "read_feedback");
  }

  result<std::vector<feedback_summary>> read_feedback_between(std::string_view experiment,
                                                              std::int64_t from_unix,
                                                              std::int64_t to_unix) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_feedback_between));
    q.text(experiment).integer(from_unix).integer(to_unix);
    return collect<feedback_summary>(q, read_feedback_row, "read_feedback_between");
  }

  result<std::map<std::string, unit_aggregate>> read_feedback_units(std::string_view experiment,
                                                                    std::int64_t phase,
                                                                    std::int64_t from_unix,
                                                                    std::int64_t to_unix) override {
    std::lock_guard lock(mu_);
    query q(stmt(select_feedback_units));
    q.text(experiment).integer(phase).integer(from_unix).integer(to_unix);
    std::map<std::string, unit_aggregate> out;
    if (!for_each_row(q, [&](const query& r) { read_feedback_units_row(r, out); })) {
      return fail("read_feedback_units");
    }
    return out;
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

  result<std::vector<stored_prompt_version>> load_prompt_versions() override {
    std::lock_guard lock(mu_);
    query q(stmt(select_prompt_versions));
    auto row = [](const query& r) {
      return stored_prompt_version{r.text_at(0), r.text_at(1), r.text_at(2), r.text_at(3),
                                   r.int_at(4)};
    };
    return collect<stored_prompt_version>(q, row, "load_prompt_versions");
  }

  result<void> put_prompt_versions(std::span<const stored_prompt_version> versions) override {
    std::lock_guard lock(mu_);
    transaction tx(db_.get());
    if (auto r = tx.begin("put_prompt_versions"); !r) {
      return r.error();
    }
    for (const stored_prompt_version& v : versions) {
      std::optional<std::string> stored;
      {
        query q(stmt(select_prompt_hash));
        q.text(v.name).text(v.version);
        if (!for_each_row(q, [&](const query& r) { stored = r.text_at(0); })) {
          return fail("put_prompt_versions: reading " + v.name + "@" + v.version);
        }
      }
      if (stored && *stored == v.hash) {
        continue;  // the same content again: idempotent
      }
      if (stored) {
        return make_error(errc::conflict, v.name + "@" + v.version + " already exists with hash " +
                                              *stored + ", not " + v.hash);
      }
      query q(stmt(insert_prompt_version));
      q.text(v.name).text(v.version).text(v.hash).text(v.body).integer(v.created_unix);
      if (q.step() != SQLITE_DONE) {
        return fail("put_prompt_versions: writing " + v.name + "@" + v.version);
      }
    }
    return tx.commit("put_prompt_versions");
  }

  result<std::uint64_t> delete_prompt_versions(std::string_view name,
                                               std::string_view version) override {
    std::lock_guard lock(mu_);
    query q(stmt(version.empty() ? delete_prompt : delete_prompt_version));
    q.text(name);
    if (!version.empty()) {
      q.text(version);
    }
    if (q.step() != SQLITE_DONE) {
      return fail("delete_prompt_versions: " + std::string(name));
    }
    return static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
  }

 private:
  sqlite3_stmt* stmt(stmt_id id) const noexcept { return stmts_[id].get(); }

  // Built before any rollback, which would replace SQLite's message.
  error fail(const std::string& what) const { return db_error(db_.get(), what); }

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
  } else if (v < schema_version) {
    if (v == 1) {
      if (auto r = exec(db, migrate_v1_sql, "upgrading " + path + " to phases"); !r) {
        return r.error();
      }
    }
    if (v <= 2) {
      if (auto r = exec(db, migrate_v2_sql, "upgrading " + path + " to per-unit feedback"); !r) {
        return r.error();
      }
    }
    if (auto r = exec(db, migrate_v3_sql, "upgrading " + path + " to the prompt registry"); !r) {
      return r.error();
    }
  }
  return tx.commit("creating the schema of " + path);
}

result<db_ptr> open_db(const std::string& path) {
  auto db = open_wal(path);
  if (!db) {
    return db.error();
  }
  if (auto r = migrate(db->get(), path); !r) {
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
