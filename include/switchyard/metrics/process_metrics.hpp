#pragma once

#include "switchyard/core/error.hpp"
#include "switchyard/metrics/registry.hpp"

#include <cstdint>
#include <string_view>

// The standard process_* metrics of the Prometheus client libraries, read from /proc (Linux):
//   process_cpu_seconds_total       counter  user + system CPU time
//   process_resident_memory_bytes   gauge    resident set size
//   process_virtual_memory_bytes    gauge    virtual memory size
//   process_start_time_seconds      gauge    start time, seconds since the Unix epoch
//   process_open_fds                gauge    open file descriptors
//   process_max_fds                 gauge    the soft RLIMIT_NOFILE
// Parsing is pure (strings in, values out); only the `read_*` functions and the registered
// callbacks touch the file system.

namespace switchyard::metrics {

/// The fields of /proc/self/stat the process metrics need, in the kernel's units.
struct proc_stat {
  std::uint64_t utime_ticks = 0;  // field 14, clock ticks in user mode
  std::uint64_t stime_ticks = 0;  // field 15, clock ticks in kernel mode
  std::uint64_t start_ticks = 0;  // field 22, clock ticks after boot at which the process started
  std::uint64_t vsize_bytes = 0;  // field 23
  std::int64_t rss_pages = 0;     // field 24
};

/// Parses the text of /proc/<pid>/stat. The command name (field 2) is parenthesised and may
/// itself contain spaces and ')', so fields are counted from the last ')'.
result<proc_stat> parse_proc_stat(std::string_view text);

/// The `btime` line of /proc/stat: boot time in seconds since the epoch.
result<double> parse_boot_time(std::string_view text);

/// The soft limit of "Max open files" in /proc/<pid>/limits; "unlimited" reads as 2^64 - 1, as in
/// the Go client.
result<double> parse_max_open_files(std::string_view text);

/// The values the six metrics report.
struct process_sample {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
};

/// Reads /proc/self/stat, /proc/stat, /proc/self/limits and /proc/self/fd now.
result<process_sample> read_process_sample();

/// Registers the six process_* families on `r` as scrape-time callbacks. Each scrape reads the
/// few /proc files it needs (microseconds); the start time is read once, here. Fails, registering
/// nothing, when /proc cannot be read (not Linux, no /proc mounted).
result<void> add_process_metrics(registry& r);

}  // namespace switchyard::metrics
