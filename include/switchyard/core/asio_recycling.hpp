#pragma once
// Asio's per-thread recycling of coroutine frames, posted functions and cancellation handlers,
// routed to the size-classed free lists of core/arena.hpp. Included before anything else in
// every translation unit of every target that uses Asio through `switchyard_deps` (a
// `-include` in CMakeLists.txt): see "Why" and "Why force-included" below.
//
// Why. Asio (1.81, boost/asio/detail/thread_info_base.hpp) keeps, per thread and per purpose,
// BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE single blocks; `allocate` hands out the first cached
// block that is big enough (so a 300-byte frame may take a 1.6 KB block, and the 1.6 KB frame
// that follows finds none: it frees a cached block and mallocs), and `deallocate` never caches a
// block over 4 × 255 = 1,020 bytes (the chunk count is kept in one byte). The proxied path's
// larger frames (run_attempt, relay::run, relay_response, forward: 1.2–1.7 KB) were therefore a
// malloc and a free on every request, and the smaller ones a miss whenever a larger frame had
// taken their block. The arena's lists are per size class (a block only ever serves its class),
// bounded per class and per thread, and shared with Beast's fields and the relay buffers (one
// pool per thread).
//
// What. Explicit specialisations of `thread_info_base::allocate` / `deallocate` for the purposes
// whose every use is in a template or in code included after this header: awaitable frames,
// executor functions (posted/dispatched completions), cancellation handlers and parallel groups.
// Not `default_tag` (the per-operation blocks): Asio's own class body uses it in a non-template
// member, so it cannot be specialised after the fact; those blocks are small (under the 1,020
// bytes) and of few sizes, and Asio's 16-slot cache serves them.
//
// Why force-included. An explicit specialisation must be declared before the first use in every
// translation unit that uses it; a TU that did not see it would instantiate Asio's version under
// the same symbol, and a block allocated by one version and freed by the other corrupts the heap.
// So the header is not included by hand anywhere: the build puts it first in every TU of every
// target linking `switchyard_deps`, and core/net.hpp refuses to compile without it.
//
// Blocks of any alignment: each block carries one byte past the caller's `size` (as Asio's own
// blocks do) saying where it came from — the arena (alignment up to max_align_t, the usual case)
// or an aligned allocation (over-aligned handlers) — so `deallocate`, which gets the same `size`,
// returns it to the right place.

#include <boost/version.hpp>

#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/thread_info_base.hpp>

#include <cstddef>
#include <new>

#define SWITCHYARD_ASIO_RECYCLING 1

// The specialisations mirror 1.81's signatures; a different Boost must be checked (the policy,
// the tags, the size limits) before this is trusted with it.
static_assert(BOOST_VERSION / 100 == 1081,
              "core/asio_recycling.hpp is written against Boost.Asio 1.81 (Boost 1.81)");

namespace switchyard::arena {
// Declared in core/arena.hpp as well (this header must stay light: it is in every TU).
void* allocate(std::size_t bytes);
void deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace switchyard::arena

namespace switchyard::asio_recycling {

inline constexpr unsigned char from_arena = 1;
inline constexpr unsigned char from_aligned = 2;

inline void* allocate(std::size_t size, std::size_t align) {
  if (align <= alignof(std::max_align_t)) {
    auto* p = static_cast<unsigned char*>(arena::allocate(size + 1));
    p[size] = from_arena;
    return p;
  }
  auto* p = static_cast<unsigned char*>(boost::asio::aligned_new(align, size + 1));
  p[size] = from_aligned;
  return p;
}

inline void deallocate(void* pointer, std::size_t size) noexcept {
  if (pointer == nullptr) {
    return;
  }
  auto* p = static_cast<unsigned char*>(pointer);
  if (p[size] == from_arena) {
    arena::deallocate(p, size + 1);
  } else {
    boost::asio::aligned_delete(p);
  }
}

}  // namespace switchyard::asio_recycling

namespace boost::asio::detail {

#define SWITCHYARD_ASIO_RECYCLE(tag)                                                         \
  template <>                                                                                \
  inline void* thread_info_base::allocate<thread_info_base::tag>(                            \
      thread_info_base::tag, thread_info_base*, std::size_t size, std::size_t align) {       \
    return ::switchyard::asio_recycling::allocate(size, align);                              \
  }                                                                                          \
  template <>                                                                                \
  inline void thread_info_base::deallocate<thread_info_base::tag>(                           \
      thread_info_base::tag, thread_info_base*, void* pointer, std::size_t size) {           \
    ::switchyard::asio_recycling::deallocate(pointer, size);                                 \
  }

SWITCHYARD_ASIO_RECYCLE(awaitable_frame_tag)
SWITCHYARD_ASIO_RECYCLE(executor_function_tag)
SWITCHYARD_ASIO_RECYCLE(cancellation_signal_tag)
SWITCHYARD_ASIO_RECYCLE(parallel_group_tag)

#undef SWITCHYARD_ASIO_RECYCLE

}  // namespace boost::asio::detail
