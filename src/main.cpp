// switchyard: arguments → config → logging → workers → signals → run.
#include "switchyard/cli/batch_cli.hpp"
#include "switchyard/cli/eval_cli.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/version.hpp"
#include "switchyard/http/server.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

namespace {

constexpr const char* usage =
    "usage: switchyard [--config FILE] | --check-config FILE | --version | --help\n"
    "       switchyard eval --config FILE --experiment NAME --dataset CASES.jsonl ...\n"
    "       switchyard batch status ID [--url URL] [--token T] [--watch]\n"
    "  --config FILE        run the gateway with FILE (default config/switchyard.yaml)\n"
    "  --check-config FILE  validate FILE, print every problem, exit 0 if valid, 2 if not\n"
    "  --version            print the version\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace switchyard;
  if (argc > 1 && std::string_view(argv[1]) == "eval") {
    return eval_main(argc - 1, argv + 1);  // docs/evaluations.md
  }
  std::string config_path = "config/switchyard.yaml";
  bool check_only = false;
  if (argc > 1 && std::string_view(argv[1]) == "batch") {
    return batch_command(argc - 1, argv + 1);  // switchyard batch status ID (docs/batches.md)
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--version") {
      std::printf("switchyard %s\n", version_string);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
      check_only = arg == "--check-config";
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "switchyard: unexpected argument %s\n%s", argv[i], usage);
    return 2;
  }

  auto loaded = load_config_file(config_path);
  if (!loaded) {
    std::fprintf(stderr, "%s: invalid configuration:\n%s\n", config_path.c_str(),
                 loaded.error().message.c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration is valid (%zu upstreams, %zu models)\n", config_path.c_str(),
                loaded->upstreams.size(), loaded->models.size());
    for (const auto& ref : loaded->registry_prompt_refs) {  // docs/prompt-registry.md
      std::printf("%s: %s is not under prompts:, so it must be in the prompt registry at start\n",
                  ref.path.c_str(), ref.ref.c_str());
    }
    return 0;
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded));
  spdlog::set_level(spdlog::level::from_str(cfg->log.level));
  // Diagnostics go to stderr; stdout carries the access log.
  spdlog::default_logger()->sinks().clear();
  spdlog::default_logger()->sinks().push_back(
      std::make_shared<spdlog::sinks::stderr_color_sink_mt>());

  // Signals are caught from before the first accept, so a SIGTERM right after start drains.
  net::io_context signals_io;
  net::signal_set signals(signals_io, SIGINT, SIGTERM);
  net::signal_set hangup(signals_io, SIGHUP);  // reload; queued until the server runs
  std::optional<server> srv_holder;
  try {
    srv_holder.emplace(cfg, config_path);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  server& srv = *srv_holder;
  try {
    srv.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg->listen_host, cfg->listen_port, e.what());
    return 1;
  }
  // Always printed, whatever the log level: scripts and tests read the port from it.
  std::fprintf(stderr, "switchyard %s listening on %s:%u with %zu workers\n", version_string,
               cfg->listen_host.c_str(), static_cast<unsigned>(srv.port()), srv.workers());
  if (srv.admin_port() != 0) {
    std::fprintf(stderr, "switchyard admin listener on %s:%u\n", cfg->admin_listen_host.c_str(),
                 static_cast<unsigned>(srv.admin_port()));
  }
  std::fflush(stderr);

  std::thread waiter;
  bool clean = false;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: draining for up to {} ms", sig, cfg->timeouts.drain.count());
    srv.drain();
    signals.async_wait([](const boost::system::error_code& ec2, int) {
      if (!ec2) {
        spdlog::warn("second signal: stopping now");
        std::_Exit(1);
      }
    });
    waiter = std::thread([&] {
      clean = srv.wait(steady_clock::now() + cfg->timeouts.drain);
      signals_io.stop();
    });
  });
  // SIGHUP reloads the configuration (in-flight requests keep their snapshot).
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) {
        return;
      }
      (void)srv.reload();  // logs the outcome
      wait_hangup();
    });
  };
  wait_hangup();
  signals_io.run();
  if (waiter.joinable()) {
    waiter.join();
  }
  spdlog::info(clean ? "drained, exiting" : "drain deadline passed, exiting");
  return 0;
}
