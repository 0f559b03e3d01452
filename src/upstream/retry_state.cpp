#include "switchyard/upstream/retry_state.hpp"

#include <algorithm>

namespace switchyard {

namespace {

std::int64_t to_ns(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

retry_state::retry_state(const retry_config& cfg, retry_budget& budget,
                         steady_clock::time_point deadline) noexcept
    : cfg_(cfg), budget_(budget), deadline_(deadline) {
  budget_.request_started();
}

retry_state::~retry_state() {
  release_slot();
  budget_.request_finished();
}

void retry_state::release_slot() noexcept {
  if (slot_) {
    slot_ = false;
    budget_.retry_finished();
  }
}

void retry_state::start_target(circuit_breaker* breaker) noexcept {
  release_slot();
  breaker_ = breaker;
  tries_ = 0;
  recorded_ = true;  // no attempt yet: nothing to record
}

bool retry_state::allow(steady_clock::time_point now) noexcept {
  if (!breaker_ || breaker_->allow(to_ns(now))) {
    return true;
  }
  ejected_for_ = std::min(ejected_for_, breaker_->retry_after(to_ns(now)));
  stop_ = retry_stop::ejected;
  return false;
}

void retry_state::begin_attempt() noexcept {
  ++tries_;
  ++attempts_;
  recorded_ = false;
}

void retry_state::record(bool success, steady_clock::time_point now) noexcept {
  if (recorded_) {
    return;
  }
  recorded_ = true;
  if (breaker_) {
    breaker_->record(success, to_ns(now));
  }
}

void retry_state::end_attempt() noexcept {
  release_slot();
}

retry_decision retry_state::decide(const error& e,
                                   std::optional<std::chrono::milliseconds> server_floor,
                                   double uniform01, steady_clock::time_point now) noexcept {
  if (e.retry == retry_mode::no) {
    stop_ = retry_stop::not_retriable;
    return {false, std::chrono::milliseconds{0}, stop_};
  }
  auto d = next_retry(tries_, cfg_, server_floor, uniform01, now, deadline_);
  if (!d.retry) {
    stop_ = d.why_not;
    return d;
  }
  if (!budget_.try_start_retry()) {
    stop_ = retry_stop::retry_budget;  // an outage must not become a retry storm
    return {false, d.wait, stop_};
  }
  slot_ = true;
  ++retries_;
  return d;
}

bool retry_state::past_deadline(steady_clock::time_point now) noexcept {
  if (now < deadline_) {
    return false;
  }
  stop_ = retry_stop::deadline;
  return true;
}

}  // namespace switchyard
