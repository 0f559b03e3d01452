#include "switchyard/core/arena.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstring>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

TEST(arena, a_freed_block_is_handed_out_again_without_operator_new) {
  arena::trim();
  void* a = arena::allocate(100);
  const auto before = arena::thread_stats();
  arena::deallocate(a, 100);
  EXPECT_EQ(arena::thread_stats().cached, before.cached + 1);
  void* b = arena::allocate(120);  // the same class (128 bytes)
  EXPECT_EQ(a, b);
  EXPECT_EQ(arena::thread_stats().hits, before.hits + 1);
  EXPECT_EQ(arena::thread_stats().misses, before.misses);
  arena::deallocate(b, 120);
  arena::trim();
  EXPECT_EQ(arena::thread_stats().cached, 0u);
}

TEST(arena, classes_do_not_mix_and_blocks_hold_what_was_asked) {
  arena::trim();
  void* small = arena::allocate(1);
  void* big = arena::allocate(arena::max_block);
  std::memset(small, 0xab, arena::min_block);
  std::memset(big, 0xcd, arena::max_block);
  arena::deallocate(small, 1);
  arena::deallocate(big, arena::max_block);
  void* again = arena::allocate(arena::max_block);
  EXPECT_EQ(again, big) << "the 16 KiB list, not the 64-byte one";
  arena::deallocate(again, arena::max_block);
  arena::trim();
}

TEST(arena, larger_than_the_largest_class_goes_to_operator_new) {
  arena::trim();
  const auto before = arena::thread_stats();
  void* huge = arena::allocate(arena::max_block + 1);
  arena::deallocate(huge, arena::max_block + 1);
  EXPECT_EQ(arena::thread_stats().cached, before.cached) << "never cached";
}

TEST(arena, each_class_keeps_a_bounded_number_of_blocks) {
  arena::trim();
  constexpr std::size_t block = 4096;
  const std::size_t cap = arena::cache_bytes_per_class / block;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < cap + 10; ++i) {
    blocks.push_back(arena::allocate(block));
  }
  for (void* p : blocks) {
    arena::deallocate(p, block);
  }
  EXPECT_EQ(arena::thread_stats().cached, cap);
  arena::trim();
}

TEST(arena, a_block_freed_on_another_thread_joins_that_threads_list) {
  arena::trim();
  void* p = arena::allocate(200);
  std::size_t cached_there = 0;
  std::thread([&] {
    arena::deallocate(p, 200);
    cached_there = arena::thread_stats().cached;
  }).join();  // the other thread's cache is freed when it ends
  EXPECT_EQ(cached_there, 1u);
  EXPECT_EQ(arena::thread_stats().cached, 0u);
}

TEST(arena, pooled_fields_recycle_their_elements_from_one_message_to_the_next) {
  namespace http = boost::beast::http;
  arena::trim();
  auto fill = [] {
    http::request<http::string_body, pooled_fields> req;
    req.set(http::field::host, "example.com");
    req.set("x-request-id", "req_0123456789abcdef0123456789abcdef");
    req.set(http::field::content_type, "application/json");
    EXPECT_EQ(req["x-request-id"], "req_0123456789abcdef0123456789abcdef");
  };
  fill();
  const auto warm = arena::thread_stats();
  fill();
  const auto after = arena::thread_stats();
  EXPECT_EQ(after.misses, warm.misses) << "the second message's fields came from the lists";
  EXPECT_GE(after.hits, warm.hits + 3);
  arena::trim();
}

TEST(arena, pooled_block_returns_its_buffer_and_moves) {
  arena::trim();
  char* first = nullptr;
  {
    pooled_block b(16 * 1024);
    first = b.data();
    pooled_block moved(std::move(b));
    EXPECT_EQ(moved.data(), first);
    EXPECT_EQ(b.data(), nullptr);  // NOLINT: testing the moved-from state
    moved.data()[16 * 1024 - 1] = 'x';
  }
  pooled_block again(16 * 1024);
  EXPECT_EQ(again.data(), first);
}

}  // namespace
}  // namespace switchyard
