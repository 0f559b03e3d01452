#include "switchyard/core/random.hpp"

#include <random>

namespace switchyard {

namespace {

std::mt19937_64& generator() noexcept {
  // Per thread: no lock on the hot path; seeded once per thread from the OS.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

std::uint64_t random_u64() noexcept {
  return generator()();
}

double random01() noexcept {
  // The top 53 bits as a double in [0, 1): exact, and never 1.0.
  return static_cast<double>(random_u64() >> 11) * 0x1.0p-53;
}

}  // namespace switchyard
