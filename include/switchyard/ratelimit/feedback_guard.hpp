#pragma once

#include "switchyard/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchyard {

/// Bounds what feedback can add to the store: at most `max_events_per_id` events per feedback
/// id, `success` and `failure` exclusive on one id, at most `max_event_names` distinct event
/// names per experiment. Per process (ids are not shared across replicas); the id table is
/// itself bounded (`max_ids`, oldest generation dropped first).
class feedback_guard {
 public:
  feedback_guard(std::uint32_t max_events_per_id, std::uint32_t max_event_names,
                 std::size_t max_ids = 1 << 18);

  /// Admits one event for `id` in `experiment`, or says why not: 429 `too_many_events` (per id),
  /// 409 `conflict` (success after failure or the reverse), 400 `invalid_request` (a new name
  /// beyond the per-experiment cap). Admitted events are counted.
  result<void> admit(std::string_view id, std::string_view experiment, std::string_view event);

 private:
  struct per_id {
    std::uint32_t events = 0;
    std::uint8_t verdict = 0;  // 1 = success seen, 2 = failure seen
  };
  per_id* lookup(std::string_view id);

  std::uint32_t max_events_per_id_;
  std::uint32_t max_event_names_;
  std::size_t max_ids_;
  std::mutex mutex_;  // the admin executor is one thread; the lock only makes that not matter
  // Two generations: when `current_` is full it becomes `previous_`, so memory stays bounded
  // and a recent id keeps its count.
  std::unordered_map<std::string, per_id> current_;
  std::unordered_map<std::string, per_id> previous_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> names_;
};

}  // namespace switchyard
