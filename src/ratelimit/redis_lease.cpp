#include "switchyard/ratelimit/redis_lease.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace switchyard {

std::uint64_t max_lease(std::uint64_t capacity) noexcept {
  const auto cap = static_cast<std::uint64_t>(static_cast<double>(capacity) * max_lease_share);
  return std::max<std::uint64_t>(cap, 1);
}

std::uint64_t lease_size(double rate_per_s, std::chrono::nanoseconds horizon,
                         std::uint64_t capacity, std::uint64_t remaining) noexcept {
  if (capacity == 0) {
    return 1;
  }
  const double used =
      1.0 - static_cast<double>(std::min(remaining, capacity)) / static_cast<double>(capacity);
  // TensorZero's caps (rate_limiting/token_pool.rs, PR #5663): 25 % / 10 % / 5 %.
  const double share = used < 0.5 ? max_lease_share : used < 0.8 ? 0.10 : 0.05;
  const auto cap =
      std::max<std::uint64_t>(static_cast<std::uint64_t>(static_cast<double>(capacity) * share), 1);
  const double seconds = std::chrono::duration<double>(horizon).count();
  const double expected = std::ceil(std::max(rate_per_s, 0.0) * std::max(seconds, 0.0));
  const auto want =
      expected >= static_cast<double>(cap) ? cap : static_cast<std::uint64_t>(expected);
  return std::clamp<std::uint64_t>(want, 1, cap);
}

std::uint64_t fallback_limit(std::uint64_t limit, std::uint32_t expected_replicas,
                             double margin) noexcept {
  if (limit == 0) {
    return 0;
  }
  const double replicas = std::max<std::uint32_t>(expected_replicas, 1);
  const double share = static_cast<double>(limit) / replicas * (1.0 - std::clamp(margin, 0.0, 1.0));
  // Floor: the sum over the expected replicas must stay at or below limit × (1 − margin).
  const auto n = static_cast<std::uint64_t>(std::floor(share + 1e-9));
  return std::clamp<std::uint64_t>(n, 1, limit);
}

std::uint64_t batch_keep(std::uint64_t capacity, double reserve) noexcept {
  if (reserve <= 0) {
    return 0;
  }
  const double keep = std::ceil(static_cast<double>(capacity) * std::min(reserve, 1.0) - 1e-9);
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max(keep, 1.0)), capacity);
}

bool batch_fits(std::uint64_t free, std::uint64_t cost, std::uint64_t keep) noexcept {
  return free >= cost && free - cost >= keep;
}

std::string bucket_key(std::string_view prefix, std::uint64_t key) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(prefix.size() + 3 + 16);
  out.append(prefix).append("rl:");
  for (int shift = 60; shift >= 0; shift -= 4) {
    out.push_back(hex[(key >> shift) & 0xf]);
  }
  return out;
}

redis_gcra gcra_of(std::uint64_t limit, std::chrono::milliseconds period) noexcept {
  if (limit == 0 || period.count() <= 0) {
    return {};
  }
  const double us = static_cast<double>(period.count()) * 1000.0;
  const double interval = us / static_cast<double>(limit);
  return {interval, interval * static_cast<double>(limit)};
}

bool is_batch_priority(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  constexpr std::string_view batch = "batch";
  if (v.size() != batch.size()) {
    return false;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i] >= 'A' && v[i] <= 'Z' ? static_cast<char>(v[i] - 'A' + 'a') : v[i];
    if (c != batch[i]) {
      return false;
    }
  }
  return true;
}

namespace rate_lua {

// GCRA as in gcra.cpp, on the server's clock so that every replica agrees on "now": a bucket is
// one theoretical arrival time (TAT, µs, a string key). Free units = ⌊(burst - (TAT - now)) /
// interval⌋. A key expires when its TAT passes (an absent key is a full bucket), so idle
// buckets cost Redis nothing. Numbers are Lua doubles: µs since 1970 are < 2^53.
const char* const take = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local tats, free = {}, {}
for i = 1, n do
  local b = (i - 1) * 5
  local T, tau = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local need, keep = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 5])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  tats[i] = tat
  local f = math.floor((tau - (tat - now)) / T + 1e-9)
  if f < 0 then f = 0 end
  free[i] = f
  if f - keep < need then
    local out = {0, i, math.ceil(tat + (need + keep) * T - tau - now)}
    for j = 1, n do
      local fj = free[j]
      if fj == nil then
        local bj = (j - 1) * 5
        local Tj, tauj = tonumber(ARGV[bj + 1]), tonumber(ARGV[bj + 2])
        local tj = tonumber(redis.call('GET', KEYS[j]) or '0')
        if tj < now then tj = now end
        tats[j] = tj
        fj = math.max(0, math.floor((tauj - (tj - now)) / Tj + 1e-9))
      end
      out[#out + 1] = 0
      out[#out + 1] = fj
      out[#out + 1] = math.ceil(tats[j] - now)
    end
    return out
  end
end
local out = {1, 0, 0}
for i = 1, n do
  local b = (i - 1) * 5
  local T = tonumber(ARGV[b + 1])
  local need, want, keep = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local g = math.min(math.max(want, need), free[i] - keep)
  local tat = tats[i] + g * T
  if g > 0 then
    redis.call('SET', KEYS[i], string.format('%.17g', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  out[#out + 1] = g
  out[#out + 1] = free[i] - g
  out[#out + 1] = math.ceil(tat - now)
end
return out
)lua";

const char* const adjust = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS do
  local b = (i - 1) * 3
  local T, tau, d = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  if d < 0 then
    tat = math.max(tat + d * T, now)
  else
    tat = math.min(tat + d * T, now + 2 * tau)
  end
  if tat <= now then
    redis.call('DEL', KEYS[i])
  else
    redis.call('SET', KEYS[i], string.format('%.17g', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
end
return 1
)lua";

}  // namespace rate_lua

}  // namespace switchyard
