#include "switchyard/cli/batch_cli.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard {
namespace {

boost::json::object sample() {
  return boost::json::parse(R"({"id":"batch_1","status":"in_progress",
    "request_counts":{"total":200,"completed":48,"failed":2},
    "switchyard":{"cost_usd":0.0012}})")
      .as_object();
}

TEST(batch_cli, plain_line_for_pipes) {
  EXPECT_EQ(render_batch_progress(sample(), false),
            "batch_1 status=in_progress done=50/200 completed=48 failed=2 cost_usd=0.001200");
}

TEST(batch_cli, bar_for_terminals) {
  EXPECT_EQ(render_batch_progress(sample(), true, 20),
            "batch_1 in_progress [#####...............] 25% 50/200 (2 failed) $0.001200");
}

TEST(batch_cli, a_batch_without_counts_yet) {
  auto b = boost::json::parse(R"({"id":"batch_2","status":"validating"})").as_object();
  EXPECT_EQ(render_batch_progress(b, true, 4),
            "batch_2 validating [....] 0% 0/0 (0 failed) $0.000000");
}

TEST(batch_cli, bad_arguments_exit_2) {
  char prog[] = "batch", status[] = "status";
  char* none[] = {prog};
  EXPECT_EQ(batch_command(1, none), 2);
  char id[] = "batch_1", bad[] = "--bogus";
  char* args[] = {prog, status, id, bad};
  EXPECT_EQ(batch_command(4, args), 2);
}

}  // namespace
}  // namespace switchyard
