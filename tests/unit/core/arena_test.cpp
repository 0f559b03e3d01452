#include "switchyard/core/arena.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
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
  void* b = arena::allocate(110);  // the same class (112 bytes)
  EXPECT_EQ(a, b);
  EXPECT_EQ(arena::thread_stats().hits, before.hits + 1);
  EXPECT_EQ(arena::thread_stats().misses, before.misses);
  arena::deallocate(b, 110);
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

// Four classes per power of two: a block is never more than a quarter larger than asked (what
// keeps an idle stream's coroutine frames from growing its RSS), and always at least as large.
TEST(arena, classes_waste_at_most_a_quarter) {
  for (std::size_t bytes = 1; bytes <= arena::max_block; ++bytes) {
    const std::size_t block = arena::block_size(bytes);
    ASSERT_GE(block, bytes);
    ASSERT_LE(block, std::max(arena::min_block, bytes + bytes / 4)) << bytes;
  }
  EXPECT_EQ(arena::block_size(arena::max_block), arena::max_block);
  EXPECT_EQ(arena::block_size(1025), 1280u);
  EXPECT_EQ(arena::block_size(1700), 1792u);
}

// The per-thread bound covers every class together (and the kept strings).
TEST(arena, a_thread_keeps_at_most_its_byte_bound) {
  arena::trim();
  std::vector<void*> blocks;
  // Enough blocks of every class from 4 KiB up to pass the thread's bound, none passing its
  // class's bound by much.
  for (std::size_t size = 4096; size <= arena::max_block; size += 1024) {
    for (std::size_t i = 0; i < arena::cache_bytes_per_class / size + 1; ++i) {
      blocks.push_back(arena::allocate(size));
    }
  }
  std::size_t sizes_index = 0;
  for (std::size_t size = 4096; size <= arena::max_block; size += 1024) {
    for (std::size_t i = 0; i < arena::cache_bytes_per_class / size + 1; ++i) {
      arena::deallocate(blocks[sizes_index++], size);
    }
  }
  EXPECT_LE(arena::thread_stats().cached_bytes, arena::cache_bytes_per_thread);
  EXPECT_GT(arena::thread_stats().cached_bytes, arena::cache_bytes_per_thread / 2);
  arena::trim();
  EXPECT_EQ(arena::thread_stats().cached_bytes, 0u);
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

// Asio's coroutine frames come from the arena (core/asio_recycling.hpp, force-included): a frame
// larger than Asio's own 1,020-byte recycling limit is recycled too, so the second run of the
// same coroutines allocates nothing new.
namespace frames {
namespace net = boost::asio;

net::awaitable<int> large_frame(int x) {
  volatile char room[1500];  // kept across the suspension: in the frame
  room[0] = static_cast<char>(x);
  co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
  co_return room[0] + 1;
}

net::awaitable<void> several(int& sum) {
  for (int i = 0; i < 8; ++i) {
    sum += co_await large_frame(i);
  }
}

}  // namespace frames

TEST(arena, asio_coroutine_frames_are_recycled_by_the_arena) {
  namespace net = boost::asio;
  net::io_context io;
  int sum = 0;
  auto run = [&] {
    net::co_spawn(io, frames::several(sum), net::detached);
    io.restart();
    io.run();
  };
  run();  // warms the lists (and Asio's own per-thread state)
  const auto warm = arena::thread_stats();
  run();
  const auto after = arena::thread_stats();
  EXPECT_EQ(sum, 2 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8));
  EXPECT_EQ(after.misses, warm.misses) << "every frame of the second run came from a list";
  EXPECT_GE(after.hits, warm.hits + 8) << "the eight large frames at least";
}

}  // namespace
}  // namespace switchyard
