#include "switchyard/upstream/retry_policy.hpp"

#include "switchyard/core/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace switchyard {

namespace {

using std::chrono::milliseconds;

// Server hints above this are absurd; clamping keeps the double → integer conversion defined.
constexpr double max_hint_ms = 1e15;  // ~31,000 years

// A whole-string, finite, non-negative decimal number; from_chars rejects a leading '+'.
std::optional<double> parse_non_negative(std::string_view text) noexcept {
  text = trim(text);
  if (text.empty()) {
    return std::nullopt;
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v) || v < 0) {
    return std::nullopt;
  }
  return v;
}

milliseconds ceil_ms(double ms) noexcept {
  return milliseconds{static_cast<std::int64_t>(std::ceil(std::min(ms, max_hint_ms)))};
}

// Two ASCII digits at `s[at]`, or -1.
int two_digits(std::string_view s, std::size_t at) noexcept {
  char a = s[at];
  char b = s[at + 1];
  if (a < '0' || a > '9' || b < '0' || b > '9') {
    return -1;
  }
  return (a - '0') * 10 + (b - '0');
}

// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Wed, 21 Oct 2015 07:28:00 GMT`, fixed width.
std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view s) noexcept {
  constexpr std::array<std::string_view, 7> days = {"Mon", "Tue", "Wed", "Thu",
                                                    "Fri", "Sat", "Sun"};
  constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(days.begin(), days.end(), s.substr(0, 3)) == days.end()) {
    return std::nullopt;
  }
  auto month = std::find(months.begin(), months.end(), s.substr(8, 3));
  int day = two_digits(s, 5);
  int century = two_digits(s, 12);
  int year_low = two_digits(s, 14);
  int hour = two_digits(s, 17);
  int minute = two_digits(s, 20);
  int second = two_digits(s, 23);
  if (month == months.end() || day < 0 || century < 0 || year_low < 0 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60) {  // 60: a leap second
    return std::nullopt;
  }
  auto month_number = static_cast<unsigned>(month - months.begin() + 1);
  std::chrono::year_month_day date{std::chrono::year{century * 100 + year_low},
                                   std::chrono::month{month_number},
                                   std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) {
    return std::nullopt;  // e.g. 31 Feb
  }
  return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

}  // namespace

retry_mode status_retry_mode(unsigned status, bool insufficient_quota) noexcept {
  switch (status) {
    case 429:
      return insufficient_quota ? retry_mode::no : retry_mode::yes;
    case 408:  // request timeout
    case 409:  // conflict, e.g. a lock held by a concurrent request; OpenAI's SDKs retry it
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:  // Anthropic's "overloaded"
      return retry_mode::yes;
    default:
      return retry_mode::no;
  }
}

std::string_view reason_label(const error& e) noexcept {
  switch (e.code) {
    case errc::upstream_connect:
    case errc::upstream_busy:
      return "connect";
    case errc::upstream_timeout:
      return "timeout";
    case errc::upstream_broken:
      return e.retry == retry_mode::no ? "broken" : "reset";
    case errc::upstream_status:
      break;
    default:
      return "broken";
  }
  switch (e.status) {
    case 408:
      return "408";
    case 409:
      return "409";
    case 429:
      return "429";
    case 500:
      return "500";
    case 502:
      return "502";
    case 503:
      return "503";
    case 504:
      return "504";
    case 529:
      return "529";
    default:
      break;
  }
  if (e.status >= 200 && e.status < 300) {
    return "2xx";
  }
  if (e.status >= 400 && e.status < 500) {
    return "4xx";
  }
  if (e.status >= 500 && e.status < 600) {
    return "5xx";
  }
  return "other";
}

bool upstream_fault(const error& e) noexcept {
  if (e.source != error_source::upstream) {
    return false;
  }
  return e.code != errc::upstream_status || e.status >= 500;
}

std::string_view retry_stop_label(retry_stop s) noexcept {
  switch (s) {
    case retry_stop::none:
      return "";
    case retry_stop::max_attempts:
      return "max_attempts";
    case retry_stop::deadline:
      return "deadline";
    case retry_stop::retry_budget:
      return "retry_budget";
    case retry_stop::not_retriable:
      return "not_retriable";
    case retry_stop::client_gone:
      return "client_gone";
    case retry_stop::shutdown:
      return "shutdown";
    case retry_stop::ejected:
      return "ejected";
  }
  return "";
}

std::optional<milliseconds> parse_retry_after(std::string_view retry_after_ms,
                                              std::string_view retry_after,
                                              std::chrono::system_clock::time_point now) noexcept {
  if (auto ms = parse_non_negative(retry_after_ms)) {
    return ceil_ms(*ms);
  }
  if (auto seconds = parse_non_negative(retry_after)) {
    return ceil_ms(*seconds * 1000.0);
  }
  auto date = parse_imf_fixdate(trim(retry_after));
  if (!date) {
    return std::nullopt;
  }
  if (*date <= now) {
    return milliseconds{0};
  }
  return std::chrono::ceil<milliseconds>(*date - now);
}

milliseconds full_jitter_backoff(std::uint32_t retry_index, const retry_config& cfg,
                                 double uniform01) noexcept {
  const std::int64_t base = std::max<std::int64_t>(cfg.base.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(cfg.cap.count(), 0);
  // base·2^n would pass `cap` (or overflow) exactly when base > cap >> n; test that instead of
  // shifting base so no retry_index can overflow.
  std::int64_t ceiling = cap;
  if (retry_index < 62 && base <= (cap >> retry_index)) {
    ceiling = base << retry_index;
  }
  if (ceiling <= 0) {
    return milliseconds{0};
  }
  double u = std::isnan(uniform01) ? 0.0 : std::clamp(uniform01, 0.0, 1.0);
  auto wait = static_cast<std::int64_t>(std::floor(u * static_cast<double>(ceiling)));
  // u·ceiling can round up to `ceiling` for u just below 1 (and u == 1 was clamped, not refused):
  // keep the interval half-open.
  return milliseconds{std::min(wait, ceiling - 1)};
}

retry_decision next_retry(std::uint32_t attempts_made, const retry_config& cfg,
                          std::optional<milliseconds> server_floor, double uniform01,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::time_point deadline) noexcept {
  if (attempts_made >= cfg.max_attempts) {
    return {false, milliseconds{0}, retry_stop::max_attempts};
  }
  std::uint32_t retry_index = attempts_made > 0 ? attempts_made - 1 : 0;
  milliseconds wait = full_jitter_backoff(retry_index, cfg, uniform01);
  if (server_floor) {
    // The upstream's wish is honoured up to a maximum: newer SDKs sleep whatever they are told,
    // and an hour-long retry-after must not park a request for an hour.
    milliseconds floor =
        std::clamp(*server_floor, milliseconds{0}, std::max(cfg.max_retry_after, milliseconds{0}));
    wait = std::max(wait, floor);
  }
  if (now >= deadline || deadline - now <= wait) {
    return {false, wait, retry_stop::deadline};
  }
  return {true, wait, retry_stop::none};
}

retry_budget::retry_budget(double percent, std::uint32_t min_concurrency) noexcept
    : fraction_(std::isfinite(percent) ? std::max(percent, 0.0) / 100.0 : 0.0),
      min_(min_concurrency) {}

std::uint64_t retry_budget::max_retries() const noexcept {
  // Rounded down like Envoy's: 20% of 14 in flight allows 2, not 3.
  double share = std::floor(fraction_ * static_cast<double>(in_flight()));
  auto by_share = share >= 1.8e19 ? std::numeric_limits<std::uint64_t>::max()
                                  : static_cast<std::uint64_t>(share);
  return std::max(min_, by_share);
}

bool retry_budget::try_start_retry() noexcept {
  const std::uint64_t cap = max_retries();
  std::uint64_t active = active_retries_.load(std::memory_order_relaxed);
  while (active < cap) {
    // A plain fetch_add followed by a check could let two threads pass for the last slot;
    // the CAS claims it only if nobody else did in between.
    if (active_retries_.compare_exchange_weak(active, active + 1, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

}  // namespace switchyard
