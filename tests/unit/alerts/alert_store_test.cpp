#include "switchyard/alerts/alert_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <stdlib.h>

namespace switchyard {
namespace {

class alert_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/switchyard-alerts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/alerts.db"; }
  std::string dir_;
};

alert sample(std::int64_t id, const std::string& state) {
  alert a;
  a.id = id;
  a.rule = "errors";
  a.kind = "rule";
  a.metric = "error_rate";
  a.severity = "critical";
  a.state = state;
  a.scope.model = "gpt-4o-mini";
  a.scope.experiment = "exp \"quoted\"";
  a.value = 0.25;
  a.threshold = 0.05;
  a.comparison = "above";
  a.window_seconds = 300;
  a.message = "error_rate 25% …";
  a.started_at = 1000 + id;
  a.updated_at = 1100 + id;
  if (state == "resolved") {
    a.resolved_at = 1200 + id;
  }
  return a;
}

TEST_F(alert_store_test, alerts_survive_reopening_with_every_field) {
  alert guard;
  guard.id = 2;
  guard.rule = guard.kind = "guardrail";
  guard.metric = "guardrail_trip";
  guard.severity = "warning";
  guard.scope.experiment = "e";
  guard.scope.variant = "t";
  guard.message = "paused";
  guard.acknowledged_at = 1500;
  {
    auto s = alert_store::open(path());
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->save(sample(1, "firing")));
    ASSERT_TRUE((*s)->save(guard));
  }
  auto s = alert_store::open(path());
  ASSERT_TRUE(s) << s.error().message;
  auto all = (*s)->load();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], sample(1, "firing"));
  EXPECT_EQ((*all)[1], guard);
  EXPECT_FALSE((*all)[1].value) << "null stays null";
  EXPECT_FALSE((*all)[1].window_seconds);
}

TEST_F(alert_store_test, save_replaces_by_id) {
  auto s = alert_store::open(path());
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->save(sample(1, "firing")));
  ASSERT_TRUE((*s)->save(sample(1, "resolved")));
  auto all = (*s)->load();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].state, "resolved");
  EXPECT_EQ((*all)[0].resolved_at, 1201);
}

TEST_F(alert_store_test, prune_keeps_the_newest_resolved_and_every_active_one) {
  auto s = alert_store::open(path());
  ASSERT_TRUE(s);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE((*s)->save(sample(i, i == 2 ? "firing" : "resolved")));
  }
  auto gone = (*s)->prune(2);
  ASSERT_TRUE(gone) << gone.error().message;
  EXPECT_EQ(*gone, 2u);
  auto all = (*s)->load();
  ASSERT_TRUE(all);
  std::vector<std::int64_t> ids;
  for (const auto& a : *all) {
    ids.push_back(a.id);
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{2, 4, 5}));
}

TEST_F(alert_store_test, an_unusable_file_is_an_error_naming_it) {
  const std::string bad = dir_ + "/not-a-db";
  std::ofstream(bad) << std::string(4096, 'x');
  auto s = alert_store::open(bad);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("alert store"), std::string::npos);
  EXPECT_NE(s.error().message.find(bad), std::string::npos);
}

}  // namespace
}  // namespace switchyard
