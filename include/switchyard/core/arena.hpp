#pragma once

// Per-thread recycling of small blocks, for the per-request allocations the hot path cannot
// avoid (Beast allocates one element per header field; the relay needs a read buffer; Asio's
// coroutine frames, posted functions and cancellation handlers, through core/asio_recycling.hpp;
// recycled_string's buffers, as whole strings).
//
// A worker thread serves many requests at once (keep-alive connections interleave), so a
// monotonic arena reset per request would need a per-connection arena and a lifetime proof for
// every field; size-classed free lists per thread need neither: a block freed goes back to the
// freeing thread's list of its class and the next request of that size takes it, with no malloc.
// In steady state the lists hold what the in-flight requests use at their peak. Four classes per
// power of two (64, 80, 96, 112, 128, 160, …, 14336, 16384 bytes), so a block wastes at most a
// quarter of itself (coroutine frames of an idle stream stay resident: RSS per stream). Bounded:
// each class keeps at most `cache_bytes_per_class` bytes and a thread at most
// `cache_bytes_per_thread` in all (blocks and kept strings), the rest goes back to operator
// delete. A block may be freed on another thread than the one that allocated it (it then joins
// that thread's list): every block comes from ::operator new, so any thread may release it.
//
// Under AddressSanitizer, cached blocks are poisoned (past the link), so a use after free is
// still reported.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <utility>

namespace switchyard {

namespace arena {

/// The size classes: from `min_block` to `max_block` bytes, four per power of two. Larger
/// requests go straight to operator new.
inline constexpr std::size_t min_block = 64;
inline constexpr std::size_t max_block = 16 * 1024;
inline constexpr std::size_t cache_bytes_per_class = 1024 * 1024;
inline constexpr std::size_t cache_bytes_per_thread = 8 * 1024 * 1024;

/// The size of the class that serves `bytes` (≤ max_block): what a block of it really holds.
std::size_t block_size(std::size_t bytes) noexcept;

/// A block of at least `bytes` from this thread's free list of its class (operator new when
/// that list is empty or `bytes > max_block`). Aligned for any fundamental type.
void* allocate(std::size_t bytes);

/// Returns a block from `allocate(bytes)` (the same `bytes`) to this thread's list.
void deallocate(void* p, std::size_t bytes) noexcept;

/// This thread's counters, for tests and benchmarks.
struct stats {
  std::uint64_t hits = 0;      // allocations served from a list
  std::uint64_t misses = 0;    // allocations that went to operator new
  std::size_t cached = 0;      // blocks in this thread's lists now
  std::size_t cached_bytes = 0;  // their bytes and the kept strings' capacity
};
stats thread_stats() noexcept;

/// Frees every block and string cached by this thread (tests; threads do it when they end).
void trim() noexcept;

/// recycled_string's list (core/recycled_string.hpp), kept in this thread's cache with the
/// blocks: whole std::string objects (the buffer of a std::string cannot change hands). `take`
/// returns the last string given back, empty with its capacity (or an empty string). `give`
/// keeps `s` when it has a heap buffer of at most `max_capacity` bytes, the list has fewer than
/// `max_count` strings and the thread's byte bound allows it; otherwise its buffer is freed.
std::string take_string() noexcept;
void give_string(std::string&& s, std::size_t max_count, std::size_t max_capacity) noexcept;
std::size_t strings_kept() noexcept;

}  // namespace arena

/// A buffer of `size` bytes from this thread's free lists (the relay's read buffer): taken at
/// construction, given back at destruction. Move-only.
class pooled_block {
 public:
  explicit pooled_block(std::size_t size)
      : data_(static_cast<char*>(arena::allocate(size))), size_(size) {}
  pooled_block(pooled_block&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  pooled_block& operator=(pooled_block&& o) noexcept {
    if (this != &o) {
      arena::deallocate(data_, size_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~pooled_block() { arena::deallocate(data_, size_); }

  char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  char* data_;
  std::size_t size_;
};

/// A stateless allocator over `arena::allocate`: every instance is interchangeable, so
/// containers using it move and swap like std::allocator ones.
template <class T>
struct recycling_allocator {
  using value_type = T;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;

  recycling_allocator() noexcept = default;
  template <class U>
  recycling_allocator(const recycling_allocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "over-aligned types are not recycled");
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) {
      throw std::bad_array_new_length();
    }
    return static_cast<T*>(arena::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { arena::deallocate(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const recycling_allocator<U>&) const noexcept {
    return true;
  }
};

/// Header fields whose elements are recycled: what the proxied path's parsers use (the client
/// request, the upstream response).
using pooled_fields = boost::beast::http::basic_fields<recycling_allocator<char>>;

/// A client request as the session parses it, its fields recycled.
using client_request = boost::beast::http::request<boost::beast::http::string_body, pooled_fields>;

}  // namespace switchyard
