#pragma once

#include "switchyard/store/redis_client.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace switchyard {

class experiment_engine;

/// Brings controls and phases that other replicas write to the shared store into this one's
/// plan: a message on the store's channel (published with every control and phase write), a
/// resubscription after a reconnect (what was missed meanwhile) and a reconciliation every
/// `reconcile` each make its thread ("sy-store-sync") call `engine.refresh_from_store()`. A
/// message is applied within one Redis round trip and a plan rebuild (well under a second);
/// a lost message within `reconcile`.
class redis_control_sync {
 public:
  redis_control_sync(std::shared_ptr<redis_client> client, experiment_engine& engine,
                     std::string channel, duration reconcile = std::chrono::seconds(5));
  ~redis_control_sync();
  redis_control_sync(const redis_control_sync&) = delete;
  redis_control_sync& operator=(const redis_control_sync&) = delete;

  /// Ends the thread (idempotent); the subscription's messages are ignored from then on.
  void stop();

  /// Refreshes applied so far (for tests and /metrics).
  std::uint64_t refreshes() const noexcept { return refreshes_.load(); }

 private:
  void notify();
  void run();

  experiment_engine& engine_;
  duration reconcile_;
  struct hook {  // what the redis thread's callbacks reach this object through
    std::mutex mutex;
    redis_control_sync* self = nullptr;
  };
  std::shared_ptr<hook> hook_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool dirty_ = false, stopping_ = false;
  std::atomic<std::uint64_t> refreshes_{0};
  std::thread thread_;
};

}  // namespace switchyard
