#pragma once

#include <utility>

namespace switchyard {

/// Holds one unit of a count for its lifetime, however the scope (or coroutine) ends: in-flight
/// gauges, retry-budget slots, buffered bytes. `T` has `add(n)` and `sub(n)`; the amount is fixed
/// at construction.
template <class T, class N = long>
class scoped_count {
 public:
  explicit scoped_count(T& target, N amount = 1) : target_(&target), amount_(amount) {
    target_->add(amount_);
  }
  ~scoped_count() {
    if (target_) {
      target_->sub(amount_);
    }
  }
  scoped_count(scoped_count&& o) noexcept
      : target_(std::exchange(o.target_, nullptr)), amount_(o.amount_) {}
  scoped_count& operator=(scoped_count&&) = delete;
  scoped_count(const scoped_count&) = delete;
  scoped_count& operator=(const scoped_count&) = delete;

 private:
  T* target_;
  N amount_;
};

}  // namespace switchyard
