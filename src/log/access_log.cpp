#include "switchyard/log/access_log.hpp"

#include "switchyard/core/background_thread.hpp"
#include "switchyard/core/json_text.hpp"

#include <fmt/chrono.h>
#include <spdlog/async.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

namespace switchyard {

namespace {

// `,"name":`, which every field after the first starts with.
void key(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":";
}

void field(std::string& out, std::string_view name, std::string_view value) {
  key(out, name);
  out += '"';
  append_json_escaped(out, value);
  out += '"';
}

// Numbers through std::to_chars straight into `out`: fmt's format_to into a string iterator
// parsed each format string and copied through a staging buffer, a third of the line's cost.
template <typename T>
void number(std::string& out, std::string_view name, T value) {
  key(out, name);
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

// A double as `format` with `precision` (the `{:.3f}` and `{:.9g}` the line used to be written
// with). A value that is not finite or does not fit (no clock or price gives one, but the line
// must stay JSON whatever it is given) is null.
void real(std::string& out, std::string_view name, double value, std::chars_format format,
          int precision) {
  key(out, name);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value, format, precision);
  if (!std::isfinite(value) || r.ec != std::errc{}) {
    out += "null";
    return;
  }
  out.append(buf, r.ptr);
}

// Milliseconds with three decimals.
void fixed_ms(std::string& out, std::string_view name, double value) {
  real(out, name, value, std::chars_format::fixed, 3);
}

}  // namespace

void append_access_line(std::string& out, const access_record& r) {
  // Built by hand rather than through a DOM: this runs once per request on the hot path, and
  // every string goes through the same escaping as request bodies. Numbers are formatted
  // straight into `out` (no temporary strings), so a batch whose capacity has grown costs no
  // allocation per line.
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::floor<std::chrono::seconds>(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  // The date and time change once a second: formatted once per second and thread.
  thread_local std::chrono::sys_seconds cached_secs{};
  thread_local char cached_text[24] = {};
  thread_local std::size_t cached_len = 0;
  if (secs != cached_secs || cached_len == 0) {
    const auto end = fmt::format_to_n(cached_text, sizeof cached_text, "{:%Y-%m-%dT%H:%M:%S}",
                                      std::chrono::sys_seconds(secs));
    cached_len = std::min(end.size, sizeof cached_text);
    cached_secs = std::chrono::sys_seconds(secs);
  }
  out += "{\"ts\":\"";
  out.append(cached_text, cached_len);
  const char ms[6] = {'.',
                      static_cast<char>('0' + millis / 100),
                      static_cast<char>('0' + millis / 10 % 10),
                      static_cast<char>('0' + millis % 10),
                      'Z',
                      '"'};
  out.append(ms, sizeof ms);
  field(out, "request_id", r.request_id);
  field(out, "method", r.method);
  field(out, "path", r.path);
  if (!r.endpoint.empty()) {
    field(out, "endpoint", r.endpoint);
  }
  if (!r.model.empty()) {
    field(out, "model", r.model);
  }
  if (!r.routed_model.empty()) {
    field(out, "routed_model", r.routed_model);
  }
  if (!r.upstream.empty()) {
    field(out, "upstream", r.upstream);
  }
  number(out, "status", r.status);
  if (!r.error.empty()) {
    field(out, "error", r.error);
  }
  if (!r.error_source.empty()) {
    field(out, "error_source", r.error_source);
  }
  out += r.stream ? ",\"stream\":true" : ",\"stream\":false";
  fixed_ms(out, "duration_ms", r.duration_ms);
  if (r.ttfb_ms >= 0) {
    fixed_ms(out, "ttfb_ms", r.ttfb_ms);
  }
  number(out, "bytes_in", r.bytes_in);
  number(out, "bytes_out", r.bytes_out);
  if (r.attempts > 0) {
    number(out, "attempts", r.attempts);
  }
  if (r.retries > 0) {
    number(out, "retries", r.retries);
  }
  if (!r.fallback.empty()) {
    field(out, "fallback", r.fallback);
  }
  if (!r.retry_stop.empty()) {
    field(out, "retry_stop", r.retry_stop);
  }
  if (r.usage) {
    number(out, "prompt_tokens", r.usage->prompt_tokens);
    number(out, "completion_tokens", r.usage->completion_tokens);
    if (r.usage->cache_read_tokens > 0) {
      number(out, "cache_read_tokens", r.usage->cache_read_tokens);
    }
    if (r.usage->cache_write_tokens > 0) {
      number(out, "cache_write_tokens", r.usage->cache_write_tokens);
    }
    if (r.usage_estimated) {
      out += ",\"usage_estimated\":true";
    }
  }
  if (r.ttft_ms >= 0) {
    fixed_ms(out, "ttft_ms", r.ttft_ms);
  }
  if (r.cost_usd > 0) {
    real(out, "cost_usd", r.cost_usd, std::chars_format::general, 9);
  }
  if (!r.experiment.empty()) {
    field(out, "experiment", r.experiment);
    field(out, "variant", r.variant);
    if (!r.prompt_version.empty()) {
      field(out, "prompt_version", r.prompt_version);
    }
  }
  if (!r.assignment.empty()) {
    field(out, "assignment", r.assignment);  // why in (or not in) an experiment
  }
  if (!r.request_text.empty()) {
    field(out, "request_text", r.request_text);  // trace.include_text only
  }
  if (!r.response_text.empty()) {
    field(out, "response_text", r.response_text);  // trace.include_text only
  }
  out += '}';
}

std::string format_access_line(const access_record& r) {
  std::string out;
  out.reserve(384);
  append_access_line(out, r);
  return out;
}

std::shared_ptr<spdlog::logger> make_trace_logger(const trace_config& cfg) {
  if (cfg.path.empty()) {
    return nullptr;
  }
  // Its own thread pool queue, so a slow trace disk never delays the access log; rotation by
  // size keeps the disk bounded.
  auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      cfg.path, static_cast<std::size_t>(cfg.max_bytes), cfg.max_files);
  static auto pool = std::make_shared<spdlog::details::thread_pool>(
      64 * 1024, 1, [] { name_thread("sy-trace-log"); });
  auto logger = std::make_shared<spdlog::async_logger>(
      "trace", sink, pool, spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);  // one write per batch (at most every 50 ms per worker)
  return logger;
}

std::shared_ptr<spdlog::logger> make_access_logger(const log_config& cfg) {
  if (cfg.access == "off") {
    return nullptr;
  }
  // One writer thread for every access logger in the process. The queue is bounded; when the
  // sink cannot keep up the oldest lines are dropped rather than stalling the event loops.
  static auto pool = std::make_shared<spdlog::details::thread_pool>(
      64 * 1024, 1, [] { name_thread("sy-access-log"); });
  spdlog::sink_ptr sink;
  if (cfg.access == "stdout") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    // Rotated by size like the trace log: a busy gateway writes hundreds of MB an hour.
    sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        cfg.access, static_cast<std::size_t>(cfg.access_max_bytes), cfg.max_files);
  }
  // Not registered globally: tests run several gateways in one process.
  auto logger = std::make_shared<spdlog::async_logger>(
      "access", std::move(sink), pool, spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace switchyard

namespace switchyard {

access_batcher::access_batcher(net::any_io_executor ex, spdlog::logger* logger,
                               std::chrono::milliseconds interval)
    : ex_(std::move(ex)), logger_(logger), interval_(interval) {}

access_batcher::~access_batcher() {
  *alive_ = false;
  flush();
}

void access_batcher::add(const access_record& r) {
  if (!logger_) {
    return;
  }
  if (!batch_.empty()) {
    batch_ += '\n';
  }
  append_access_line(batch_, r);
  if (batch_.size() > 64 * 1024) {
    flush();
    return;
  }
  if (!armed_) {
    armed_ = true;
    // A one-shot timer rather than a periodic one, so an idle worker has no pending work and
    // its io_context can run dry when draining.
    auto timer = std::make_shared<net::steady_timer>(ex_, interval_);
    timer->async_wait([this, timer, alive = alive_](const boost::system::error_code&) {
      if (*alive) {
        armed_ = false;
        flush();
      }
    });
  }
}

void access_batcher::flush() {
  if (logger_ && !batch_.empty()) {
    logger_->info(batch_);
    batch_.clear();
  }
}

}  // namespace switchyard
