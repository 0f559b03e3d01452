#pragma once

#include "switchyard/experiments/store.hpp"
#include "switchyard/store/redis_client.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace switchyard {

struct redis_store_options {
  std::string key_prefix = "switchyard:";
  duration flush_timeout{2'000};  // every call's deadline
  std::uint64_t buffer_max_bytes = 64ull << 20;
};

/// The experiment store many replicas share (docs/replicas.md has the key layout and the
/// guarantees). Statistics flushes are applied by one Lua script, atomically and at most once
/// per flush id (this replica's random id + a sequence number; the id key lives 24 h), so a
/// retried flush never counts twice; sketch buckets and every sum are HINCRBY/HINCRBYFLOAT, so
/// replicas' flushes add up. Feedback is deduplicated on (request_id, event) with SET NX.
///
/// While Redis is unreachable, flushes and feedback are kept in memory (at most
/// buffer_max_bytes; beyond it the oldest flushes are dropped and counted) and replayed, in
/// order and idempotently, by the next write or `replay` once it answers. Reads and control
/// writes fail with errc::unavailable instead. Thread-safe; every call blocks for at most
/// flush_timeout, so none may run on a worker's event loop.
class redis_experiment_store final : public experiment_store {
 public:
  redis_experiment_store(std::shared_ptr<redis_client> client, redis_store_options opts);

  result<void> write_batch(std::span<const variant_hour_stats> rows,
                           std::span<const unit_record> units) override;
  result<bool> add_feedback(const feedback_record& f) override;
  result<std::vector<variant_hour_stats>> read_stats(std::string_view experiment,
                                                     std::int64_t from_hour,
                                                     std::int64_t to_hour) override;
  result<std::vector<variant_hour_stats>> read_prompt_stats(std::string_view prompt_name) override;
  result<std::map<std::string, std::uint64_t>> unit_counts(std::string_view experiment) override;
  result<unit_summary> read_units(std::string_view experiment, std::int64_t phase) override;
  result<std::vector<phase_record>> phases(std::string_view experiment) override;
  result<void> add_phase(const phase_record& p) override;
  result<std::vector<feedback_summary>> read_feedback(std::string_view experiment,
                                                      bool per_hour) override;
  result<std::vector<feedback_summary>> read_feedback_between(std::string_view experiment,
                                                              std::int64_t from_unix,
                                                              std::int64_t to_unix) override;
  result<std::map<std::string, unit_aggregate>> read_feedback_units(std::string_view experiment,
                                                                    std::int64_t phase,
                                                                    std::int64_t from_unix,
                                                                    std::int64_t to_unix) override;
  result<std::vector<feedback_summary>> read_prompt_feedback(std::string_view prompt_name) override;
  result<std::vector<experiment_control>> load_controls() override;
  result<void> save_control(const experiment_control& c) override;
  /// A compare-and-set (Lua) against the value read, re-applying `edit` on a conflict: an edit
  /// from another replica in between is kept, never overwritten.
  result<experiment_control> update_control(
      std::string_view experiment, const std::function<void(experiment_control&)>& edit) override;
  result<void> add_guardrail_event(const guardrail_event& e) override;
  result<std::vector<guardrail_event>> guardrail_events(std::string_view experiment) override;
  result<bool> claim_guardrail_trip(std::string_view experiment, std::string_view variant,
                                    std::int64_t phase) override;
  result<void> replay() override;
  result<std::vector<stored_prompt_version>> load_prompt_versions() override;
  result<void> put_prompt_versions(std::span<const stored_prompt_version> versions) override;
  result<std::uint64_t> delete_prompt_versions(std::string_view name,
                                               std::string_view version) override;

  /// The pub/sub channel controls and phases are announced on (`<prefix>events`).
  std::string channel() const { return prefix_ + "events"; }

  // For /metrics.
  std::uint64_t buffered_bytes() const noexcept { return buffered_bytes_.load(); }
  std::uint64_t dropped_requests() const noexcept { return dropped_requests_.load(); }
  std::uint64_t dropped_feedback() const noexcept { return dropped_feedback_.load(); }
  std::uint64_t failures(std::string_view op) const noexcept;

 private:
  struct pending_flush {
    std::string id, payload;
    std::uint64_t requests = 0;
  };
  struct pending_feedback {
    std::string key, payload;  // dedup key (request_id, event), the record
    std::string experiment;
  };
  result<void> replay_locked();  // flush_mutex_ held
  bool apply_flush(const pending_flush& f);
  // Applies buffered feedback in order; false when Redis did not answer.
  bool replay_feedback();
  bool replay_feedback_locked();  // feedback_mutex_ held
  void enforce_bound();
  error fail(const char* op, error e);
  result<std::vector<std::string>> experiments();
  result<std::vector<variant_hour_stats>> stats_of(const std::string& experiment,
                                                   std::int64_t from_hour, std::int64_t to_hour);
  result<std::vector<feedback_record>> feedback_of(const std::string& experiment);
  result<redis_reply> call(std::vector<std::string> argv);
  result<void> scan_values(const std::string& key, const char* what,
                           const std::function<void(const std::string&)>& fn);

  std::shared_ptr<redis_client> client_;
  std::string prefix_;
  duration timeout_;
  std::uint64_t max_bytes_;
  std::string replica_id_;
  std::uint64_t sequence_ = 0;  // flush_mutex_

  std::mutex flush_mutex_;  // the statistics buffer
  std::deque<pending_flush> flushes_;
  std::mutex feedback_mutex_;  // the feedback buffer
  std::deque<pending_feedback> feedback_;
  std::set<std::string> feedback_keys_;  // of feedback_, for the duplicate answer while down
  std::atomic<std::uint64_t> buffered_bytes_{0}, dropped_requests_{0}, dropped_feedback_{0};
  std::atomic<std::uint64_t> write_failures_{0}, read_failures_{0}, control_failures_{0};
  std::atomic<bool> dropping_logged_{false};
};

}  // namespace switchyard
