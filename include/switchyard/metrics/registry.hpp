#pragma once

#include "switchyard/metrics/exposition.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Counters, gauges and histograms for the request path, sharded per worker thread.
//
// Every series keeps one cache line per shard; a worker updates only its own shard with a relaxed
// atomic read-modify-write, so observations take no lock, allocate nothing and share no cache
// line with another worker. A scrape (any thread) sums the shards. Updates are atomic RMWs rather
// than plain load+store even on a worker's own shard, so that two threads that end up on one
// shard (non-worker threads all use the last one) only contend and never lose an update.

namespace switchyard::metrics {

/// Each worker thread calls this once with its index (0..shards-2); other threads use the last
/// shard. An index at or past a registry's last shard means that last shard.
void set_thread_shard(std::size_t index) noexcept;

namespace detail {

// The calling thread's shard; max = not a worker. An inline variable with a constant initialiser,
// so that other translation units read it as a plain TLS load (no TLS wrapper call).
inline thread_local std::size_t thread_shard = std::numeric_limits<std::size_t>::max();

inline std::size_t shard_index(std::size_t shards) noexcept {
  return std::min(thread_shard, shards - 1);
}

// 64 rather than std::hardware_destructive_interference_size, which GCC warns is not ABI-stable.
inline constexpr std::size_t cache_line = 64;

// A double per shard, each on its own cache line: the state of a counter or a gauge.
class sharded_sum {
 public:
  explicit sharded_sum(std::size_t shards);
  sharded_sum(const sharded_sum&) = delete;
  sharded_sum& operator=(const sharded_sum&) = delete;

  // The sum over all shards.
  double value() const noexcept;

 protected:
  void add_on_own_shard(double v) noexcept {
    cells_[shard_index(shards_)].value.fetch_add(v, std::memory_order_relaxed);
  }

 private:
  struct alignas(cache_line) cell {
    std::atomic<double> value{0};
  };
  std::size_t shards_;
  std::unique_ptr<cell[]> cells_;
};

}  // namespace detail

/// A monotonic, double-valued counter (costs in USD are fractional).
class counter : private detail::sharded_sum {
 public:
  /// A counter at 0 with `shards` shards (at least 1, else std::invalid_argument).
  explicit counter(std::size_t shards = 1) : sharded_sum(shards) {}

  /// Adds `v` on the calling thread's shard. Zero, negative and NaN increments are ignored: a
  /// counter never goes down.
  void inc(double v = 1) noexcept {
    if (v > 0) {
      add_on_own_shard(v);
    }
  }

  /// The sum over all shards; monotonic across calls from one thread.
  using sharded_sum::value;
};

/// A value that goes up and down (requests in flight, open streams); each shard keeps the sum of
/// the adds and subs made on it, and a scrape adds the shards.
class gauge : private detail::sharded_sum {
 public:
  /// A gauge at 0 with `shards` shards (at least 1, else std::invalid_argument).
  explicit gauge(std::size_t shards = 1) : sharded_sum(shards) {}

  /// Adds `v` (NaN is ignored).
  void add(double v) noexcept {
    if (!std::isnan(v)) {
      add_on_own_shard(v);
    }
  }

  /// Subtracts `v` (NaN is ignored).
  void sub(double v) noexcept { add(-v); }

  /// The sum over all shards.
  using sharded_sum::value;
};

/// Observations counted in buckets with fixed, inclusive upper bounds (`le`), plus their sum.
class histogram {
 public:
  /// Throws std::invalid_argument unless `bounds` are finite and strictly increasing; a last bound
  /// of +Inf is dropped (the +Inf bucket always exists). Empty bounds leave only +Inf.
  histogram(std::size_t shards, std::vector<double> bounds);
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  /// Counts `v` in the first bucket whose bound is >= `v` (+Inf when none is) and adds it to the
  /// sum. NaN is counted in +Inf and makes the sum NaN, as in the Go client.
  void observe(double v) noexcept;

  /// Merged state. `cumulative[i]` counts observations <= `bounds[i]`; the last element (one past
  /// the bounds) is the +Inf bucket and equals `count`.
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };

  /// Sums the shards. Buckets and count are always consistent with each other; `sum` may lag an
  /// observation that is in progress.
  snapshot collect() const;

  /// Same, reusing the storage of `into` (for scrapes of many series).
  void collect(snapshot& into) const;

  /// The finite upper bounds.
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  // Per shard: word 0 holds the sum's bits, words 1..n+1 the non-cumulative bucket counts.
  struct alignas(detail::cache_line) line {
    std::array<std::atomic<std::uint64_t>, detail::cache_line / 8> words;
  };
  std::atomic<std::uint64_t>& word(std::size_t shard, std::size_t i) const noexcept;

  std::vector<double> bounds_;
  std::size_t shards_;
  std::size_t lines_per_shard_;
  std::unique_ptr<line[]> lines_;
};

namespace detail {

// What the registry needs from every family: its name and how to render it.
class family_base {
 public:
  virtual ~family_base() = default;
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;

  const std::string& name() const noexcept { return name_; }

  // Appends the family (metadata and samples) in the chosen format.
  virtual void render(std::string& out, bool openmetrics) const = 0;

 protected:
  family_base(std::string name, std::string help, metric_type type);
  void render_header(std::string& out, bool openmetrics) const;

 private:
  std::string name_;
  std::string help_;
  metric_type type_;
};

}  // namespace detail

/// One metric name with fixed label names; a series per combination of label values.
template <class Series>
class family final : public detail::family_base {
 public:
  ~family() override;

  /// The series for these label values (same count as label names, else std::invalid_argument).
  /// The reference lives as long as the registry. Existing series are found without a lock (an
  /// insert-only hash index read with acquire loads); a new series is created under a mutex.
  /// After `max_series` series, every new combination maps to the one series whose label values
  /// are all "other", so a family has at most `max_series + 1` series.
  Series& with(std::span<const std::string_view> values);

  /// Same, for a braced list: `requests.with({"gpt-4o", "2xx"}).inc()`.
  Series& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }

  /// The series of a family without labels.
  Series& with() { return with(std::span<const std::string_view>{}); }

  /// The label names, in the order `with` takes their values.
  const std::vector<std::string>& label_names() const noexcept { return labels_; }

  /// Series created so far.
  std::size_t size() const;

  /// Calls `fn(label_values, series)` for every series, in creation order (label values as given
  /// to `with`): what a scrape sees, for readers that aggregate series themselves (the alert
  /// engine's traffic sampler). Any thread; `fn` must not create series of this family.
  void visit(const std::function<void(std::span<const std::string>, const Series&)>& fn) const;

 private:
  friend class registry;
  struct entry;
  struct index;

  family(std::string name, std::string help, metric_type type, std::vector<std::string> labels,
         std::size_t shards, std::size_t max_series, std::vector<double> bounds);
  Series* find(std::span<const std::string_view> values, std::uint64_t hash) const noexcept;
  Series& create(std::span<const std::string_view> values, std::uint64_t hash);
  entry& insert(std::span<const std::string_view> values, std::uint64_t hash);
  void render(std::string& out, bool openmetrics) const override;

  std::vector<std::string> labels_;
  std::size_t shards_;
  std::size_t max_series_;
  std::vector<double> bounds_;                   // histograms only
  std::array<std::vector<std::string>, 2> le_;   // rendered bounds and +Inf, [openmetrics]
  std::atomic<index*> index_{nullptr};           // the newest index; never null
  std::atomic<Series*> other_{nullptr};          // set once the family is full
  mutable std::mutex mutex_;                     // guards creation and the two lists below
  std::vector<std::unique_ptr<entry>> entries_;  // creation order
  std::vector<std::unique_ptr<index>> indexes_;  // every version: a reader may hold an old one
};

extern template class family<counter>;
extern template class family<gauge>;
extern template class family<histogram>;

/// The metrics of one process, rendered for /metrics.
class registry {
 public:
  /// `shards` = workers + 1 (the last shard is for non-worker threads); 0 is a bug
  /// (std::invalid_argument).
  explicit registry(std::size_t shards);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// The shard count every series of this registry has.
  std::size_t shards() const noexcept { return shards_; }

  /// Registers a counter family. Throws std::invalid_argument (a startup bug) for an invalid or
  /// already used metric name, a name without the `_total` suffix, or invalid or repeated label
  /// names. A family without labels gets its one series (at 0) right away.
  family<counter>& add_counter(std::string name, std::string help, std::vector<std::string> labels,
                               std::size_t max_series = 10000);

  /// Registers a gauge family; same rules except the suffix.
  family<gauge>& add_gauge(std::string name, std::string help, std::vector<std::string> labels,
                           std::size_t max_series = 10000);

  /// Registers a histogram family with these bucket bounds (see `histogram`); `le` may not be a
  /// label name.
  family<histogram>& add_histogram(std::string name, std::string help,
                                   std::vector<std::string> labels, std::vector<double> bounds,
                                   std::size_t max_series = 10000);

  /// A family computed at scrape time (circuit state, pool connections, build_info): `fn`
  /// appends complete sample lines (use the exposition helpers); the registry writes # HELP and
  /// # TYPE once. `type` is "counter", "gauge", "histogram", "summary" or "untyped". `fn` may run
  /// on any thread and concurrently with itself (two scrapes), and must not register metrics.
  void add_callback(std::string name, std::string help, std::string type,
                    std::function<void(std::string& out, bool openmetrics)> fn);

  /// Prometheus text format 0.0.4, or OpenMetrics 1.0 when `openmetrics` (counter TYPE lines
  /// without `_total`, `# EOF` at the end, no `_created`). Families in registration order, series
  /// in creation order; a labelled family without series is left out. Thread-safe against
  /// concurrent observations, series creation and registration.
  std::string render(bool openmetrics = false) const;

 private:
  void claim(const std::string& name, metric_type type, const std::vector<std::string>& labels);
  template <class Series>
  family<Series>& add(std::string name, std::string help, metric_type type,
                      std::vector<std::string> labels, std::size_t max_series,
                      std::vector<double> bounds);

  std::size_t shards_;
  mutable std::mutex mutex_;  // guards the two members below
  std::vector<std::unique_ptr<detail::family_base>> families_;
  std::set<std::string, std::less<>> names_;  // every sample and family name in use
  mutable std::atomic<std::size_t> size_hint_{0};
};

/// `count` bounds growing geometrically from `start` by `factor`, like the Go client's
/// ExponentialBuckets. Throws std::invalid_argument unless start > 0, factor > 1, count >= 1.
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

/// LLM latencies, 5 ms .. 120 s: 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30,
/// 60, 120.
std::vector<double> default_latency_buckets();

/// Gateway overhead, 10 µs .. 100 ms: 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
/// 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1.
std::vector<double> default_overhead_buckets();

}  // namespace switchyard::metrics
