#pragma once
// Runs Batch API jobs (docs/batches.md) on its own thread and io_context ("sy-batches"), never
// on a worker's loop: validates input files, sends each line to the gateway's own listener over
// loopback HTTP — so routing, experiments, retries, fallbacks, rate limits and metering apply as
// to a live request — with `x-switchyard-priority: batch`, at most `batches.concurrency` lines
// of a batch in flight, and records each result in the batch store before it counts as done.

#include "switchyard/config/config.hpp"
#include "switchyard/core/net.hpp"
#include "switchyard/jobs/batch_store.hpp"
#include "switchyard/metrics/registry.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace switchyard {

class config_snapshot;

/// The id of a batch's output (or error) file: derived from the batch id, so a finalization
/// that a restart repeats writes the same file again.
std::string batch_result_file_id(std::string_view batch_id, bool errors);

/// The runner. `store`, `snapshot` and `lines_total` (label `status`) must outlive it.
///
/// With a shared store (Redis) several replicas' runners look at the same batches: a runner
/// runs a batch only while it holds the batch's lease (batch_store::claim_lease, for
/// `batches.lease`), renewed every third of it; each renewal also reads the batch's status, so
/// a cancel stored through any replica stops this one's lines. A runner that dies stops
/// renewing: the lease expires and another runner's scan (every poll_interval) takes the batch
/// over from its recorded lines. A runner that fails to renew stops starting lines and does not
/// finalize (another may be running the batch by then); its lines in flight still record, which
/// the store makes idempotent.
class batch_runner {
 public:
  batch_runner(const batches_config& cfg, batch_store& store, const config_snapshot* snapshot,
               metrics::family<metrics::counter>* lines_total);
  ~batch_runner();
  batch_runner(const batch_runner&) = delete;
  batch_runner& operator=(const batch_runner&) = delete;

  /// Starts the thread; lines go to `host:port` (the gateway's own listener). Resumes every
  /// batch the store has unfinished.
  void start(std::string host, std::uint16_t port);

  /// Looks for new work now (a batch was created); any thread.
  void wake();

  /// A cancel was stored for `batch_id`: stop starting its lines; any thread.
  void cancel(std::string batch_id);

  /// Stops starting lines (the drain began); those in flight go on. Any thread, non-blocking.
  void stop_starting();

  /// Stops starting lines and lets those in flight finish until `deadline`, then closes their
  /// connections (a line cut so is not recorded, and runs again after a restart) and joins the
  /// thread. Idempotent.
  void stop(steady_clock::time_point deadline);

  /// Lines in flight now (tests, metrics).
  std::size_t in_flight() const noexcept { return in_flight_.load(); }

 private:
  struct run;
  struct slot;
  net::awaitable<void> supervise();
  net::awaitable<void> run_batch(std::string id);
  net::awaitable<bool> validate(run& r);
  net::awaitable<void> execute(run& r);
  net::awaitable<void> run_slot(run& r);
  net::awaitable<void> run_line(run& r, slot& s, const batch_line_ref& ref);
  net::awaitable<void> sleep(steady_clock::duration d);
  net::awaitable<void> keep_lease(std::shared_ptr<run> r);
  std::optional<batch_line_ref> take(run& r);
  bool expire_rest(run& r);  // false: the store failed
  void count(bool ok);
  void check_idle();

  batches_config cfg_;
  batch_store& store_;
  std::string owner_;  // this runner's lease owner id (random per process)
  const config_snapshot* snapshot_;
  metrics::family<metrics::counter>* lines_total_;
  net::io_context io_{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::thread thread_;
  tcp::endpoint target_;
  // Runner-thread state.
  net::steady_timer wake_timer_{io_};
  std::set<std::string> active_;     // batches with a run_batch coroutine
  std::set<std::string> cancelled_;  // cancel requests not yet seen by their run
  std::set<net::steady_timer*> sleepers_;
  std::set<beast::tcp_stream*> streams_;
  bool stopping_ = false;
  std::atomic<std::size_t> in_flight_{0};
  // Stop handshake with the calling thread.
  std::mutex m_;
  std::condition_variable cv_;
  bool idle_ = false;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace switchyard
