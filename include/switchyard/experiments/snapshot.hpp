#pragma once

#include "switchyard/experiments/plan.hpp"

#include <atomic>
#include <memory>

namespace switchyard {

/// The running configuration as requests see it: one immutable `plan` whose `cfg` is the hot
/// part of the configuration (models, retries, tokens, feedback keys, prompts, experiments),
/// swapped atomically. Owned by the server, which publishes a reload through the experiment
/// engine (the plan layers the stored operator controls on the config); requests take
/// `current()` once and keep that snapshot to their end. The boot part never changes while the
/// process runs, so it is not here: workers read it from their own `boot_config`.
class config_snapshot {
 public:
  /// The snapshot a request starts with; never null once the server is constructed.
  std::shared_ptr<const plan> current() const noexcept {
    return plan_.load(std::memory_order_acquire);
  }

  /// Makes `next` what new requests see. Writers are serialised by the experiment engine.
  void publish(std::shared_ptr<const plan> next) noexcept {
    plan_.store(std::move(next), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const plan>> plan_;
};

}  // namespace switchyard
