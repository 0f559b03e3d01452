#include "switchyard/metrics/registry.hpp"

#include "series_detail.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

// Families (the series index per label values, rendering) and the registry; the series
// themselves are in series.cpp.
//
// Memory order: the series index is published with release stores and read with acquire loads,
// so a reader that finds an entry also sees it fully constructed.

namespace switchyard::metrics {

namespace {

// FNV-1a over the values with a separator (so {"ab","c"} and {"a","bc"} differ), then the
// MurmurHash3 finaliser: the index masks the low bits, which FNV leaves weak.
std::uint64_t hash_values(std::span<const std::string_view> values) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::string_view v : values) {
    for (char c : v) {
      h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
    h = (h ^ 0xffU) * 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

namespace detail {

family_base::family_base(std::string name, std::string help, metric_type type)
    : name_(std::move(name)), help_(sanitize_utf8(help)), type_(type) {}

void family_base::render_header(std::string& out, bool openmetrics) const {
  append_family_header(out, name_, help_, type_, openmetrics);
}

}  // namespace detail

template <class Series>
struct family<Series>::entry {
  template <class... Args>
  entry(std::uint64_t h, std::span<const std::string_view> v, std::string l, Args&&... args)
      : hash(h),
        values(v.begin(), v.end()),
        labels(std::move(l)),
        series(std::forward<Args>(args)...) {}

  std::uint64_t hash;
  std::vector<std::string> values;  // as given to `with`, for lookups
  std::string labels;               // `a="x",b="y"`: sanitised, escaped, without braces
  Series series;
};

// Open addressing with linear probing, at most half full; slots go from null to an entry once.
template <class Series>
struct family<Series>::index {
  explicit index(std::size_t capacity)
      : mask(capacity - 1), slots(std::make_unique<std::atomic<entry*>[]>(capacity)) {}

  void place(entry* e, std::memory_order order) noexcept {
    for (std::size_t i = e->hash & mask;; i = (i + 1) & mask) {
      if (slots[i].load(std::memory_order_relaxed) == nullptr) {
        slots[i].store(e, order);
        return;
      }
    }
  }

  std::size_t mask;
  std::unique_ptr<std::atomic<entry*>[]> slots;
};

template <class Series>
family<Series>::family(std::string name, std::string help, metric_type type,
                       std::vector<std::string> labels, std::size_t shards, std::size_t max_series,
                       std::vector<double> bounds)
    : detail::family_base(std::move(name), std::move(help), type),
      labels_(std::move(labels)),
      shards_(shards),
      max_series_(max_series),
      bounds_(std::move(bounds)) {
  for (int om = 0; om < 2; ++om) {
    for (double b : bounds_) {
      le_[static_cast<std::size_t>(om)].push_back(format_le(b, om == 1));
    }
    le_[static_cast<std::size_t>(om)].push_back("+Inf");
  }
  indexes_.push_back(std::make_unique<index>(16));
  index_.store(indexes_.back().get(), std::memory_order_release);
  if (labels_.empty()) {
    with();  // the one series exists from the start, so it is scraped as 0
  }
}

template <class Series>
family<Series>::~family() = default;

template <class Series>
Series& family<Series>::with(std::span<const std::string_view> values) {
  if (values.size() != labels_.size()) {
    throw std::invalid_argument("metrics: " + name() + " takes " + std::to_string(labels_.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  const std::uint64_t hash = hash_values(values);
  // `other_` is stored after the last insert, so once it is seen every series is in the index.
  Series* other = other_.load(std::memory_order_acquire);
  if (Series* s = find(values, hash)) {
    return *s;
  }
  return other != nullptr ? *other : create(values, hash);
}

template <class Series>
Series* family<Series>::find(std::span<const std::string_view> values,
                             std::uint64_t hash) const noexcept {
  const index* t = index_.load(std::memory_order_acquire);
  for (std::size_t n = 0, i = hash & t->mask; n <= t->mask; ++n, i = (i + 1) & t->mask) {
    entry* e = t->slots[i].load(std::memory_order_acquire);
    if (e == nullptr) {
      return nullptr;
    }
    if (e->hash == hash &&
        std::equal(e->values.begin(), e->values.end(), values.begin(), values.end())) {
      return &e->series;
    }
  }
  return nullptr;
}

template <class Series>
Series& family<Series>::create(std::span<const std::string_view> values, std::uint64_t hash) {
  std::lock_guard lock(mutex_);
  if (Series* s = find(values, hash)) {
    return *s;  // created by another thread since our lookup
  }
  if (labels_.empty() || entries_.size() < max_series_) {
    return insert(values, hash).series;
  }
  const std::vector<std::string_view> others(labels_.size(), "other");
  const std::uint64_t other_hash = hash_values(others);
  Series* other = find(others, other_hash);
  if (other == nullptr) {
    other = &insert(others, other_hash).series;
  }
  other_.store(other, std::memory_order_release);
  return *other;
}

template <class Series>
typename family<Series>::entry& family<Series>::insert(std::span<const std::string_view> values,
                                                       std::uint64_t hash) {
  std::string text;
  append_labels(text, labels_, values);
  if constexpr (std::is_same_v<Series, histogram>) {
    entries_.push_back(std::make_unique<entry>(hash, values, std::move(text), shards_, bounds_));
  } else {
    entries_.push_back(std::make_unique<entry>(hash, values, std::move(text), shards_));
  }
  entry* e = entries_.back().get();
  index* current = index_.load(std::memory_order_relaxed);
  if (entries_.size() * 2 <= current->mask + 1) {
    current->place(e, std::memory_order_release);
    return *e;
  }
  // Grow: readers of the old index keep using it (they fall back to `create` for new series).
  auto bigger = std::make_unique<index>((current->mask + 1) * 2);
  for (const auto& each : entries_) {
    bigger->place(each.get(), std::memory_order_relaxed);
  }
  index_.store(bigger.get(), std::memory_order_release);
  indexes_.push_back(std::move(bigger));
  return *e;
}

template <class Series>
std::size_t family<Series>::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

namespace {

void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view labels) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
}

void append_histogram(std::string& out, std::string_view name, std::string_view labels,
                      const std::vector<std::string>& le, const histogram::snapshot& snap) {
  for (std::size_t b = 0; b < snap.cumulative.size(); ++b) {
    out += name;
    out += "_bucket{";
    out += labels;
    out += labels.empty() ? "le=\"" : ",le=\"";
    out += le[b];
    out += "\"} ";
    append_number(out, snap.cumulative[b]);
    out += '\n';
  }
  append_series_name(out, name, "_sum", labels);
  append_number(out, snap.sum);
  out += '\n';
  append_series_name(out, name, "_count", labels);
  append_number(out, snap.count);
  out += '\n';
}

}  // namespace

template <class Series>
void family<Series>::visit(
    const std::function<void(std::span<const std::string>, const Series&)>& fn) const {
  std::vector<const entry*> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.reserve(entries_.size());
    for (const auto& e : entries_) {
      snapshot.push_back(e.get());
    }
  }
  for (const entry* e : snapshot) {
    fn(e->values, e->series);
  }
}

template <class Series>
void family<Series>::render(std::string& out, bool openmetrics) const {
  std::vector<const entry*> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.reserve(entries_.size());
    for (const auto& e : entries_) {
      snapshot.push_back(e.get());
    }
  }
  if (snapshot.empty()) {
    return;  // like the Go client: a family that has no series yet is not exposed
  }
  render_header(out, openmetrics);
  [[maybe_unused]] histogram::snapshot scratch;  // reused across the series of one family
  for (const entry* e : snapshot) {
    if constexpr (std::is_same_v<Series, histogram>) {
      e->series.collect(scratch);
      append_histogram(out, name(), e->labels, le_[openmetrics ? 1 : 0], scratch);
    } else {
      append_series_name(out, name(), "", e->labels);
      append_number(out, e->series.value());
      out += '\n';
    }
  }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

namespace {

// A family whose samples a callback writes at scrape time.
class callback_family final : public detail::family_base {
 public:
  callback_family(std::string name, std::string help, metric_type type,
                  std::function<void(std::string&, bool)> fn)
      : family_base(std::move(name), std::move(help), type), fn_(std::move(fn)) {}

  void render(std::string& out, bool openmetrics) const override {
    render_header(out, openmetrics);
    fn_(out, openmetrics);
  }

 private:
  std::function<void(std::string&, bool)> fn_;
};

}  // namespace

registry::registry(std::size_t shards) : shards_(detail::at_least_one(shards)) {}

registry::~registry() = default;

void registry::claim(const std::string& name, metric_type type,
                     const std::vector<std::string>& labels) {
  validate_family(name, type, labels);
  const std::vector<std::string> names = exposed_names(name, type);
  for (const auto& n : names) {
    if (names_.contains(n)) {
      throw std::invalid_argument("metrics: " + name + ": clashes with the registered name " + n);
    }
  }
  names_.insert(names.begin(), names.end());
}

template <class Series>
family<Series>& registry::add(std::string name, std::string help, metric_type type,
                              std::vector<std::string> labels, std::size_t max_series,
                              std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  claim(name, type, labels);
  std::unique_ptr<family<Series>> f(new family<Series>(std::move(name), std::move(help), type,
                                                       std::move(labels), shards_, max_series,
                                                       std::move(bounds)));
  family<Series>& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

family<counter>& registry::add_counter(std::string name, std::string help,
                                       std::vector<std::string> labels, std::size_t max_series) {
  return add<counter>(std::move(name), std::move(help), metric_type::counter, std::move(labels),
                      max_series, {});
}

family<gauge>& registry::add_gauge(std::string name, std::string help,
                                   std::vector<std::string> labels, std::size_t max_series) {
  return add<gauge>(std::move(name), std::move(help), metric_type::gauge, std::move(labels),
                    max_series, {});
}

family<histogram>& registry::add_histogram(std::string name, std::string help,
                                           std::vector<std::string> labels,
                                           std::vector<double> bounds, std::size_t max_series) {
  // Before claiming the name: a throw registers nothing.
  bounds = detail::normalized_bounds(std::move(bounds));
  return add<histogram>(std::move(name), std::move(help), metric_type::histogram, std::move(labels),
                        max_series, std::move(bounds));
}

void registry::add_callback(std::string name, std::string help, std::string type,
                            std::function<void(std::string& out, bool openmetrics)> fn) {
  const auto parsed = parse_metric_type(type);
  if (!parsed || !fn) {
    throw std::invalid_argument("metrics: " + name + ": a callback needs a function and a type");
  }
  std::lock_guard lock(mutex_);
  claim(name, *parsed, {});
  families_.push_back(
      std::make_unique<callback_family>(std::move(name), std::move(help), *parsed, std::move(fn)));
}

std::string registry::render(bool openmetrics) const {
  std::vector<const detail::family_base*> families;
  {
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const auto& f : families_) {
      families.push_back(f.get());
    }
  }
  std::string out;
  out.reserve(size_hint_.load(std::memory_order_relaxed) + 1024);  // one allocation, usually
  for (const detail::family_base* f : families) {
    f->render(out, openmetrics);
  }
  if (openmetrics) {
    out += "# EOF\n";
  }
  size_hint_.store(out.size(), std::memory_order_relaxed);
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1) || count == 0) {
    throw std::invalid_argument("metrics: exponential_buckets needs start > 0, factor > 1, count");
  }
  std::vector<double> bounds(count);
  for (double& b : bounds) {
    b = start;
    start *= factor;
  }
  if (!std::isfinite(bounds.back())) {
    throw std::invalid_argument("metrics: exponential_buckets overflows");
  }
  return bounds;
}

std::vector<double> default_latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120};
}

std::vector<double> default_overhead_buckets() {
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1};
}

}  // namespace switchyard::metrics
