#include "switchyard/ratelimit/feedback_guard.hpp"

namespace switchyard {

feedback_guard::feedback_guard(std::uint32_t max_events_per_id, std::uint32_t max_event_names,
                               std::size_t max_ids)
    : max_events_per_id_(max_events_per_id),
      max_event_names_(max_event_names),
      max_ids_(std::max<std::size_t>(max_ids, 2) / 2) {}

feedback_guard::per_id* feedback_guard::lookup(std::string_view id) {
  std::string key(id);
  if (auto it = current_.find(key); it != current_.end()) {
    return &it->second;
  }
  per_id carried;
  if (auto it = previous_.find(key); it != previous_.end()) {
    carried = it->second;
  }
  if (current_.size() >= max_ids_) {
    previous_ = std::move(current_);
    current_.clear();
  }
  return &current_.emplace(std::move(key), carried).first->second;
}

result<void> feedback_guard::admit(std::string_view id, std::string_view experiment,
                                   std::string_view event) {
  std::lock_guard lock(mutex_);
  auto& names = names_[std::string(experiment)];
  if (!names.contains(event) && names.size() >= max_event_names_) {
    return make_error(errc::invalid_request,
                      "Experiment " + std::string(experiment) + " already has " +
                          std::to_string(names.size()) +
                          " distinct feedback event names (feedback.max_event_names); use one "
                          "of those",
                      "event");
  }
  per_id* p = lookup(id);
  if (p->events >= max_events_per_id_) {
    return make_error(errc::too_many_events,
                      "This feedback id already has " + std::to_string(p->events) +
                          " events (feedback.max_events_per_id).",
                      "request_id");
  }
  const std::uint8_t verdict = event == "success" ? 1 : event == "failure" ? 2 : 0;
  if (verdict != 0 && p->verdict != 0 && p->verdict != verdict) {
    return make_error(errc::conflict,
                      p->verdict == 1 ? "This feedback id is already recorded as success; "
                                        "success and failure are exclusive."
                                      : "This feedback id is already recorded as failure; "
                                        "success and failure are exclusive.",
                      "event");
  }
  if (verdict != 0) {
    p->verdict = verdict;
  }
  ++p->events;
  names.emplace(event);
  return {};
}

}  // namespace switchyard
