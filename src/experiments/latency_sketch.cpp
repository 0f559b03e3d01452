#include "switchyard/experiments/latency_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace switchyard {

namespace {

constexpr double bucket_ratio = 1.02;
constexpr double min_ms = 0.01;
// Bucket k > 0 holds (min_ms·bucket_ratio^(k−1), min_ms·bucket_ratio^k]; bucket 0 holds [0,
// min_ms]. The last index is ceil(ln(1e7 / 0.01) / ln(1.02)) = 1047, so values up to 1e7 ms keep
// the 1% accuracy. The serialized form depends on this layout: changing it needs a new
// `format_version`.
constexpr std::size_t bucket_count = 1048;
constexpr unsigned char format_version = 1;
constexpr std::uint32_t max_bucket = std::numeric_limits<std::uint32_t>::max();

// Precomputed so that `add` is one log and one multiply.
const double inv_log_ratio = 1.0 / std::log(bucket_ratio);

std::size_t index_of(double ms) noexcept {
  if (!(ms > min_ms)) {
    return 0;
  }
  const double k = std::ceil(std::log(ms / min_ms) * inv_log_ratio);
  // Compared as double first: a huge or infinite `ms` must not reach the conversion.
  if (!(k < static_cast<double>(bucket_count - 1))) {
    return bucket_count - 1;
  }
  return k < 1 ? 1 : static_cast<std::size_t>(k);
}

// The value that minimises the worst relative error over bucket k: 2·upper/(bucket_ratio + 1).
double representative(std::size_t k) noexcept {
  return min_ms * std::pow(bucket_ratio, static_cast<double>(k)) * 2.0 / (bucket_ratio + 1.0);
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a canonical LEB128 varint of at most 32 bits from the front of `in`; false on truncation,
// overflow or an over-long encoding (so every value has exactly one encoding).
bool get_varint(std::string_view& in, std::uint32_t& out) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 5 && i < in.size(); ++i) {
    const auto byte = static_cast<unsigned char>(in[i]);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if ((byte == 0 && i > 0) || v > max_bucket) {
        return false;
      }
      out = static_cast<std::uint32_t>(v);
      in.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

error sketch_error(std::string message) {
  return make_error(errc::invalid_request, "latency sketch: " + std::move(message));
}

}  // namespace

void latency_sketch::add(double ms) noexcept {
  if (!(ms >= 0)) {
    return;  // negative or NaN
  }
  if (buckets_.empty()) {
    try {
      buckets_.assign(bucket_count, 0);
    } catch (...) {
      return;  // out of memory: losing one sample beats terminating the gateway
    }
  }
  std::uint32_t& b = buckets_[index_of(ms)];
  if (b != max_bucket) {
    ++b;
    ++count_;
  }
}

void latency_sketch::merge(const latency_sketch& other) {
  if (other.buckets_.empty()) {
    return;
  }
  if (buckets_.empty()) {
    buckets_.assign(bucket_count, 0);
  }
  for (std::size_t k = 0; k < bucket_count; ++k) {
    const std::uint32_t room = max_bucket - buckets_[k];
    const std::uint32_t add = std::min(room, other.buckets_[k]);
    buckets_[k] += add;
    count_ += add;
  }
}

double latency_sketch::quantile(double q) const noexcept {
  if (count_ == 0) {
    return 0;
  }
  q = q > 0 ? std::min(q, 1.0) : 0.0;
  const auto rank = static_cast<std::uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  std::uint64_t seen = 0;
  for (std::size_t k = 0; k < bucket_count; ++k) {
    seen += buckets_[k];
    if (seen > rank) {
      return representative(k);
    }
  }
  return representative(bucket_count - 1);  // unreachable: the counts sum to count_
}

double latency_sketch::fraction_above(double ms) const noexcept {
  if (count_ == 0 || std::isnan(ms)) {
    return 0;
  }
  if (ms < 0) {
    return 1;
  }
  // A value counts as above when its representative is, as in `quantile`: this halves the
  // worst-case error compared with skipping the whole bucket of `ms`.
  std::size_t first = index_of(ms);
  if (!(representative(first) > ms)) {
    ++first;
  }
  std::uint64_t above = 0;
  for (std::size_t k = first; k < bucket_count; ++k) {
    above += buckets_[k];
  }
  return static_cast<double>(above) / static_cast<double>(count_);
}

std::string latency_sketch::serialize() const {
  std::string out;
  serialize_into(out);
  return out;
}

void latency_sketch::serialize_into(std::string& out) const {
  out.assign(1, static_cast<char>(format_version));
  const auto used = static_cast<std::uint64_t>(
      std::count_if(buckets_.begin(), buckets_.end(), [](std::uint32_t c) { return c != 0; }));
  put_varint(out, used);
  std::size_t next = 0;  // gaps are counted from the bucket after the previous one
  for (std::size_t k = 0; k < buckets_.size(); ++k) {
    if (buckets_[k] != 0) {
      put_varint(out, k - next);
      put_varint(out, buckets_[k]);
      next = k + 1;
    }
  }
}

void latency_sketch::clear() noexcept {
  std::fill(buckets_.begin(), buckets_.end(), 0u);
  count_ = 0;
}

result<latency_sketch> latency_sketch::deserialize(std::string_view bytes) {
  if (bytes.empty()) {
    return sketch_error("empty input");
  }
  if (static_cast<unsigned char>(bytes[0]) != format_version) {
    return sketch_error("unknown format version " +
                        std::to_string(static_cast<unsigned char>(bytes[0])));
  }
  bytes.remove_prefix(1);
  std::uint32_t used = 0;
  if (!get_varint(bytes, used)) {
    return sketch_error("truncated or malformed header");
  }
  if (used > bucket_count) {
    return sketch_error("more buckets than the format has");
  }
  latency_sketch s;
  if (used > 0) {
    s.buckets_.assign(bucket_count, 0);
  }
  std::size_t next = 0;
  for (std::uint32_t i = 0; i < used; ++i) {
    std::uint32_t gap = 0;
    std::uint32_t c = 0;
    if (!get_varint(bytes, gap) || !get_varint(bytes, c)) {
      return sketch_error("truncated or malformed bucket");
    }
    if (gap >= bucket_count - next) {
      return sketch_error("bucket index out of range");
    }
    if (c == 0) {
      return sketch_error("empty bucket in sparse list");
    }
    next += gap;
    s.buckets_[next] = c;
    s.count_ += c;
    ++next;
  }
  if (!bytes.empty()) {
    return sketch_error("trailing bytes");
  }
  return s;
}

}  // namespace switchyard
