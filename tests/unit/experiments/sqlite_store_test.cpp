#include "switchyard/experiments/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

constexpr std::int64_t h0 = 1'700'000'000 / 3600 * 3600;  // an arbitrary UTC hour
constexpr std::int64_t hour = 3600;

// A fresh directory per test, removed afterwards; the store's merge is concatenation with '|'
// so a test can see that (and how often) it was called.
class sqlite_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/switchyard-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void reopen() {
    store_.reset();  // closes the connection first: a restart
    auto s = open_sqlite_store(dir_, merge());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  sketch_merge merge() {
    return [this](std::string_view a, std::string_view b) {
      ++merges_;
      return std::string(a) + "|" + std::string(b);
    };
  }

  experiment_store& store() { return *store_; }

  std::string dir_;
  std::unique_ptr<experiment_store> store_;
  std::atomic<int> merges_{0};
};

variant_hour_stats stats_row(std::string experiment, std::string variant, std::int64_t h,
                             std::string prompt_version = "") {
  variant_hour_stats s;
  s.experiment = std::move(experiment);
  s.variant = std::move(variant);
  s.prompt_version = std::move(prompt_version);
  s.hour = h;
  s.requests = 10;
  s.errors = 1;
  s.latency_ms = {10, 1500, 250000};
  s.ttft_ms = {10, 300, 9500};
  s.input_tokens = {10, 1000, 110000};
  s.output_tokens = {10, 2000, 420000};
  s.cost_usd = {10, 0.5, 0.03};
  return s;
}

feedback_record feedback(std::string request_id, std::string event, std::optional<double> value,
                         std::int64_t t, std::string variant = "control",
                         std::string prompt_version = "summarizer@v1", std::string exp = "exp") {
  return feedback_record{std::move(request_id),
                         std::move(event),
                         std::move(exp),
                         std::move(variant),
                         std::move(prompt_version),
                         value,
                         t};
}

std::vector<variant_hour_stats> read_all(experiment_store& s, std::string_view experiment) {
  auto r = s.read_stats(experiment, 0, std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::vector<variant_hour_stats>{};
}

TEST_F(sqlite_store_test, write_batch_twice_adds_sums_and_merges_sketches) {
  variant_hour_stats a = stats_row("exp", "control", h0, "summarizer@v1");
  a.latency_sketch = "L1";
  a.ttft_sketch = "T1";
  ASSERT_TRUE(store().write_batch({&a, 1}, {}));
  EXPECT_EQ(merges_, 0);  // nothing to merge with yet
  a.latency_sketch = "L2";
  a.ttft_sketch = "T2";
  ASSERT_TRUE(store().write_batch({&a, 1}, {}));
  EXPECT_EQ(merges_, 2);
  a.latency_sketch.clear();  // an empty sketch is the identity: no call
  ASSERT_TRUE(store().write_batch({&a, 1}, {}));
  EXPECT_EQ(merges_, 3);

  auto rows = read_all(store(), "exp");
  ASSERT_EQ(rows.size(), 1u);
  const variant_hour_stats& r = rows[0];
  EXPECT_EQ(r.experiment, "exp");
  EXPECT_EQ(r.variant, "control");
  EXPECT_EQ(r.prompt_version, "summarizer@v1");
  EXPECT_EQ(r.hour, h0);
  EXPECT_EQ(r.requests, 30u);
  EXPECT_EQ(r.errors, 3u);
  EXPECT_EQ(r.latency_ms, (moments{30, 4500, 750000}));
  EXPECT_EQ(r.ttft_ms, (moments{30, 900, 28500}));
  EXPECT_EQ(r.input_tokens, (moments{30, 3000, 330000}));
  EXPECT_EQ(r.output_tokens, (moments{30, 6000, 1260000}));
  EXPECT_DOUBLE_EQ(r.cost_usd.sum, 1.5);
  EXPECT_EQ(r.latency_sketch, "L1|L2");
  EXPECT_EQ(r.ttft_sketch, "T1|T2|T2");
}

TEST_F(sqlite_store_test, read_stats_selects_the_hour_range_ordered_by_hour_and_variant) {
  std::vector<variant_hour_stats> rows = {
      stats_row("exp", "treatment", h0 + hour), stats_row("exp", "control", h0 + hour),
      stats_row("exp", "control", h0),          stats_row("exp", "control", h0 + 2 * hour),
      stats_row("other", "control", h0),
  };
  ASSERT_TRUE(store().write_batch(rows, {}));
  auto r = store().read_stats("exp", h0, h0 + 2 * hour);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].hour, h0);
  EXPECT_EQ((*r)[1].hour, h0 + hour);
  EXPECT_EQ((*r)[1].variant, "control");
  EXPECT_EQ((*r)[2].variant, "treatment");
  EXPECT_EQ((*r)[2].latency_sketch, "");
}

TEST_F(sqlite_store_test, first_unit_assignment_wins_and_units_are_counted_per_variant) {
  const std::uint64_t high_bit = 0xFFFF'FFFF'FFFF'FFF0u;  // does not fit an int64 unconverted
  std::vector<unit_record> first = {
      {"exp", "control", 1, h0},
      {"exp", "treatment", 1, h0},  // same unit in the same batch: the first wins
      {"exp", "treatment", high_bit, h0},
      {"other", "treatment", 1, h0},  // same fingerprint, another experiment
  };
  ASSERT_TRUE(store().write_batch({}, first));
  std::vector<unit_record> second = {
      {"exp", "treatment", 1, h0 + hour},  // reassignment attempt later: ignored
      {"exp", "control", high_bit, h0 + hour},
      {"exp", "treatment", 2, h0 + hour},
  };
  ASSERT_TRUE(store().write_batch({}, second));

  auto counts = store().unit_counts("exp");
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(*counts, (std::map<std::string, std::uint64_t>{{"control", 1}, {"treatment", 2}}));
  auto other = store().unit_counts("other");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, (std::map<std::string, std::uint64_t>{{"treatment", 1}}));
  auto none = store().unit_counts("unknown");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// Per-unit sums add up across flushes; the aggregates are the sums, squares and cross products
// the ratio metrics need; a unit seen with a second variant is mixed and leaves the aggregates.
TEST_F(sqlite_store_test, units_keep_per_unit_sums_per_phase_and_mark_mixed_units) {
  auto unit = [](std::string variant, std::uint64_t fp, std::int64_t phase, double requests,
                 double errors) {
    unit_record u{"exp", std::move(variant), fp, h0, phase, {}};
    u.sums.requests = requests;
    u.sums.errors = errors;
    u.sums.latency_ms = 100 * requests;
    return u;
  };
  std::vector<unit_record> a = {unit("control", 1, 1, 2, 1), unit("control", 2, 1, 3, 0),
                                unit("treatment", 3, 1, 1, 1)};
  ASSERT_TRUE(store().write_batch({}, a));
  std::vector<unit_record> b = {unit("control", 1, 1, 2, 1),  // user 1 again: 4 requests, 2 errors
                                unit("treatment", 2, 1, 1, 0),   // user 2 now in treatment: mixed
                                unit("treatment", 1, 2, 5, 5)};  // phase 2: user 1 moved: mixed
  ASSERT_TRUE(store().write_batch({}, b));
  auto p1 = store().read_units("exp", 1);
  ASSERT_TRUE(p1) << p1.error().message;
  EXPECT_EQ(p1->mixed, 1u);
  EXPECT_EQ(p1->units, (std::map<std::string, std::uint64_t>{{"control", 1}, {"treatment", 1}}));
  const ratio_moments& c = p1->variants.at("control").errors;
  EXPECT_EQ(c, (ratio_moments{1, 2, 4, 4, 16, 8}));  // one unit: M 2, D 4
  EXPECT_EQ(p1->variants.at("control").latency_ms.m_sum, 400);
  auto p2 = store().read_units("exp", 2);
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->mixed, 1u);
  EXPECT_TRUE(p2->variants.empty());
  EXPECT_EQ(store().unit_counts("exp")->at("treatment"), 2u);  // over phases
}

TEST_F(sqlite_store_test, phases_round_trip_in_order) {
  const phase_record one{"exp", 1, h0, {"control", "treatment"}, {0.5, 0.5}, "start"};
  const phase_record two{
      "exp", 2, h0 + 60, {"control", "treatment"}, {0.2, 0.8}, "weights_changed"};
  ASSERT_TRUE(store().add_phase(two));
  ASSERT_TRUE(store().add_phase(one));
  ASSERT_TRUE(store().add_phase({"other", 1, h0, {"a"}, {1}, "start"}));
  auto p = store().phases("exp");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, (std::vector<phase_record>{one, two}));
  reopen();
  EXPECT_EQ(*store().phases("exp"), (std::vector<phase_record>{one, two}));
}

// Feedback whose id carried the unit, summed per unit then over units (success of judged, value
// of valued events); mixed units and feedback without a unit are left out.
TEST_F(sqlite_store_test, feedback_units_give_per_unit_success_and_score) {
  auto fb = [](std::string id, std::string event, std::optional<double> v, std::uint64_t unit,
               std::string variant = "control") {
    feedback_record f = feedback(std::move(id), std::move(event), v, h0, std::move(variant));
    f.unit = unit;
    return f;
  };
  for (const auto& f : {fb("a1", "success", std::nullopt, 1), fb("a2", "failure", std::nullopt, 1),
                        fb("a3", "success", 4.0, 1), fb("b1", "failure", 2.0, 2),
                        fb("c1", "success", std::nullopt, 0),  // no unit: not per unit
                        fb("d1", "success", std::nullopt, 3, "treatment"),
                        fb("m1", "success", std::nullopt, 9)}) {  // a mixed unit
    ASSERT_TRUE(store().add_feedback(f));
  }
  const unit_record moved[] = {{"exp", "control", 9, h0, 1, {}},
                               {"exp", "treatment", 9, h0, 1, {}}};
  ASSERT_TRUE(store().write_batch({}, moved));
  auto u = store().read_feedback_units("exp", 1, h0, h0 + 10);
  ASSERT_TRUE(u) << u.error().message;
  // Unit 1: 2 successes of 3 judged, value 4 of 1; unit 2: 0 of 1, value 2 of 1.
  EXPECT_EQ(u->at("control").success, (ratio_moments{2, 2, 4, 4, 10, 6}));
  EXPECT_EQ(u->at("control").score, (ratio_moments{2, 6, 20, 2, 2, 6}));
  EXPECT_EQ(u->at("treatment").success, (ratio_moments{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(u->at("treatment").score.units, 0);
  EXPECT_TRUE(store().read_feedback_units("exp", 1, h0 + 1, h0 + 10)->empty());  // by time
}

TEST_F(sqlite_store_test, feedback_between_selects_a_phase_by_time) {
  ASSERT_TRUE(store().add_feedback(feedback("r1", "success", std::nullopt, h0)));
  ASSERT_TRUE(store().add_feedback(feedback("r2", "success", std::nullopt, h0 + 10)));
  ASSERT_TRUE(store().add_feedback(feedback("r3", "success", std::nullopt, h0 + 20)));
  auto f = store().read_feedback_between("exp", h0 + 10, h0 + 20);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ(f->at(0).count, 1u);
  EXPECT_EQ(f->at(0).variant, "control");
}

// A database written by the previous schema (no phases) is upgraded in place: its rows and units
// become phase 1.
TEST_F(sqlite_store_test, a_version_1_database_is_upgraded_to_phases) {
  store_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/switchyard.db").c_str(), &db), SQLITE_OK);
  const char* v1 = R"sql(
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
CREATE TABLE controls (
  experiment TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, weights TEXT NOT NULL,
  winner TEXT NOT NULL, paused_variants TEXT NOT NULL, updated_unix INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE guardrail_events (
  id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, unix_seconds INTEGER NOT NULL);
INSERT INTO variant_hours VALUES ('exp', 'control', '', 1699999200, 7, 1, 7, 70, 700, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 7, 0.7, 0.07, x'', x'');
INSERT INTO units VALUES ('exp', 42, 'control', 1699999200);
INSERT INTO unit_counts VALUES ('exp', 'control', 1);
PRAGMA user_version = 1;
)sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  reopen();
  const auto rows = read_all(store(), "exp");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].requests, 7u);
  EXPECT_EQ(rows[0].phase, 1);
  EXPECT_EQ(rows[0].cost_usd.sum, 0.7);
  EXPECT_EQ(store().unit_counts("exp")->at("control"), 1u);
  EXPECT_EQ(store().read_units("exp", 1)->units.at("control"), 1u);
  const unit_record same{"exp", "control", 42, h0, 1, {}};
  ASSERT_TRUE(store().write_batch({}, {&same, 1}));
  EXPECT_EQ(store().unit_counts("exp")->at("control"), 1u);  // still the same unit
  feedback_record f = feedback("r", "success", std::nullopt, h0);
  f.unit = 42;
  ASSERT_TRUE(store().add_feedback(f));  // and feedback has its unit column
  EXPECT_EQ(store().read_feedback_units("exp", 1, 0, h0 + 1)->at("control").success.units, 1);
  // and the prompt registry's table exists (schema 4), empty.
  ASSERT_TRUE(store().load_prompt_versions());
  EXPECT_TRUE(store().load_prompt_versions()->empty());
}

TEST_F(sqlite_store_test, duplicate_feedback_returns_false_and_keeps_the_first) {
  auto first = store().add_feedback(feedback("req-1", "thumbs", 1.0, h0 + 10));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = store().add_feedback(feedback("req-1", "thumbs", 0.0, h0 + 20));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto other_event = store().add_feedback(feedback("req-1", "copied", std::nullopt, h0 + 20));
  ASSERT_TRUE(other_event);
  EXPECT_TRUE(*other_event);

  auto total = store().read_feedback("exp", false);
  ASSERT_TRUE(total);
  ASSERT_EQ(total->size(), 2u);
  EXPECT_EQ((*total)[1].event, "thumbs");
  EXPECT_EQ((*total)[1].count, 1u);
  EXPECT_EQ((*total)[1].value, (moments{1, 1, 1}));
}

TEST_F(sqlite_store_test, read_feedback_per_hour_and_in_total) {
  for (auto f : {feedback("r1", "thumbs", 1.0, h0 + 5), feedback("r2", "thumbs", 0.0, h0 + 3599),
                 feedback("r3", "thumbs", 1.0, h0 + hour), feedback("r4", "flag", {}, h0 + 7),
                 feedback("r5", "thumbs", 4.0, h0, "treatment"),
                 feedback("r6", "thumbs", 9.0, h0, "control", "", "other")}) {
    ASSERT_TRUE(store().add_feedback(f));
  }
  auto hourly = store().read_feedback("exp", true);
  ASSERT_TRUE(hourly) << hourly.error().message;
  ASSERT_EQ(hourly->size(), 4u);
  const auto& h = *hourly;  // ordered by hour, variant, prompt_version, event
  EXPECT_EQ(h[0].hour, h0);
  EXPECT_EQ(h[0].variant, "control");
  EXPECT_EQ(h[0].event, "flag");
  EXPECT_EQ(h[0].count, 1u);
  EXPECT_EQ(h[0].value, moments{});  // no values: a count-only event
  EXPECT_EQ(h[1].event, "thumbs");
  EXPECT_EQ(h[1].prompt_version, "summarizer@v1");
  EXPECT_EQ(h[1].count, 2u);
  EXPECT_EQ(h[1].value, (moments{2, 1, 1}));
  EXPECT_EQ(h[2].variant, "treatment");
  EXPECT_EQ(h[2].value, (moments{1, 4, 16}));
  EXPECT_EQ(h[3].hour, h0 + hour);
  EXPECT_EQ(h[3].value, (moments{1, 1, 1}));

  auto total = store().read_feedback("exp", false);
  ASSERT_TRUE(total);
  ASSERT_EQ(total->size(), 3u);
  EXPECT_EQ((*total)[1].hour, 0);
  EXPECT_EQ((*total)[1].variant, "control");
  EXPECT_EQ((*total)[1].event, "thumbs");
  EXPECT_EQ((*total)[1].count, 3u);
  EXPECT_EQ((*total)[1].value, (moments{3, 2, 2}));
}

TEST_F(sqlite_store_test, prompt_stats_and_feedback_match_the_name_at_prefix_only) {
  std::vector<variant_hour_stats> rows = {
      stats_row("exp", "control", h0, "summarizer@v1"),
      stats_row("exp", "treatment", h0, "summarizer@v2"),
      stats_row("exp2", "a", h0 + hour, "summarizer@v2"),
      stats_row("exp", "x", h0, "summarizer2@v1"),
      stats_row("exp", "y", h0, "summarizerA"),
      stats_row("exp", "z", h0, "summarizer"),
      stats_row("exp", "w", h0, ""),
  };
  ASSERT_TRUE(store().write_batch(rows, {}));
  auto stats = store().read_prompt_stats("summarizer");
  ASSERT_TRUE(stats) << stats.error().message;
  ASSERT_EQ(stats->size(), 3u);
  EXPECT_EQ((*stats)[0].prompt_version, "summarizer@v1");
  EXPECT_EQ((*stats)[1].experiment, "exp");
  EXPECT_EQ((*stats)[1].prompt_version, "summarizer@v2");
  EXPECT_EQ((*stats)[2].experiment, "exp2");
  auto other = store().read_prompt_stats("summarizer2");
  ASSERT_TRUE(other);
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].variant, "x");

  for (auto f : {feedback("r1", "thumbs", 1.0, h0, "control", "summarizer@v1"),
                 feedback("r2", "thumbs", 0.0, h0, "treatment", "summarizer@v1", "exp2"),
                 feedback("r3", "thumbs", 1.0, h0, "control", "summarizer@v2"),
                 feedback("r4", "thumbs", 1.0, h0, "control", "summarizer2@v1"),
                 feedback("r5", "thumbs", 1.0, h0, "control", "summarizer")}) {
    ASSERT_TRUE(store().add_feedback(f));
  }
  auto fb = store().read_prompt_feedback("summarizer");
  ASSERT_TRUE(fb) << fb.error().message;
  ASSERT_EQ(fb->size(), 2u);
  EXPECT_EQ((*fb)[0].prompt_version, "summarizer@v1");
  EXPECT_EQ((*fb)[0].variant, "");  // aggregated across experiments and variants
  EXPECT_EQ((*fb)[0].count, 2u);
  EXPECT_EQ((*fb)[0].value, (moments{2, 1, 1}));
  EXPECT_EQ((*fb)[1].prompt_version, "summarizer@v2");
  EXPECT_EQ((*fb)[1].count, 1u);
}

TEST_F(sqlite_store_test, controls_round_trip_with_special_characters) {
  const experiment_control odd{"exp 'q' \"dq\"; DROP TABLE controls; -- ü 🚀",
                               "concluded",
                               {},
                               "v,1 \"best\"",
                               {"a,b", "[c]", "d\\e\"f", ""},
                               h0 + 1};
  const experiment_control plain{"a-exp", "paused", {0.1, 0.7, 0.2, 1e-300}, "", {}, h0};
  ASSERT_TRUE(store().save_control(odd));
  ASSERT_TRUE(store().save_control(plain));
  auto loaded = store().load_controls();
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0], plain);  // ordered by experiment; doubles exact
  EXPECT_EQ((*loaded)[1], odd);

  experiment_control resumed = plain;  // saving again replaces
  resumed.status = "running";
  resumed.weights.clear();
  ASSERT_TRUE(store().save_control(resumed));
  loaded = store().load_controls();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0], resumed);
}

TEST_F(sqlite_store_test, update_control_edits_only_what_the_edit_changes) {
  // No control stored yet: the edit starts from an empty one named after the experiment.
  auto first = store().update_control("exp", [](experiment_control& c) { c.weights = {0.7, 0.3}; });
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->experiment, "exp");
  auto second = store().update_control("exp", [](experiment_control& c) { c.status = "paused"; });
  ASSERT_TRUE(second) << second.error().message;
  auto loaded = store().load_controls();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].status, "paused");
  EXPECT_EQ((*loaded)[0].weights, (std::vector<double>{0.7, 0.3}));  // the first edit holds
  EXPECT_EQ((*loaded)[0], *second);
}

TEST_F(sqlite_store_test, guardrail_events_per_experiment_oldest_first) {
  const guardrail_event late{"exp", "treatment", "error_rate", "12% > 5%", h0 + 60};
  const guardrail_event early{"exp", "treatment", "latency", "p95 1200 ms", h0};
  const guardrail_event other{"exp2", "b", "error_rate", "", h0};
  for (const auto& e : {late, early, other}) {
    ASSERT_TRUE(store().add_guardrail_event(e));
  }
  auto events = store().guardrail_events("exp");
  ASSERT_TRUE(events) << events.error().message;
  EXPECT_EQ(*events, (std::vector<guardrail_event>{early, late}));
  auto none = store().guardrail_events("nope");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(sqlite_store_test, reopening_keeps_everything) {
  variant_hour_stats row = stats_row("exp", "control", h0, "summarizer@v1");
  row.latency_sketch = std::string("\0\x01\xff sketch", 10);  // binary bytes survive
  const unit_record unit{"exp", "control", 42, h0};
  ASSERT_TRUE(store().write_batch({&row, 1}, {&unit, 1}));
  ASSERT_TRUE(store().add_feedback(feedback("r1", "thumbs", 1.0, h0)));
  const experiment_control control{"exp", "paused", {0.5, 0.5}, "", {"treatment"}, h0};
  ASSERT_TRUE(store().save_control(control));
  const guardrail_event event{"exp", "treatment", "error_rate", "detail", h0};
  ASSERT_TRUE(store().add_guardrail_event(event));

  reopen();

  auto rows = read_all(store(), "exp");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].requests, 10u);
  EXPECT_EQ(rows[0].latency_ms, row.latency_ms);
  EXPECT_EQ(rows[0].latency_sketch, row.latency_sketch);
  EXPECT_EQ(store().unit_counts("exp")->at("control"), 1u);
  EXPECT_FALSE(*store().add_feedback(feedback("r1", "thumbs", 1.0, h0)));
  EXPECT_EQ(store().read_feedback("exp", false)->at(0).count, 1u);
  EXPECT_EQ(*store().load_controls(), std::vector<experiment_control>{control});
  EXPECT_EQ(*store().guardrail_events("exp"), std::vector<guardrail_event>{event});
  ASSERT_TRUE(store().write_batch({&row, 1}, {&unit, 1}));  // still accumulating after restart
  EXPECT_EQ(read_all(store(), "exp").at(0).requests, 20u);
  EXPECT_EQ(store().unit_counts("exp")->at("control"), 1u);
}

TEST_F(sqlite_store_test, refuses_a_database_with_a_newer_schema) {
  store_.reset();
  sqlite3* db = nullptr;
  const std::string path = dir_ + "/switchyard.db";
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 5", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto s = open_sqlite_store(dir_, merge());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, errc::internal);
  EXPECT_NE(s.error().message.find("schema version 5"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("newer than this build supports (4)"), std::string::npos);
  EXPECT_NE(s.error().message.find(path), std::string::npos);
}

TEST_F(sqlite_store_test, malformed_control_lists_fail_loading_with_the_experiment_named) {
  ASSERT_TRUE(store().save_control({"exp-x", "paused", {0.5, 0.5}, "", {}, h0}));
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/switchyard.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE controls SET weights = '[0.5, \"a\"]'", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  reopen();
  auto loaded = store().load_controls();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("'exp-x'"), std::string::npos) << loaded.error().message;
}

TEST_F(sqlite_store_test, open_fails_clearly_when_the_directory_cannot_be_made) {
  const std::string file = dir_ + "/a-file";
  std::ofstream(file) << "x";
  auto s = open_sqlite_store(file + "/sub", merge());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("creating directory " + file + "/sub"), std::string::npos)
      << s.error().message;
  EXPECT_FALSE(open_sqlite_store(dir_, sketch_merge{}));  // no merge function: a wiring bug

  const std::string garbage_dir = dir_ + "/garbage";
  std::filesystem::create_directory(garbage_dir);
  std::ofstream(garbage_dir + "/switchyard.db") << std::string(4096, 'g');
  auto g = open_sqlite_store(garbage_dir, merge());
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find(garbage_dir + "/switchyard.db"), std::string::npos)
      << g.error().message;
  EXPECT_NE(g.error().message.find("not a database"), std::string::npos) << g.error().message;
}

TEST_F(sqlite_store_test, a_failing_merge_fails_the_whole_batch) {
  store_.reset();
  auto s = open_sqlite_store(dir_, [](std::string_view, std::string_view) -> std::string {
    throw std::runtime_error("unknown sketch format");
  });
  ASSERT_TRUE(s);
  variant_hour_stats row = stats_row("exp", "control", h0);
  row.latency_sketch = "x";
  ASSERT_TRUE((*s)->write_batch({&row, 1}, {}));
  const unit_record unit{"exp", "control", 7, h0};
  auto r = (*s)->write_batch({&row, 1}, {&unit, 1});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("write_batch"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("unknown sketch format"), std::string::npos);
  auto rows = read_all(**s, "exp");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].requests, 10u);                // rolled back
  EXPECT_TRUE((*s)->unit_counts("exp")->empty());  // units of the failed batch too
}

TEST_F(sqlite_store_test, concurrent_writers_and_a_reader_leave_exact_totals) {
  constexpr int batches = 100;
  auto writer = [this](std::uint64_t first_unit) {
    for (int i = 0; i < batches; ++i) {
      std::vector<variant_hour_stats> rows = {stats_row("exp", "control", h0),
                                              stats_row("exp", "treatment", h0 + hour)};
      rows[0].latency_sketch = "s";
      std::vector<unit_record> units = {
          {"exp", "control", first_unit + static_cast<std::uint64_t>(i), h0}};
      ASSERT_TRUE(store().write_batch(rows, units));
    }
  };
  std::atomic<bool> read_failed{false};
  std::thread a(writer, 0);
  std::thread b(writer, 1'000'000);
  std::thread reader([&] {
    for (int i = 0; i < 2 * batches; ++i) {  // bounded; overlaps the writers
      auto rows = store().read_stats("exp", h0, h0 + 2 * hour);
      auto units = store().unit_counts("exp");
      if (!rows || !units) {
        read_failed = true;
        continue;
      }
      // Batches are atomic: a read sees both rows of a batch or neither; units are read later,
      // so they include at least the batches the rows showed.
      const std::uint64_t seen = rows->empty() ? 0 : (*rows)[0].requests;
      const std::uint64_t unit_total = units->empty() ? 0 : units->at("control");
      if ((!rows->empty() && (rows->size() != 2 || (*rows)[1].requests != seen)) ||
          unit_total * 10 < seen) {
        read_failed = true;
      }
    }
  });
  a.join();
  b.join();
  reader.join();
  EXPECT_FALSE(read_failed);
  auto rows = read_all(store(), "exp");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.requests, 2u * batches * 10);
    EXPECT_EQ(r.errors, 2u * batches);
    EXPECT_EQ(r.latency_ms, (moments{2 * batches * 10, 2 * batches * 1500, 2 * batches * 250000}));
  }
  EXPECT_EQ(rows[0].latency_sketch.size(), 2u * batches * 2 - 1);  // "s|s|…|s"
  EXPECT_EQ(merges_, 2 * batches - 1);
  EXPECT_EQ(store().unit_counts("exp")->at("control"), 2u * batches);
}

TEST_F(sqlite_store_test, ten_thousand_rows_in_one_batch_are_quick) {
  std::vector<variant_hour_stats> rows;
  std::vector<unit_record> units;
  for (int i = 0; i < 10'000; ++i) {
    rows.push_back(stats_row("exp", "v" + std::to_string(i % 10), h0 + (i / 10) * hour, "p@v1"));
    rows.back().latency_sketch = std::string(256, 'x');
    units.push_back({"exp", "v" + std::to_string(i % 10), static_cast<std::uint64_t>(i), h0});
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store().write_batch(rows, units));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  std::cout << "[ timing   ] 10,000 rows + 10,000 units in one write_batch: " << ms << " ms\n";
  RecordProperty("write_batch_10000_ms", std::to_string(ms));
  EXPECT_LT(ms, 5000);  // generous: shared cores and sanitizer builds
  EXPECT_EQ(read_all(store(), "exp").size(), 10'000u);
  EXPECT_EQ(store().unit_counts("exp")->at("v3"), 1'000u);
}

// Two gateways starting on one new data_dir together (two replicas on a node, a restart
// overlapping the old process) must both open the store: SQLite does not wait out the lock
// that turning a new file to WAL takes, so the store retries it (sqlite_db.cpp).
TEST_F(sqlite_store_test, concurrent_opens_of_a_new_data_dir_all_succeed) {
  for (int round = 0; round < 30; ++round) {
    const auto dir = dir_ + "/race-" + std::to_string(round);
    std::filesystem::create_directories(dir);
    std::vector<std::string> failures(4);
    {
      std::vector<std::jthread> openers;
      for (auto& failure : failures) {
        openers.emplace_back([&, &failure = failure] {
          auto s = open_sqlite_store(dir, merge());
          if (!s) {
            failure = s.error().message;
          }
        });
      }
    }
    for (const auto& failure : failures) {
      ASSERT_EQ(failure, "") << "round " << round;
    }
  }
}

}  // namespace
}  // namespace switchyard
