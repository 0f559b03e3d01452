#pragma once

#include <chrono>
#include <cstdint>

namespace switchyard {

/// Bounds how long a background thread's batch of work keeps a CPU from a worker that is
/// waiting for it. `step()`, called after each small unit of the batch (a SQLite statement of
/// the statistics flush), gives the CPU up (`sched_yield`) once `slice` has run since the last
/// time it did.
///
/// Why: a worker woken by a packet while the flush runs on its CPU is not always run at once;
/// the scheduler lets the running thread go on for its wake-up granularity (milliseconds), so
/// one 4 ms flush became a 4 ms stall of a request (bench/PROFILE.md, "the c=1 p99 tail"). A
/// yield lets a runnable worker go first and returns at once when nothing else is runnable, so
/// on a machine with a spare core the cost is one clock read per step. The priority is left
/// alone: the flush shares locks with the workers, and a starved holder stalls them
/// (background_thread.hpp).
class yield_pacer {
 public:
  explicit yield_pacer(std::chrono::microseconds slice = std::chrono::microseconds(200)) noexcept;

  /// One unit of work done: yields when the slice is spent.
  void step() noexcept;

  /// How many times this pacer has yielded (for its tests).
  std::uint64_t yields() const noexcept { return yields_; }

 private:
  std::chrono::steady_clock::duration slice_;
  std::chrono::steady_clock::time_point since_;
  std::uint64_t yields_ = 0;
};

}  // namespace switchyard
