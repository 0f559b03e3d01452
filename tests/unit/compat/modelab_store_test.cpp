#include "switchyard/compat/modelab_store.hpp"

#include "switchyard/compat/modelab_report.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

namespace json = boost::json;

class ModelabStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("modelab_store_test_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    auto s = modelab_store::open((dir_ / "modelab.db").string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<modelab_store> store_;
};

modelab_assignment assignment(std::string id, std::string variant, std::string user,
                              std::int64_t t = 1000) {
  modelab_assignment a;
  a.assignment_id = std::move(id);
  a.flag_name = "flag";
  a.variant_name = std::move(variant);
  a.user_id = std::move(user);
  a.assigned_unix = t;
  return a;
}

modelab_execution execution(std::string aid, double latency, std::int64_t in, std::int64_t out,
                            double cost, std::string err = {}) {
  modelab_execution e;
  e.assignment_id = aid;
  e.latency_ms = latency;
  e.input_tokens = in;
  e.output_tokens = out;
  e.cost = cost;
  e.error = err;
  e.recorded_unix = 4000;
  e.key = aid + "|" + std::to_string(latency) + "|" + err;
  return e;
}

modelab_event event(std::string id, std::string aid, std::string type, std::string name = {}) {
  modelab_event e;
  e.event_id = std::move(id);
  e.assignment_id = std::move(aid);
  e.event_type = std::move(type);
  e.event_name = std::move(name);
  e.created_unix = 8000;
  return e;
}

TEST_F(ModelabStore, AggregatesPerVariant) {
  modelab_batch a;
  a.assignments = {assignment("a1", "control", "u1"), assignment("a2", "control", "u2"),
                   assignment("a3", "treatment", "u3"), assignment("a4", "treatment", "u3")};
  ASSERT_TRUE(store_->add(a, 1));
  modelab_batch x;
  x.executions = {execution("a1", 100, 10, 20, 0.5), execution("a2", 300, 30, 40, 1.5, "boom"),
                  execution("a3", 50, 1, 2, 0.25)};
  ASSERT_TRUE(store_->add(x, 1));
  modelab_batch ev;
  ev.events = {event("e1", "a1", "success"),          event("e2", "a2", "failure"),
               event("e3", "a3", "success"),          event("e4", "a3", "custom", "copied"),
               event("e5", "a4", "custom", "copied"), event("e6", "a4", "custom", "thumbs_up")};
  ASSERT_TRUE(store_->add(ev, 1));
  auto f = store_->flag("flag");
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->variants.size(), 2u);
  const auto& c = f->variants[0];
  EXPECT_EQ(c.variant, "control");
  EXPECT_EQ(c.assignments, 2u);
  EXPECT_EQ(c.users, 2u);
  EXPECT_EQ(c.executions, 2u);
  EXPECT_EQ(c.errors, 1u);
  EXPECT_DOUBLE_EQ(c.latency_ms.mean(), 200);
  EXPECT_DOUBLE_EQ(c.cost.sum, 2.0);
  EXPECT_EQ(c.input_tokens, 40u);
  EXPECT_EQ(c.output_tokens, 60u);
  EXPECT_EQ(c.success, 1u);
  EXPECT_EQ(c.failure, 1u);
  const auto& t = f->variants[1];
  EXPECT_EQ(t.users, 1u);  // u3 twice
  EXPECT_EQ(t.custom.at("copied"), 2u);
  EXPECT_EQ(t.custom.at("thumbs_up"), 1u);
  auto flags = store_->flags();
  ASSERT_TRUE(flags);
  EXPECT_EQ(*flags, std::vector<std::string>{"flag"});
  EXPECT_FALSE(store_->flag("other")->variants.size());

  auto j = modelab_flag_json(*f, {});
  const auto& v0 = j["variants"].as_array()[0].as_object();
  EXPECT_EQ(v0.at("success_rate").as_double(), 0.5);
  EXPECT_EQ(v0.at("avg_latency_ms").as_double(), 200);
  EXPECT_EQ(v0.at("avg_cost").as_double(), 1.0);
  EXPECT_EQ(v0.at("error_rate").as_double(), 0.5);
  EXPECT_EQ(j["switchyard"].as_object()["control"].as_string(), "control");
  EXPECT_EQ(j["switchyard"].as_object()["verdict"].as_object()["state"].as_string(), "collecting");
  EXPECT_FALSE(j["switchyard"].as_object()["srm"].as_object()["checked"].as_bool());
}

TEST_F(ModelabStore, RetriedBatchesCountOnce) {
  modelab_batch a;
  a.assignments = {assignment("a1", "control", "u1"), assignment("a1", "control", "u1")};
  auto n = store_->add(a, 1);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->accepted, 1u);
  EXPECT_EQ(n->duplicates, 1u);
  modelab_batch x;
  x.executions = {execution("a1", 100, 1, 1, 0.1)};
  x.events = {event("e1", "a1", "success")};
  EXPECT_EQ(store_->add(x, 1)->accepted, 2u);
  auto again = store_->add(x, 2);  // the SDK's retried flush
  ASSERT_TRUE(again);
  EXPECT_EQ(again->accepted, 0u);
  EXPECT_EQ(again->duplicates, 2u);
  auto f = store_->flag("flag");
  EXPECT_EQ(f->variants[0].executions, 1u);
  EXPECT_EQ(f->variants[0].success, 1u);
}

TEST_F(ModelabStore, OrphansAreCountedThenAdopted) {
  modelab_batch x;
  x.executions = {execution("late", 10, 1, 1, 0.1)};
  x.events = {event("e1", "late", "success")};
  auto n = store_->add(x, 1);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->orphans, 2u);
  EXPECT_EQ(store_->orphans()->executions, 1u);
  EXPECT_EQ(store_->orphans()->events, 1u);
  modelab_batch a;
  a.assignments = {assignment("late", "control", "u9")};
  ASSERT_TRUE(store_->add(a, 2));
  EXPECT_EQ(store_->orphans()->executions, 0u);
  auto f = store_->flag("flag");
  EXPECT_EQ(f->variants[0].executions, 1u);
  EXPECT_EQ(f->variants[0].success, 1u);
}

TEST_F(ModelabStore, SurvivesReopen) {
  modelab_batch a;
  a.assignments = {assignment("a1", "control", "u1")};
  ASSERT_TRUE(store_->add(a, 1));
  store_.reset();
  auto s = modelab_store::open((dir_ / "modelab.db").string());
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->flag("flag")->variants.at(0).assignments, 1u);
  EXPECT_EQ((*s)->add(a, 2)->duplicates, 1u);
}

TEST_F(ModelabStore, TimelineBuckets) {
  modelab_batch a;
  a.assignments = {assignment("a1", "control", "u1", 3600), assignment("a2", "b", "u2", 7300)};
  a.executions = {execution("a1", 10, 1, 1, 0.1)};  // recorded at 4000 → bucket 3600
  ASSERT_TRUE(store_->add(a, 1));
  auto t = store_->timeline("flag", 3600);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].start_unix, 3600);
  EXPECT_EQ((*t)[0].variants[0].executions, 1u);
  EXPECT_EQ((*t)[1].start_unix, 7200);
  auto j = modelab_timeline_json("flag", *t, 3600);
  EXPECT_EQ(j["buckets"].as_array()[1].as_object().at("start_iso").as_string(),
            "1970-01-01T02:00:00Z");
}

TEST_F(ModelabStore, OpenFailsWithTheFileName) {
  auto s = modelab_store::open("/nonexistent-dir/x/modelab.db");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("/nonexistent-dir/x/modelab.db"), std::string::npos);
}

// Two gateways starting on one new data_dir (two replicas on a node, a restart overlapping the
// old process, tests in parallel processes): each must open the store. CI failed once with
// "creating its tables: database is locked" here, because SQLite does not wait out the lock that
// turning a new file to WAL takes. Four openers a round; before the fix about one open in 60
// failed, so 50 rounds fail it with a probability above 0.95.
TEST_F(ModelabStore, ConcurrentOpensOfANewFileAllSucceed) {
  for (int round = 0; round < 50; ++round) {
    const auto file = (dir_ / ("race-" + std::to_string(round) + ".db")).string();
    std::vector<std::string> failures(4);
    {
      std::vector<std::jthread> openers;
      for (auto& failure : failures) {
        openers.emplace_back([&file, &failure] {
          auto s = modelab_store::open(file);
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
