#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/proxy/response_meter.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace switchyard {

/// What one request did, for the access log. Never holds keys or prompt/completion text.
struct access_record {
  std::string request_id;
  std::string_view method;
  std::string_view path;  // without the query string
  std::string_view endpoint;
  std::string model;          // as requested by the client
  std::string_view upstream;  // upstream name, "" when none was called
  unsigned status = 0;        // sent to the client; 499 = client went away first
  std::string_view error;     // error label, "" on success
  bool stream = false;
  double duration_ms = 0;
  double ttfb_ms = -1;  // first upstream byte; -1 when none
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::optional<token_usage> usage;
};

/// One JSON object on one line. Pure.
std::string format_access_line(const access_record& r);

/// The access logger: async spdlog to stdout, a file, or nothing (`log.access: off` → nullptr).
std::shared_ptr<spdlog::logger> make_access_logger(const log_config& cfg);

/// Writes `r` to `logger` if there is one.
void write_access(spdlog::logger* logger, const access_record& r);

}  // namespace switchyard
