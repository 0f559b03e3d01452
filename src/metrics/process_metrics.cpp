#include "switchyard/metrics/process_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace switchyard::metrics {

namespace {

// /proc files report size 0, so they are read until EOF; none of ours is near this bound.
constexpr std::size_t max_proc_file = 1 << 20;

result<std::string> read_text(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errc::internal, std::string("cannot open ") + path);
  }
  std::string text;
  std::array<char, 4096> buf{};
  while (text.size() < max_proc_file) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) noexcept {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// The next space-separated token of `s`, consumed.
std::string_view next_token(std::string_view& s) noexcept {
  const auto first = s.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(first);
  const auto end = s.find_first_of(" \t\n");
  const std::string_view token = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  return token;
}

// The rest of the line that starts with `prefix`, or nullopt.
std::optional<std::string_view> line_after(std::string_view text, std::string_view prefix) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto end = text.find('\n', pos);
    const std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with(prefix)) {
      return line.substr(prefix.size());
    }
    if (end == std::string_view::npos) {
      break;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

double ticks_per_second() noexcept {
  const long t = ::sysconf(_SC_CLK_TCK);
  return t > 0 ? static_cast<double>(t) : 100.0;  // USER_HZ is 100 on every Linux ABI
}

double page_size() noexcept {
  const long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<double>(p) : 4096.0;
}

double cpu_seconds(const proc_stat& s) noexcept {
  return static_cast<double>(s.utime_ticks + s.stime_ticks) / ticks_per_second();
}

double resident_bytes(const proc_stat& s) noexcept {
  return static_cast<double>(s.rss_pages) * page_size();
}

double virtual_bytes(const proc_stat& s) noexcept {
  return static_cast<double>(s.vsize_bytes);
}

result<proc_stat> read_proc_stat() {
  auto text = read_text("/proc/self/stat");
  if (!text) {
    return text.error();
  }
  return parse_proc_stat(*text);
}

result<double> read_start_time() {
  auto stat = read_proc_stat();
  auto boot = read_text("/proc/stat");
  if (!stat || !boot) {
    return stat ? boot.error() : stat.error();
  }
  auto btime = parse_boot_time(*boot);
  if (!btime) {
    return btime.error();
  }
  return *btime + static_cast<double>(stat->start_ticks) / ticks_per_second();
}

result<double> read_max_fds() {
  auto text = read_text("/proc/self/limits");
  if (!text) {
    return text.error();
  }
  return parse_max_open_files(*text);
}

result<double> count_open_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  if (ec) {
    return make_error(errc::internal, "cannot list /proc/self/fd: " + ec.message());
  }
  return static_cast<double>(n);
}

// Appends `name value` when `value` could be read: a scrape never fails over one /proc file.
void append_if(std::string& out, std::string_view name, const result<double>& value) {
  if (value) {
    append_sample(out, name, {}, *value);
  }
}

// A callback writing `name` with `pick` applied to a fresh read of /proc/self/stat.
std::function<void(std::string&, bool)> stat_callback(std::string_view name,
                                                      double (*pick)(const proc_stat&)) {
  return [name, pick](std::string& out, bool) {
    if (const auto s = read_proc_stat()) {
      append_sample(out, name, {}, pick(*s));
    }
  };
}

}  // namespace

result<proc_stat> parse_proc_stat(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) {
    return make_error(errc::internal, "/proc/self/stat: no command name");
  }
  std::string_view rest = text.substr(close + 1);
  // Field 3 (state) is the first token after ')'; field k is token k - 3.
  std::array<std::string_view, 22> tokens;
  for (auto& token : tokens) {
    token = next_token(rest);
  }
  proc_stat s;
  if (!parse_int(tokens[11], s.utime_ticks) || !parse_int(tokens[12], s.stime_ticks) ||
      !parse_int(tokens[19], s.start_ticks) || !parse_int(tokens[20], s.vsize_bytes) ||
      !parse_int(tokens[21], s.rss_pages)) {
    return make_error(errc::internal, "/proc/self/stat: unexpected format");
  }
  return s;
}

result<double> parse_boot_time(std::string_view text) {
  const auto rest = line_after(text, "btime ");
  std::uint64_t seconds = 0;
  if (!rest || !parse_int(*rest, seconds)) {
    return make_error(errc::internal, "/proc/stat: no btime line");
  }
  return static_cast<double>(seconds);
}

result<double> parse_max_open_files(std::string_view text) {
  auto rest = line_after(text, "Max open files");
  if (!rest) {
    return make_error(errc::internal, "/proc/self/limits: no \"Max open files\" line");
  }
  const std::string_view soft = next_token(*rest);
  std::uint64_t limit = 0;
  if (soft == "unlimited") {
    limit = ~std::uint64_t{0};
  } else if (!parse_int(soft, limit)) {
    return make_error(errc::internal, "/proc/self/limits: unexpected \"Max open files\"");
  }
  return static_cast<double>(limit);
}

result<process_sample> read_process_sample() {
  auto stat = read_proc_stat();
  auto start = read_start_time();
  auto max_fds = read_max_fds();
  auto open_fds = count_open_fds();
  for (const auto* r : {&start, &max_fds, &open_fds}) {
    if (!*r) {
      return r->error();
    }
  }
  if (!stat) {
    return stat.error();
  }
  process_sample s;
  s.cpu_seconds = cpu_seconds(*stat);
  s.resident_bytes = resident_bytes(*stat);
  s.virtual_bytes = virtual_bytes(*stat);
  s.start_time_seconds = *start;
  s.open_fds = *open_fds;
  s.max_fds = *max_fds;
  return s;
}

result<void> add_process_metrics(registry& r) {
  const auto sample = read_process_sample();
  if (!sample) {
    return sample.error();
  }
  const double start = sample->start_time_seconds;
  r.add_callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 "counter", stat_callback("process_cpu_seconds_total", cpu_seconds));
  r.add_callback("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                 stat_callback("process_resident_memory_bytes", resident_bytes));
  r.add_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                 stat_callback("process_virtual_memory_bytes", virtual_bytes));
  r.add_callback("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", "gauge",
                 [start](std::string& out, bool) {
                   append_sample(out, "process_start_time_seconds", {}, start);
                 });
  r.add_callback(
      "process_open_fds", "Number of open file descriptors.", "gauge",
      [](std::string& out, bool) { append_if(out, "process_open_fds", count_open_fds()); });
  r.add_callback("process_max_fds", "Maximum number of open file descriptors.", "gauge",
                 [](std::string& out, bool) { append_if(out, "process_max_fds", read_max_fds()); });
  return {};
}

}  // namespace switchyard::metrics
