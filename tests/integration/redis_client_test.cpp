// The Redis client against a real redis-server: pipelining, SELECT, fail-fast while down,
// reconnect, a deadline on a hung server, EVALSHA with its NOSCRIPT fallback, pub/sub with
// resubscription, and the awaitable form resuming on the caller's executor.
#include "switchyard/store/redis_client.hpp"
#include "harness.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <thread>

namespace switchyard::test {
namespace {

using t = redis_reply::type;

std::shared_ptr<redis_client> connect(redis_server& s, int db = 0) {
  auto ep = parse_redis_url(s.url(db));
  EXPECT_TRUE(ep);
  auto c = redis_client::start(*ep, duration(1000));
  EXPECT_TRUE(c->wait_connected(duration(5000)));
  return c;
}

TEST(RedisClient, pipelines_in_order_on_the_selected_db) {
  redis_server s;
  auto c = connect(s, 3);
  auto r =
      c->pipeline_sync({{"SET", "k", "v"}, {"GET", "k"}, {"INCR", "n"}, {"BOGUS"}}, duration(1000));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].str, "v");
  EXPECT_EQ((*r)[2].integer, 1);
  EXPECT_EQ((*r)[3].kind, t::error) << "an error reply is a reply";
  auto other = connect(s, 0);
  EXPECT_EQ(other->command_sync({"GET", "k"}, duration(1000))->kind, t::nil) << "db 3, not 0";
}

TEST(RedisClient, fails_fast_while_down_and_reconnects) {
  redis_server s;
  auto c = connect(s);
  s.stop();
  ASSERT_TRUE(eventually([&] { return !c->connected(); }, 5s));
  const auto before = steady_clock::now();
  auto r = c->command_sync({"PING"}, duration(2000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable);
  EXPECT_LT(steady_clock::now() - before, 100ms) << "no wait for the deadline while down";
  EXPECT_GT(c->errors(), 0u);
  s.start();
  ASSERT_TRUE(eventually([&] { return c->connected(); }, 10s));
  EXPECT_EQ(c->command_sync({"PING"}, duration(1000))->str, "PONG");
}

TEST(RedisClient, a_hung_server_fails_the_call_by_its_deadline) {
  redis_server s;
  auto c = connect(s);
  // SIGSTOP: the connection stays open, nothing answers.
  auto r0 = c->command_sync({"INFO", "server"}, duration(1000));
  ASSERT_TRUE(r0);
  const auto at = r0->str.find("process_id:");
  ASSERT_NE(at, std::string::npos);
  const int server_pid = std::stoi(r0->str.substr(at + 11));
  ::kill(server_pid, SIGSTOP);
  const auto before = steady_clock::now();
  auto r = c->command_sync({"PING"}, duration(100));
  const auto took = steady_clock::now() - before;
  ::kill(server_pid, SIGCONT);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable);
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 600ms);
  ASSERT_TRUE(eventually(
      [&] {
        auto p = c->command_sync({"PING"}, duration(500));
        return p && p->str == "PONG";
      },
      10s))
      << "a late reply is dropped, later calls are answered";
}

TEST(RedisClient, eval_loads_the_script_on_noscript) {
  redis_server s;
  auto c = connect(s);
  redis_script add("return tonumber(ARGV[1]) + 1");
  auto r = c->eval_sync(add, {}, {"41"}, duration(1000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->integer, 42);
  ASSERT_TRUE(c->command_sync({"SCRIPT", "FLUSH"}, duration(1000)));
  EXPECT_EQ(c->eval_sync(add, {}, {"1"}, duration(1000))->integer, 2);
}

TEST(RedisClient, awaitable_calls_resume_on_the_callers_executor) {
  redis_server s;
  auto c = connect(s);
  net::io_context io;
  std::thread::id resumed_on;
  std::int64_t got = 0;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        std::vector<std::string> argv{"INCRBY", "x", "5"};  // (GCC 12: no braced list here)
        auto r = co_await c->command(std::move(argv), duration(1000));
        resumed_on = std::this_thread::get_id();
        got = r ? r->integer : -1;
      },
      net::detached);  // the test's own io_context: run() below returns when it ends
  io.run_for(5s);
  EXPECT_EQ(got, 5);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST(RedisClient, subscribers_get_messages_and_resubscribe_after_a_restart) {
  redis_server s;
  auto c = connect(s);
  auto pub = connect(s);
  std::atomic<int> messages{0}, subscribed{0};
  c->subscribe(
      "ch",
      [&](std::string_view ch, std::string_view payload) {
        if (ch == "ch" && payload == "hello") {
          ++messages;
        }
      },
      [&] { ++subscribed; });
  ASSERT_TRUE(eventually([&] { return subscribed.load() == 1; }, 5s));
  pub->command_sync({"PUBLISH", "ch", "hello"}, duration(1000));
  ASSERT_TRUE(eventually([&] { return messages.load() == 1; }, 5s));
  s.stop();
  s.start();
  ASSERT_TRUE(eventually([&] { return subscribed.load() == 2; }, 10s)) << "resubscribed";
  ASSERT_TRUE(eventually(
      [&] {
        auto r = pub->command_sync({"PUBLISH", "ch", "hello"}, duration(500));
        return r && messages.load() >= 2;
      },
      10s));
}

}  // namespace
}  // namespace switchyard::test
