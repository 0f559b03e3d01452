#include "switchyard/core/arena.hpp"

#include <array>
#include <bit>

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

constexpr std::size_t class_count =
    static_cast<std::size_t>(std::countr_zero(max_block) - std::countr_zero(min_block)) + 1;

struct node {
  node* next;
};

// The class of a request of `bytes` (≤ max_block): the smallest power of two ≥ bytes.
std::size_t class_of(std::size_t bytes) noexcept {
  const std::size_t rounded = std::bit_ceil(bytes < min_block ? min_block : bytes);
  return static_cast<std::size_t>(std::countr_zero(rounded) - std::countr_zero(min_block));
}

constexpr std::size_t class_bytes(std::size_t c) noexcept {
  return min_block << c;
}

struct thread_cache {
  std::array<node*, class_count> head{};
  std::array<std::size_t, class_count> count{};
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
    s.cached = 0;
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
  thread_cache* tc = cache();
  if (tc == nullptr || tc->count[c] * class_bytes(c) >= cache_bytes_per_class) {
    ::operator delete(p);
    return;
  }
  node* n = static_cast<node*>(p);
  n->next = tc->head[c];
  tc->head[c] = n;
  ++tc->count[c];
  ++tc->s.cached;
  // The link stays readable; the rest of the block is off limits until it is handed out again.
  SWITCHYARD_POISON(reinterpret_cast<char*>(n) + sizeof(node), class_bytes(c) - sizeof(node));
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

}  // namespace switchyard::arena
