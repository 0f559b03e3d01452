// The prompt registry in the Redis store against a real redis-server: writes are all or nothing
// (one Lua script), the same content again is a no-op, another content under one name@version is
// a conflict naming it, and two replicas see one registry.
#include "harness.hpp"
#include "redis_server.hpp"
#include "switchyard/experiments/prompt_registry.hpp"
#include "switchyard/store/redis_store.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace switchyard::test {
namespace {

std::unique_ptr<redis_experiment_store> open_store(redis_server& s) {
  auto c = redis_client::start(*parse_redis_url(s.url()), duration(1000));
  EXPECT_TRUE(c->wait_connected(duration(5000)));
  return std::make_unique<redis_experiment_store>(
      c, redis_store_options{"t:", duration(500), 1 << 20});
}

stored_prompt_version version(std::string name, std::string v, std::string text,
                              std::int64_t created) {
  auto body = boost::json::parse(R"({"template": ""})").as_object();
  body["template"] = text;
  body["version"] = v;
  auto s = parse_version_spec(name, body);
  EXPECT_TRUE(s) << s.error().message;
  return record_of(*s, created);
}

TEST(RedisPromptRegistry, writes_are_all_or_nothing_and_shared) {
  redis_server s;
  auto a = open_store(s);
  auto b = open_store(s);
  const auto v1 = version("p", "v1", "One", 10);
  const auto v2 = version("p", "v2", "Two", 20);
  const auto q1 = version("q", "v1", "Q", 5);
  ASSERT_TRUE(a->put_prompt_versions(std::vector{v2, v1, q1}));
  ASSERT_TRUE(b->put_prompt_versions(std::vector{v1}));  // the same content: a no-op
  auto other = version("p", "v1", "Changed", 30);
  const auto v3 = version("p", "v3", "Three", 40);
  auto r = b->put_prompt_versions(std::vector{v3, other});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::conflict);
  EXPECT_NE(r.error().message.find("p@v1"), std::string::npos) << r.error().message;
  // Ordered by name, then creation; v3 was not written.
  auto all = a->load_prompt_versions();
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(*all, (std::vector{v1, v2, q1}));
  EXPECT_EQ(b->delete_prompt_versions("p", "v1").value(), 1u);
  EXPECT_EQ(b->delete_prompt_versions("p", "").value(), 1u);  // v2; q untouched
  EXPECT_EQ(a->load_prompt_versions().value(), std::vector{q1});
  EXPECT_EQ(a->delete_prompt_versions("nope", "").value(), 0u);
}

}  // namespace
}  // namespace switchyard::test
