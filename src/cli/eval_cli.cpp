#include "switchyard/cli/eval_cli.hpp"

#include "switchyard/config/config.hpp"
#include "switchyard/core/clock.hpp"
#include "switchyard/http/server.hpp"
#include "switchyard/jobs/eval_runner.hpp"
#include "switchyard/jobs/eval_service.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace switchyard {

namespace {

constexpr const char* usage =
    "usage: switchyard eval --config FILE --experiment NAME --dataset CASES.jsonl\n"
    "         [--variants a,b] [--concurrency N] [--format table|json|csv|junit]\n"
    "         [--min-pass-rate 0.95] [--output FILE] [--judge-model M] [--embedding-model M]\n"
    "         [--timeout SECONDS]\n"
    "unset flags take the configuration's evaluations: values (docs/evaluations.md)\n"
    "exit status: 0 passed, 1 a variant's pass rate is below --min-pass-rate,\n"
    "             2 bad arguments, configuration or dataset, 3 the gateway could not start\n";

// The largest dataset file read (the dataset's own limits bound the cases).
constexpr std::uintmax_t max_dataset_file_bytes = 256ull << 20;

int usage_error(const std::string& why) {
  std::fprintf(stderr, "switchyard eval: %s\n%s", why.c_str(), usage);
  return eval_exit_usage;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = s.substr(0, comma);
    if (!item.empty()) {
      out.emplace_back(item);
    }
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return out;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// A bar on a terminal (stderr), nothing otherwise: logs and CI output stay clean.
class progress_bar {
 public:
  progress_bar() : tty_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(std::size_t done, std::size_t total) const {
    if (!tty_ || total == 0) {
      return;
    }
    constexpr std::size_t width = 40;
    const std::size_t filled = done * width / total;
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::fprintf(stderr, "\r[%s] %zu/%zu", bar.c_str(), done, total);
    if (done == total) {
      std::fputc('\n', stderr);
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
};

}  // namespace

int eval_main(int argc, char** argv) {
  std::string config_path, dataset_path, format = "table", output;
  eval_options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return eval_exit_ok;
    }
    if (i + 1 >= argc) {
      return usage_error("unexpected argument " + std::string(arg) +
                         (arg.starts_with("--") ? " (without a value)" : ""));
    }
    std::string_view value = argv[++i];
    if (arg == "--config") {
      config_path = value;
    } else if (arg == "--experiment") {
      o.experiment = value;
    } else if (arg == "--dataset") {
      dataset_path = value;
    } else if (arg == "--variants") {
      o.variants = split_list(value);
    } else if (arg == "--concurrency") {
      unsigned n = 0;
      if (!parse_number(value, n) || n < 1 || n > 64) {
        return usage_error("--concurrency must be an integer from 1 to 64");
      }
      o.concurrency = n;
    } else if (arg == "--format") {
      format = value;
      if (format != "table" && format != "json" && format != "csv" && format != "junit") {
        return usage_error("--format must be table, json, csv or junit");
      }
    } else if (arg == "--min-pass-rate") {
      double rate = -1;
      if (!parse_number(value, rate) || rate < 0 || rate > 1) {
        return usage_error("--min-pass-rate must be a number in [0, 1], e.g. 0.95");
      }
      o.min_pass_rate = rate;
    } else if (arg == "--output") {
      output = value;
    } else if (arg == "--judge-model") {
      o.judge_model = value;
    } else if (arg == "--embedding-model") {
      o.embedding_model = value;
    } else if (arg == "--timeout") {
      unsigned seconds = 0;
      if (!parse_number(value, seconds) || seconds < 1 || seconds > 3600) {
        return usage_error("--timeout must be a number of seconds from 1 to 3600");
      }
      o.request_timeout = std::chrono::seconds(seconds);
    } else {
      return usage_error("unexpected argument " + std::string(arg));
    }
  }
  if (config_path.empty() || o.experiment.empty() || dataset_path.empty()) {
    return usage_error("--config, --experiment and --dataset are required");
  }

  auto loaded = load_config_file(config_path);
  if (!loaded) {
    std::fprintf(stderr, "%s: invalid configuration:\n%s\n", config_path.c_str(),
                 loaded.error().message.c_str());
    return eval_exit_usage;
  }
  std::error_code fs_ec;
  const auto size = std::filesystem::file_size(dataset_path, fs_ec);
  std::ifstream in(dataset_path, std::ios::binary);
  if (fs_ec || !in) {
    std::fprintf(stderr, "%s: cannot open the dataset\n", dataset_path.c_str());
    return eval_exit_usage;
  }
  if (size > max_dataset_file_bytes) {
    std::fprintf(stderr, "%s: the dataset is larger than %llu bytes\n", dataset_path.c_str(),
                 static_cast<unsigned long long>(max_dataset_file_bytes));
    return eval_exit_usage;
  }
  std::ostringstream text;
  text << in.rdbuf();
  dataset_limits limits;
  limits.max_cases = static_cast<std::size_t>(loaded->evaluations.max_cases);
  auto ds = parse_dataset(text.str(), limits);
  if (!ds.problems.empty()) {
    std::fprintf(stderr, "%s: the dataset has problems:\n%s", dataset_path.c_str(),
                 describe_problems(ds.problems).c_str());
    return eval_exit_usage;
  }
  o.dataset_name = std::filesystem::path(dataset_path).filename().string();

  // The gateway as configured, but private: loopback, a free port, no admin listener, no
  // access log on stdout (the report goes there).
  config c = std::move(*loaded);
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.admin_listen_host.clear();
  c.admin_listen_port = 0;
  c.log.access = "off";
  auto cfg = std::make_shared<const config>(std::move(c));
  spdlog::set_level(std::max(spdlog::level::warn, spdlog::level::from_str(cfg->log.level)));
  spdlog::default_logger()->sinks().clear();
  spdlog::default_logger()->sinks().push_back(
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>());

  std::optional<server> srv;
  try {
    srv.emplace(cfg, "");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard eval: %s\n", e.what());
    return eval_exit_runtime;
  }
  auto ep = prepare_eval(*srv->snapshot().current(), o, ds.cases);
  if (!ep.problems.empty()) {
    std::fprintf(stderr, "%s: the evaluation cannot run:\n%s", dataset_path.c_str(),
                 describe_problems(ep.problems).c_str());
    return eval_exit_usage;
  }
  try {
    srv->start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard eval: cannot start the gateway: %s\n", e.what());
    return eval_exit_runtime;
  }
  eval_report report;
  report.id = new_eval_id();
  report.created_at = unix_seconds();
  const progress_bar bar;
  run_eval(ep, ds.cases, {"127.0.0.1", srv->port()}, report, std::cref(bar), nullptr);
  report.finished_at = unix_seconds();
  if (auto saved = srv->evaluations().save(report); !saved) {
    std::fprintf(stderr, "switchyard eval: the report was not stored: %s\n",
                 saved.error().message.c_str());
  }
  srv->drain();
  (void)srv->wait(steady_clock::now() + std::chrono::seconds(5));

  const std::string rendered = render_report(report, format);
  if (output.empty()) {
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    std::fflush(stdout);
  } else {
    std::ofstream out(output, std::ios::binary | std::ios::trunc);
    out << rendered;
    if (!out.flush()) {
      std::fprintf(stderr, "switchyard eval: cannot write %s\n", output.c_str());
      return eval_exit_runtime;
    }
    // The terminal still gets the summary table.
    if (format != "table") {
      const std::string table = render_report(report, "table");
      std::fwrite(table.data(), 1, table.size(), stderr);
    }
  }
  return report.gate_passed ? eval_exit_ok : eval_exit_gate_failed;
}

}  // namespace switchyard
