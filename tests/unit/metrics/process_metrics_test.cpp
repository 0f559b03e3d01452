#include "switchyard/metrics/process_metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

namespace switchyard::metrics {
namespace {

// A real /proc/<pid>/stat line (Linux 6.1) for a command whose name has spaces and a ')'.
constexpr std::string_view stat_line =
    "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 2712 0 0 0 "
    "150 75 0 0 20 0 9 0 123456 1048576000 5120 18446744073709551615 1 1 0 0 0 0 0 4096 "
    "17415 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(process_metrics, parses_proc_self_stat_fields) {
  const auto s = parse_proc_stat(stat_line);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->utime_ticks, 150u);
  EXPECT_EQ(s->stime_ticks, 75u);
  EXPECT_EQ(s->start_ticks, 123456u);
  EXPECT_EQ(s->vsize_bytes, 1048576000u);
  EXPECT_EQ(s->rss_pages, 5120);
}

TEST(process_metrics, rejects_truncated_stat) {
  EXPECT_FALSE(parse_proc_stat("4242 (x) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("no parenthesis at all"));
  EXPECT_FALSE(parse_proc_stat(""));
}

TEST(process_metrics, parses_boot_time_and_fd_limit) {
  const auto boot = parse_boot_time(
      "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 12 0 0\nctxt 99\nbtime 1718000000\nprocesses 7\n");
  ASSERT_TRUE(boot);
  EXPECT_EQ(*boot, 1718000000);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));

  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n";
  const auto max = parse_max_open_files(limits);
  ASSERT_TRUE(max);
  EXPECT_EQ(*max, 1024);
  const auto unlimited = parse_max_open_files(
      "Max open files            unlimited            unlimited            files\n");
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(*unlimited, 18446744073709551615.0);
  EXPECT_FALSE(parse_max_open_files("Max processes 10 10 processes\n"));
}

TEST(process_metrics, this_process_reads_plausible_values) {
  const auto s = read_process_sample();
  ASSERT_TRUE(s) << s.error().message;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(s->start_time_seconds, now - 86400.0 * 365);  // a unit test is not that old
  EXPECT_LE(s->start_time_seconds, now + 1);
  EXPECT_GE(s->cpu_seconds, 0);
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GE(s->virtual_bytes, s->resident_bytes);
  EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(s->max_fds, s->open_fds);
}

TEST(process_metrics, registers_the_six_standard_families) {
  registry r(1);
  ASSERT_TRUE(add_process_metrics(r));
  const std::string text = r.render();
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> samples;
  while (std::getline(in, line)) {
    if (!line.starts_with("#")) {
      samples.push_back(line.substr(0, line.find(' ')));
    }
  }
  EXPECT_EQ(samples,
            (std::vector<std::string>{"process_cpu_seconds_total", "process_resident_memory_bytes",
                                      "process_virtual_memory_bytes", "process_start_time_seconds",
                                      "process_open_fds", "process_max_fds"}));
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_open_fds gauge\n"), std::string::npos);
  EXPECT_NE(r.render(true).find("# TYPE process_cpu_seconds counter\n"), std::string::npos);
  // Registering twice is a startup bug, like any other name clash.
  EXPECT_THROW((void)add_process_metrics(r), std::invalid_argument);
}

}  // namespace
}  // namespace switchyard::metrics
