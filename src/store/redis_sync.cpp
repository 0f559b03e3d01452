#include "switchyard/store/redis_sync.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/experiments/engine.hpp"

#include <spdlog/spdlog.h>

namespace switchyard {

redis_control_sync::redis_control_sync(std::shared_ptr<redis_client> client,
                                       experiment_engine& engine, std::string channel,
                                       duration reconcile)
    : engine_(engine), reconcile_(reconcile), hook_(std::make_shared<hook>()) {
  hook_->self = this;
  thread_ = std::thread([this] { run(); });
  // The callbacks run on the redis thread and may outlive this object (the client does):
  // they reach it through `hook_`, cleared by stop() under the mutex they take.
  auto poke = [h = hook_] {
    std::lock_guard lock(h->mutex);
    if (h->self) {
      h->self->notify();
    }
  };
  client->subscribe(
      std::move(channel), [poke](std::string_view, std::string_view) { poke(); }, poke);
}

redis_control_sync::~redis_control_sync() {
  stop();
}

void redis_control_sync::notify() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  cv_.notify_one();
}

void redis_control_sync::stop() {
  {
    std::lock_guard lock(hook_->mutex);
    hook_->self = nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void redis_control_sync::run() {
  name_thread("sy-store-sync");
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, reconcile_, [this] { return dirty_ || stopping_; });
    if (stopping_) {
      break;
    }
    dirty_ = false;
    lock.unlock();
    auto r = engine_.refresh_from_store();
    if (!r && !failing) {
      spdlog::warn("experiment controls: cannot read the shared store: {}", r.error().message);
    } else if (r && failing) {
      spdlog::info("experiment controls: the shared store answers again");
    }
    failing = !r;
    if (r && *r) {
      refreshes_.fetch_add(1, std::memory_order_relaxed);
    }
    lock.lock();
  }
}

}  // namespace switchyard
