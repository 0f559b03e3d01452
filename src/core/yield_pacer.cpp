#include "switchyard/core/yield_pacer.hpp"

#include <sched.h>

namespace switchyard {

yield_pacer::yield_pacer(std::chrono::microseconds slice) noexcept
    : slice_(slice), since_(std::chrono::steady_clock::now()) {}

void yield_pacer::step() noexcept {
  const auto now = std::chrono::steady_clock::now();  // vDSO: no system call
  if (now - since_ < slice_) {
    return;
  }
  (void)sched_yield();
  ++yields_;
  since_ = std::chrono::steady_clock::now();  // the slice counts from when this thread runs again
}

}  // namespace switchyard
