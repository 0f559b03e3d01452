#include "switchyard/jobs/batch_object.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <set>
#include <string>

namespace switchyard {
namespace {

namespace json = boost::json;
using enum batch_status;

TEST(batch_status, names_round_trip) {
  for (auto s :
       {validating, failed, in_progress, finalizing, completed, expired, cancelling, cancelled}) {
    EXPECT_EQ(parse_batch_status(to_string(s)), s);
  }
  EXPECT_FALSE(parse_batch_status("done"));
}

TEST(batch_status, each_status_names_the_batch_member_of_its_timestamp) {
  // The stores write these names as SQLite columns and Redis fields: each must be a member of
  // the Batch object, and every status but validating has its own.
  batch_record b;
  b.id = "batch_x";
  const auto members = batch_json(b);
  std::set<std::string> seen;
  for (auto s :
       {validating, failed, in_progress, finalizing, completed, expired, cancelling, cancelled}) {
    const std::string name = status_timestamp_name(s);
    EXPECT_TRUE(members.contains(name)) << name;
    EXPECT_TRUE(seen.insert(name).second) << name << " twice";
  }
  EXPECT_STREQ(status_timestamp_name(cancelling), "cancelling_at");
  EXPECT_STREQ(status_timestamp_name(validating), "created_at");
}

TEST(batch_status, state_machine) {
  EXPECT_TRUE(can_transition(validating, in_progress));
  EXPECT_TRUE(can_transition(validating, failed));
  EXPECT_TRUE(can_transition(validating, cancelling));
  EXPECT_TRUE(can_transition(in_progress, finalizing));
  EXPECT_TRUE(can_transition(in_progress, cancelling));
  EXPECT_TRUE(can_transition(in_progress, expired));
  EXPECT_TRUE(can_transition(finalizing, completed));
  EXPECT_TRUE(can_transition(cancelling, cancelled));
  EXPECT_FALSE(can_transition(in_progress, completed));  // always through finalizing
  EXPECT_FALSE(can_transition(validating, completed));
  for (auto t : {completed, failed, expired, cancelled}) {
    EXPECT_TRUE(is_terminal(t));
    for (auto to : {validating, in_progress, finalizing, cancelling, completed}) {
      EXPECT_FALSE(can_transition(t, to));
    }
    EXPECT_FALSE(can_cancel(t));
  }
  EXPECT_TRUE(can_cancel(validating));
  EXPECT_TRUE(can_cancel(in_progress));
  EXPECT_FALSE(can_cancel(finalizing));
}

// Every member of OpenAI's Batch object example (openapi.yaml, components.schemas.Batch).
TEST(batch_json, has_every_member_of_the_spec_example) {
  batch_record b;
  b.id = "batch_abc123";
  b.endpoint = "/v1/completions";
  b.input_file_id = "file-abc123";
  b.created_at = 1711471533;
  b.expires_at = 1711557933;
  b.total = 100;
  b.completed = 95;
  b.failed = 5;
  b.metadata_json = R"({"customer_id":"user_123456789"})";
  const auto o = batch_json(b);
  for (auto k : {"id",
                 "object",
                 "endpoint",
                 "model",
                 "errors",
                 "input_file_id",
                 "completion_window",
                 "status",
                 "output_file_id",
                 "error_file_id",
                 "created_at",
                 "in_progress_at",
                 "expires_at",
                 "finalizing_at",
                 "completed_at",
                 "failed_at",
                 "expired_at",
                 "cancelling_at",
                 "cancelled_at",
                 "request_counts",
                 "usage",
                 "metadata"}) {
    EXPECT_TRUE(o.contains(k)) << k;
  }
  EXPECT_EQ(o.at("object").as_string(), "batch");
  EXPECT_EQ(o.at("status").as_string(), "validating");
  EXPECT_TRUE(o.at("errors").is_null());
  EXPECT_TRUE(o.at("output_file_id").is_null());
  EXPECT_TRUE(o.at("in_progress_at").is_null());
  EXPECT_EQ(o.at("expires_at").as_int64(), 1711557933);
  EXPECT_EQ(o.at("request_counts").at("completed").as_uint64(), 95u);
  EXPECT_EQ(o.at("metadata").at("customer_id").as_string(), "user_123456789");
  b.errors_json = R"([{"code":"invalid_json_line","message":"m","param":null,"line":2}])";
  const auto f = batch_json(b);
  EXPECT_EQ(f.at("errors").at("object").as_string(), "list");
  EXPECT_EQ(f.at("errors").at("data").at(0).at("line").as_int64(), 2);
}

TEST(file_json, required_members_of_openai_file) {
  const auto o = file_json({"file-1", 120, 1677610602, "in.jsonl", "batch"});
  for (auto k : {"id", "object", "bytes", "created_at", "filename", "purpose", "status"}) {
    EXPECT_TRUE(o.contains(k)) << k;
  }
  EXPECT_EQ(o.at("object").as_string(), "file");
  EXPECT_EQ(o.at("bytes").as_uint64(), 120u);
}

}  // namespace
}  // namespace switchyard
