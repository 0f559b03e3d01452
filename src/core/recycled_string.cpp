#include "switchyard/core/recycled_string.hpp"

#include <vector>

namespace switchyard {

namespace {

// Buffers given back on this thread, each empty with its capacity. The vector is reserved once,
// on the first give, so giving back never allocates afterwards.
// `gone` is set when the thread's list is destroyed (thread exit), so a string destroyed after
// that (a static object on the main thread) is simply freed.
thread_local bool gone = false;

struct free_list {
  std::vector<std::string> strings;
  free_list() = default;
  free_list(const free_list&) = delete;
  free_list& operator=(const free_list&) = delete;
  ~free_list() { gone = true; }
};

free_list& local() noexcept {
  thread_local free_list list;
  return list;
}

}  // namespace

std::string recycled_string::take() noexcept {
  if (gone) {
    return {};
  }
  auto& l = local().strings;
  if (l.empty()) {
    return {};
  }
  std::string s = std::move(l.back());
  l.pop_back();
  return s;
}

void recycled_string::give(std::string&& s) noexcept {
  // A string within the small-string buffer has nothing on the heap to keep.
  if (gone || s.capacity() <= std::string().capacity() || s.capacity() > max_kept_capacity) {
    return;
  }
  auto& l = local().strings;
  if (l.size() >= max_kept) {
    return;
  }
  try {
    if (l.capacity() == 0) {
      l.reserve(max_kept);
    }
  } catch (...) {
    return;  // no memory for the list: the buffer is simply freed
  }
  s.clear();
  l.push_back(std::move(s));
}

std::size_t recycled_string::kept() noexcept {
  return gone ? 0 : local().strings.size();
}

}  // namespace switchyard
