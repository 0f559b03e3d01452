#include "switchyard/core/recycled_string.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace switchyard {
namespace {

// A buffer given back is handed, empty and with its capacity, to the next string on the thread.
TEST(recycled_string, a_buffer_goes_back_and_is_reused_empty) {
  const char* buffer = nullptr;
  std::size_t capacity = 0;
  {
    recycled_string s;
    s->assign(1000, 'a');
    buffer = s->data();
    capacity = s->capacity();
  }
  recycled_string t;
  EXPECT_TRUE(t->empty());
  EXPECT_EQ(t->data(), buffer);  // the same heap block: no new allocation
  EXPECT_EQ(t->capacity(), capacity);
}

// Small strings (no heap buffer) and huge ones are not kept; the list is bounded.
TEST(recycled_string, keeps_only_useful_buffers_and_at_most_max_kept) {
  // Drain what earlier tests on this thread left.
  std::vector<recycled_string> drain(recycled_string::kept());
  const std::size_t before = recycled_string::kept();
  {
    recycled_string small;
    small->assign("short");
  }
  EXPECT_EQ(recycled_string::kept(), before);
  {
    recycled_string huge;
    huge->assign(recycled_string::max_kept_capacity + 1, 'h');
  }
  EXPECT_EQ(recycled_string::kept(), before);
  {
    std::vector<recycled_string> many(recycled_string::max_kept + 10);
    for (auto& s : many) {
      s->assign(100, 'm');
    }
  }
  EXPECT_EQ(recycled_string::kept(), recycled_string::max_kept);
}

// Copies and moves keep the value semantics of a string.
TEST(recycled_string, copies_and_moves_behave_like_strings) {
  recycled_string a;
  a->assign(300, 'x');
  recycled_string b(a);
  EXPECT_EQ(*b, *a);
  recycled_string c(std::move(b));
  EXPECT_EQ(*c, std::string(300, 'x'));
  recycled_string d;
  d->assign("other");
  d = std::move(c);
  EXPECT_EQ(*d, std::string(300, 'x'));
  recycled_string e;
  e = d;
  EXPECT_EQ(*e, *d);
}

// Each thread has its own list; a string destroyed on another thread joins that one's list.
TEST(recycled_string, lists_are_per_thread) {
  auto moved = std::make_unique<recycled_string>();
  (*moved)->assign(500, 'z');
  std::size_t kept_there = 0;
  std::thread([&] {
    const std::size_t before = recycled_string::kept();
    moved.reset();
    kept_there = recycled_string::kept() - before;
  }).join();
  EXPECT_EQ(kept_there, 1u);
}

}  // namespace
}  // namespace switchyard
