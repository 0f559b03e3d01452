#include "switchyard/core/yield_pacer.hpp"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;

TEST(yield_pacer, a_spent_slice_yields_at_every_step) {
  yield_pacer p(microseconds(0));
  for (int i = 0; i < 5; ++i) {
    p.step();
  }
  EXPECT_EQ(p.yields(), 5u);
}

TEST(yield_pacer, steps_inside_the_slice_do_not_yield) {
  yield_pacer p(std::chrono::duration_cast<microseconds>(hours(1)));
  for (int i = 0; i < 10'000; ++i) {
    p.step();
  }
  EXPECT_EQ(p.yields(), 0u);
}

TEST(yield_pacer, the_default_slice_is_short_enough_to_yield_within_a_long_batch) {
  // A batch that runs for longer than the default slice (counted in steps, each a busy wait on
  // the clock, so the test does not depend on how fast the machine is) yields at least once.
  yield_pacer p;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
  for (int i = 0; i < 1'000'000 && std::chrono::steady_clock::now() < until; ++i) {
    p.step();
  }
  EXPECT_GE(p.yields(), 1u);
}

}  // namespace
}  // namespace switchyard
