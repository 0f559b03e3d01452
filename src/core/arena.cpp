#include "switchyard/core/arena.hpp"

#include <array>
#include <bit>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SWITCHYARD_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SWITCHYARD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SWITCHYARD_POISON(p, n) ((void)(p), (void)(n))
#define SWITCHYARD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace switchyard::arena {

namespace {

// Class 0 holds up to min_block bytes; from there, four classes per power of two: the range
// (2^e, 2^(e+1)] is cut into 2^e + k·2^(e−2), k = 1..4.
constexpr std::size_t min_shift = static_cast<std::size_t>(std::countr_zero(min_block));
constexpr std::size_t max_shift = static_cast<std::size_t>(std::countr_zero(max_block));
constexpr std::size_t class_count = 1 + (max_shift - min_shift) * 4;

struct node {
  node* next;
};

// The class of a request of `bytes` (≤ max_block).
std::size_t class_of(std::size_t bytes) noexcept {
  if (bytes <= min_block) {
    return 0;
  }
  const auto e = static_cast<std::size_t>(std::bit_width(bytes - 1) - 1);  // 2^e < bytes ≤ 2^(e+1)
  const std::size_t base = std::size_t{1} << e;
  const std::size_t step = base >> 2;
  const std::size_t k = (bytes - base + step - 1) / step;  // 1..4
  return 1 + (e - min_shift) * 4 + (k - 1);
}

constexpr std::size_t class_bytes(std::size_t c) noexcept {
  if (c == 0) {
    return min_block;
  }
  const std::size_t e = min_shift + (c - 1) / 4;
  const std::size_t k = (c - 1) % 4 + 1;
  return (std::size_t{1} << e) + k * ((std::size_t{1} << e) >> 2);
}

static_assert(class_bytes(class_count - 1) == max_block);
static_assert(class_bytes(1) == 80 && class_bytes(4) == 128 && class_bytes(5) == 160);

struct thread_cache {
  std::array<node*, class_count> head{};
  std::array<std::size_t, class_count> count{};
  std::vector<std::string> strings;  // recycled_string's, each empty with its capacity
  stats s{};

  thread_cache() = default;
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;
  ~thread_cache();

  void release() noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
      while (node* n = head[c]) {
        SWITCHYARD_UNPOISON(n, class_bytes(c));
        head[c] = n->next;
        ::operator delete(n);
      }
      count[c] = 0;
    }
    strings.clear();
    s.cached = 0;
    s.cached_bytes = 0;
  }
};

// Set when this thread's cache is gone (thread exit): blocks freed later (a thread_local
// destroyed after it) go straight to operator delete.
thread_local bool cache_gone = false;

thread_cache::~thread_cache() {
  release();
  cache_gone = true;
}

thread_cache* cache() noexcept {
  if (cache_gone) {
    return nullptr;
  }
  thread_local thread_cache c;
  return &c;
}

}  // namespace

std::size_t block_size(std::size_t bytes) noexcept {
  return class_bytes(class_of(bytes));
}

void* allocate(std::size_t bytes) {
  if (bytes > max_block) {
    return ::operator new(bytes);
  }
  const std::size_t c = class_of(bytes);
  thread_cache* tc = cache();
  if (tc == nullptr) {
    return ::operator new(class_bytes(c));
  }
  if (node* n = tc->head[c]) {
    SWITCHYARD_UNPOISON(n, class_bytes(c));
    tc->head[c] = n->next;
    --tc->count[c];
    --tc->s.cached;
    tc->s.cached_bytes -= class_bytes(c);
    ++tc->s.hits;
    return n;
  }
  ++tc->s.misses;
  return ::operator new(class_bytes(c));
}

void deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) {
    return;
  }
  if (bytes > max_block) {
    ::operator delete(p);
    return;
  }
  const std::size_t c = class_of(bytes);
  const std::size_t size = class_bytes(c);
  thread_cache* tc = cache();
  if (tc == nullptr || (tc->count[c] + 1) * size > cache_bytes_per_class ||
      tc->s.cached_bytes + size > cache_bytes_per_thread) {
    ::operator delete(p);
    return;
  }
  node* n = static_cast<node*>(p);
  n->next = tc->head[c];
  tc->head[c] = n;
  ++tc->count[c];
  ++tc->s.cached;
  tc->s.cached_bytes += size;
  // The link stays readable; the rest of the block is off limits until it is handed out again.
  SWITCHYARD_POISON(reinterpret_cast<char*>(n) + sizeof(node), size - sizeof(node));
}

stats thread_stats() noexcept {
  const thread_cache* tc = cache();
  return tc ? tc->s : stats{};
}

void trim() noexcept {
  if (thread_cache* tc = cache()) {
    tc->release();
  }
}

std::string take_string() noexcept {
  thread_cache* tc = cache();
  if (tc == nullptr || tc->strings.empty()) {
    return {};
  }
  std::string s = std::move(tc->strings.back());
  tc->strings.pop_back();
  tc->s.cached_bytes -= s.capacity() + 1;
  return s;
}

void give_string(std::string&& s, std::size_t max_count, std::size_t max_capacity) noexcept {
  // A string within the small-string buffer has nothing on the heap to keep.
  if (s.capacity() <= std::string().capacity() || s.capacity() > max_capacity) {
    return;
  }
  thread_cache* tc = cache();
  if (tc == nullptr || tc->strings.size() >= max_count ||
      tc->s.cached_bytes + s.capacity() + 1 > cache_bytes_per_thread) {
    return;
  }
  try {
    if (tc->strings.capacity() < max_count) {
      tc->strings.reserve(max_count);  // once: giving back never allocates afterwards
    }
  } catch (...) {
    return;  // no memory for the list: the buffer is simply freed
  }
  s.clear();
  tc->s.cached_bytes += s.capacity() + 1;
  tc->strings.push_back(std::move(s));
}

std::size_t strings_kept() noexcept {
  const thread_cache* tc = cache();
  return tc ? tc->strings.size() : 0;
}

}  // namespace switchyard::arena
