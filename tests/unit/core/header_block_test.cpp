#include "switchyard/core/header_block.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

TEST(header_block, set_replaces_case_insensitively_and_moves_the_field_to_the_end) {
  header_block b;
  b.set("x-ratelimit-limit-requests", "60");
  b.set("Retry-After", " 3 ");
  b.set("X-RateLimit-Limit-Requests", "59");
  EXPECT_EQ(b.text(), "Retry-After: 3\r\nX-RateLimit-Limit-Requests: 59\r\n");
  EXPECT_EQ(b["x-ratelimit-limit-requests"], "59");
  EXPECT_EQ(b["retry-after"], "3");
  EXPECT_EQ(b["absent"], "");
  EXPECT_TRUE(b.contains("RETRY-AFTER"));
  EXPECT_EQ(b.size(), 2u);
}

TEST(header_block, values_may_hold_colons_and_erase_removes_every_match) {
  header_block b;
  b.set("a", "x: y");
  b.set("b", "2");
  std::string seen;
  b.for_each([&](std::string_view n, std::string_view v) {
    seen += std::string(n) + "=" + std::string(v) + ";";
  });
  EXPECT_EQ(seen, "a=x: y;b=2;");
  b.erase("A");
  EXPECT_EQ(b.text(), "b: 2\r\n");
}

TEST(header_block, clear_keeps_the_capacity_and_swap_exchanges_storage) {
  header_block b;
  b.set("x-switchyard-feedback-id", std::string(200, 'f'));
  b.clear();
  EXPECT_TRUE(b.empty());
  header_block other;
  other.set("k", "v");
  b.swap(other);
  EXPECT_EQ(b["k"], "v");
  EXPECT_TRUE(other.empty());
}

TEST(header_block, header_list_has_the_semantics_of_beast_fields) {
  header_list h;
  const std::string server = "nginx";
  h.insert("Server", server);
  h.insert("Content-Type", "application/json");
  h.insert("set-cookie", "a=1");
  h.insert("Set-Cookie", "b=2");
  h.set("server", "switchyard");  // replaces and moves to the end
  h.set_copy("x-switchyard-attempts", std::to_string(2));
  h.set_joined("Host", {"[", "::1", "]", ":", "8000"});
  EXPECT_EQ(h.count("SET-COOKIE"), 2u);
  EXPECT_EQ(h["host"], "[::1]:8000");
  std::string out;
  h.render(out);
  EXPECT_EQ(out,
            "Content-Type: application/json\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n"
            "server: switchyard\r\nx-switchyard-attempts: 2\r\nHost: [::1]:8000\r\n");
  h.erase("set-cookie");  // both of them
  EXPECT_EQ(h.size(), 4u);
  EXPECT_EQ(h.count("Set-Cookie"), 0u);
}

TEST(header_block, header_list_copies_survive_growth_of_its_storage) {
  static constexpr const char* names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  header_list h;
  for (int i = 0; i < 8; ++i) {
    h.set_copy(names[i], std::string(100, static_cast<char>('a' + i)));  // store_ reallocates
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(h[names[i]], std::string(100, static_cast<char>('a' + i)));
  }
  h.set_copy("y", "  trimmed\t");
  EXPECT_EQ(h["y"], "trimmed");
  h.clear();
  EXPECT_EQ(h.size(), 0u);
}

}  // namespace
}  // namespace switchyard
