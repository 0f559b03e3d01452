#include "switchyard/core/recycled_string.hpp"

#include "switchyard/core/arena.hpp"

namespace switchyard {

// The list lives in the thread's arena cache (core/arena.hpp), with the recycled blocks: one
// per-thread pool, one bound on what a thread keeps, one release at thread exit and in
// arena::trim().

std::string recycled_string::take() noexcept {
  return arena::take_string();
}

void recycled_string::give(std::string&& s) noexcept {
  arena::give_string(std::move(s), max_kept, max_kept_capacity);
}

std::size_t recycled_string::kept() noexcept {
  return arena::strings_kept();
}

}  // namespace switchyard
