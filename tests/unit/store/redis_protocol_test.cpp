// The Redis client's pure parts: URLs, RESP decoding (hiredis's reader) and encoding.
#include "switchyard/store/redis_client.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using namespace std::literals;

TEST(RedisUrl, reads_host_port_db_and_password) {
  auto ep = parse_redis_url("redis://:s3cret@redis.example:6380/2");
  ASSERT_TRUE(ep) << ep.error().message;
  EXPECT_EQ(ep->host, "redis.example");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 2);
  EXPECT_EQ(ep->password, "s3cret");
  EXPECT_EQ(ep->describe(), "redis.example:6380/2") << "the password is never in the description";
  auto plain = parse_redis_url("redis://redis");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->db, 0);
  auto acl = parse_redis_url("redis://gateway:pw@10.0.0.1:7000");
  ASSERT_TRUE(acl);
  EXPECT_EQ(acl->user, "gateway");
  EXPECT_EQ(acl->password, "pw");
  auto bare = parse_redis_url("redis://pw@h/0");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->password, "pw") << "one userinfo part is the password, as redis-cli reads it";
  auto v6 = parse_redis_url("redis://[::1]:6379/1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
}

TEST(RedisUrl, refuses_bad_urls_with_a_reason_and_without_echoing_the_password) {
  for (const char* bad : {"http://h:6379", "rediss://h", "redis://", "redis://h:0",
                          "redis://h:70000", "redis://h:12x", "redis://h/db1", "redis://h/-1",
                          "redis://h/1?x=1", "redis://h/#f", "not a url", ""}) {
    auto ep = parse_redis_url(bad);
    ASSERT_FALSE(ep) << bad;
    EXPECT_EQ(ep.error().code, errc::invalid_request) << bad;
    EXPECT_EQ(ep.error().message.rfind("redis url: ", 0), 0u) << ep.error().message;
  }
  auto ep = parse_redis_url("redis://:hunter2@h:99999");
  ASSERT_FALSE(ep);
  EXPECT_EQ(ep.error().message.find("hunter2"), std::string::npos);
}

TEST(RedisReply, converts_every_resp2_type) {
  auto r = parse_redis_replies(
      "+OK\r\n-ERR boom\r\n:42\r\n$5\r\nhe\0lo\r\n$-1\r\n*3\r\n:1\r\n*1\r\n$1\r\nx\r\n*-1\r\n"
      "*0\r\n"
      "$3\r\nab"sv  // incomplete: not a reply yet
  );
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 7u);
  using t = redis_reply::type;
  EXPECT_EQ((*r)[0].kind, t::status);
  EXPECT_EQ((*r)[0].str, "OK");
  EXPECT_EQ((*r)[1].kind, t::error);
  EXPECT_EQ((*r)[1].str, "ERR boom");
  EXPECT_EQ((*r)[2].kind, t::integer);
  EXPECT_EQ((*r)[2].integer, 42);
  EXPECT_EQ((*r)[3].kind, t::string);
  EXPECT_EQ((*r)[3].str, std::string("he\0lo", 5)) << "binary-safe";
  EXPECT_EQ((*r)[4].kind, t::nil);
  ASSERT_EQ((*r)[5].kind, t::array);
  ASSERT_EQ((*r)[5].elements.size(), 3u);
  EXPECT_EQ((*r)[5].elements[1].elements[0].str, "x");
  EXPECT_EQ((*r)[5].elements[2].kind, t::nil);
  EXPECT_EQ((*r)[6].kind, t::array);
  EXPECT_TRUE((*r)[6].elements.empty());
}

TEST(RedisReply, a_protocol_error_is_an_error_not_a_crash) {
  EXPECT_FALSE(parse_redis_replies("?what\r\n"));
  EXPECT_FALSE(parse_redis_replies("$abc\r\n"));
  EXPECT_FALSE(
      parse_redis_replies("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"))
      << "nesting deeper than hiredis's reader allows";
}

TEST(RedisCommand, encodes_binary_safe_arguments) {
  EXPECT_EQ(format_redis_command({"SET", "k", std::string("a\r\nb", 4)}),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
  auto back = parse_redis_replies(format_redis_command({"GET", ""}));
  ASSERT_TRUE(back);  // an array of two bulk strings, as a server reads it
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].elements[1].str, "");
}

TEST(RedisScript, sha1_is_the_one_redis_computes) {
  redis_script s("return 1");
  EXPECT_EQ(s.sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace switchyard
