#pragma once

#include <cstddef>
#include <string>
#include <utility>

namespace switchyard {

/// A std::string whose buffer comes from, and goes back to, a small per-thread free list, so a
/// per-request object (a response meter, a usage scanner) reuses the capacity of the ones
/// before it instead of allocating its buffers anew for every request.
///
/// Safe wherever it is used: every string is its own object, the free list is the thread's
/// (kept in core/arena's per-thread cache, beside the recycled blocks, under the same per-thread
/// byte bound), and a buffer given back on another thread than the one it came from simply joins
/// that thread's list. The list keeps at most `max_kept` buffers of at most `max_kept_capacity`
/// bytes each; larger ones are freed, so one huge body does not stay resident.
class recycled_string {
 public:
  static constexpr std::size_t max_kept = 256;
  static constexpr std::size_t max_kept_capacity = 64 * 1024;

  /// Takes a buffer from this thread's list (empty, with its capacity), or none if the list is
  /// empty: a default-constructed string, which does not allocate.
  recycled_string() : s_(take()) {}
  ~recycled_string() { give(std::move(s_)); }

  recycled_string(const recycled_string& other) : s_(take()) { s_ = other.s_; }
  recycled_string(recycled_string&& other) noexcept : s_(std::move(other.s_)) {}
  recycled_string& operator=(const recycled_string& other) {
    s_ = other.s_;
    return *this;
  }
  recycled_string& operator=(recycled_string&& other) noexcept {
    s_.swap(other.s_);  // other keeps a buffer to give back
    return *this;
  }

  std::string& operator*() noexcept { return s_; }
  const std::string& operator*() const noexcept { return s_; }
  std::string* operator->() noexcept { return &s_; }
  const std::string* operator->() const noexcept { return &s_; }

  /// Buffers in this thread's list (for tests).
  static std::size_t kept() noexcept;

 private:
  static std::string take() noexcept;
  static void give(std::string&& s) noexcept;

  std::string s_;
};

}  // namespace switchyard
