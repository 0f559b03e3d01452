// mock-llm: the mock LLM server as a process, for benchmarks, scripts and the offline demo.
// Prints one line "listening on HOST:PORT" once bound, then serves until SIGINT or SIGTERM.

#include "mock_llm.hpp"

#include <switchyard/core/net.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string_view>

namespace {

constexpr std::string_view usage =
    "usage: mock-llm [--host H] [--port P] [--threads N] [--tokens N] [--ttft-ms N]\n"
    "                [--inter-token-ms N] [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "A deterministic OpenAI-compatible server (chat, completions, embeddings, models).\n"
    "Defaults: --host 127.0.0.1 --port 0 (any free port) --threads 1 --tokens 16,\n"
    "no delays. Per-request headers: x-mock-tokens, x-mock-ttft-ms, x-mock-inter-token-ms,\n"
    "x-mock-fault (status=CODE[;retry_after=S][;retry_after_ms=N] | reset | stall |\n"
    "cut_after=N | stall_after=N).\n";

template <class Int>
std::optional<Int> to_int(std::string_view s) {
  Int v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

// Parses argv into options; nullopt after printing why (or the usage for --help).
std::optional<switchyard::mock::options> parse_args(int argc, char** argv, int& exit_code) {
  switchyard::mock::options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      exit_code = 0;
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      std::cerr << "mock-llm: " << arg << " needs a value\n" << usage;
      exit_code = 2;
      return std::nullopt;
    }
    const std::string_view value = argv[++i];
    bool ok = true;
    const auto set_int = [&](auto& field, auto min, auto max) {
      using T = std::remove_reference_t<decltype(field)>;
      const auto v = to_int<long long>(value);
      ok = v && *v >= min && *v <= max;
      if (ok) {
        field = static_cast<T>(*v);
      }
    };
    const auto set_ms = [&](std::chrono::milliseconds& field) {
      long long ms = 0;
      set_int(ms, 0, 3'600'000);
      field = std::chrono::milliseconds(ms);
    };
    if (arg == "--host") {
      opts.host = value;
    } else if (arg == "--port") {
      set_int(opts.port, 0, 65535);
    } else if (arg == "--threads") {
      set_int(opts.threads, 1, 256);
    } else if (arg == "--tokens") {
      set_int(opts.tokens, 0, 1'000'000);
    } else if (arg == "--ttft-ms") {
      set_ms(opts.ttft);
    } else if (arg == "--inter-token-ms") {
      set_ms(opts.inter_token);
    } else if (arg == "--tls-cert") {
      opts.tls_cert_file = value;
    } else if (arg == "--tls-key") {
      opts.tls_key_file = value;
    } else {
      std::cerr << "mock-llm: unknown option " << arg << "\n" << usage;
      exit_code = 2;
      return std::nullopt;
    }
    if (!ok) {
      std::cerr << "mock-llm: bad value for " << arg << ": " << value << "\n";
      exit_code = 2;
      return std::nullopt;
    }
  }
  return opts;
}

}  // namespace

int main(int argc, char** argv) {
  namespace net = switchyard::net;
  int exit_code = 0;
  auto opts = parse_args(argc, argv, exit_code);
  if (!opts) {
    return exit_code;
  }
  try {
    // Signals first, so that a SIGTERM sent right after the "listening" line is not lost.
    net::io_context signals_ioc;
    net::signal_set signals(signals_ioc, SIGINT, SIGTERM);
    signals.async_wait([](const boost::system::error_code&, int) {});

    const std::string host = opts->host;
    switchyard::mock::server server(std::move(*opts));
    server.start();
    std::cout << "listening on " << host << ":" << server.port() << std::endl;  // flushed

    signals_ioc.run();  // returns once the signal has been handled
    server.stop();
  } catch (const std::exception& e) {
    std::cerr << "mock-llm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
