// data_dir/evals.db: saved reports come back (summary in the list, the whole report by id), newest
// first, filtered by experiment; `keep` deletes all but the newest; a reopened file keeps them.
#include "switchyard/jobs/eval_store.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace switchyard {
namespace {

namespace json = boost::json;

struct temp_file {
  std::string dir;
  temp_file() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-evalstore-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
  }
  ~temp_file() { std::filesystem::remove_all(dir); }
  std::string path() const { return dir + "/evals.db"; }
};

eval_report report(const std::string& id, const std::string& experiment, std::int64_t at) {
  eval_report r;
  r.id = id;
  r.experiment = experiment;
  r.dataset = "golden.jsonl";
  r.created_at = at;
  r.finished_at = at + 1;
  r.judge_model = "judge";
  r.case_ids = {"c1"};
  return r;
}

std::vector<std::string> ids(const std::vector<json::value>& list) {
  std::vector<std::string> out;
  for (const auto& v : list) {
    out.emplace_back(v.at("id").as_string());
  }
  return out;
}

TEST(eval_store, saves_lists_and_reads_reports) {
  temp_file f;
  auto st = eval_store::open(f.path());
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_TRUE((*st)->save(report("e1", "x", 100), 10));
  ASSERT_TRUE((*st)->save(report("e2", "y", 200), 10));
  ASSERT_TRUE((*st)->save(report("e3", "x", 300), 10));
  auto all = (*st)->list("", 50);
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(*all), (std::vector<std::string>{"e3", "e2", "e1"}));
  auto xs = (*st)->list("x", 1);
  ASSERT_TRUE(xs);
  EXPECT_EQ(ids(*xs), (std::vector<std::string>{"e3"}));
  auto one = (*st)->get("e2");
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((**one).at("experiment"), "y");
  EXPECT_EQ((**one).at("judge_model"), "judge");
  EXPECT_TRUE((**one).at("embedding_model").is_null());
  auto none = (*st)->get("nope");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(eval_store, keeps_the_newest_and_survives_a_reopen) {
  temp_file f;
  {
    auto st = eval_store::open(f.path());
    ASSERT_TRUE(st) << st.error().message;
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE((*st)->save(report("e" + std::to_string(i), "x", 100 * i), 3));
    }
    auto all = (*st)->list("", 50);
    ASSERT_TRUE(all);
    EXPECT_EQ(ids(*all), (std::vector<std::string>{"e5", "e4", "e3"}));
    // Replacing an id does not count twice.
    ASSERT_TRUE((*st)->save(report("e5", "x", 500), 3));
    EXPECT_EQ((*st)->list("", 50)->size(), 3u);
  }
  auto st = eval_store::open(f.path());
  ASSERT_TRUE(st) << st.error().message;
  auto all = (*st)->list("", 50);
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(*all), (std::vector<std::string>{"e5", "e4", "e3"}));
  EXPECT_FALSE(*(*st)->get("e1"));
}

TEST(eval_store, an_unopenable_file_names_the_store) {
  auto st = eval_store::open("/nonexistent-dir/sub/evals.db");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("evaluation store: opening /nonexistent-dir/sub/evals.db"),
            std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace switchyard
