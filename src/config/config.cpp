#include "switchyard/config/config.hpp"

#include "yaml_reader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace switchyard {

const model_config* config::find_model(std::string_view name) const noexcept {
  for (const auto& m : models) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

const prompt_version_config* config::find_prompt(std::string_view ref) const noexcept {
  auto at = ref.find('@');
  if (at == std::string_view::npos) {
    return nullptr;
  }
  for (const auto& p : prompts) {
    if (p.name == ref.substr(0, at)) {
      for (const auto& v : p.versions) {
        if (v.version == ref.substr(at + 1)) {
          return &v;
        }
      }
    }
  }
  return nullptr;
}

const experiment_config* config::find_experiment(std::string_view name) const noexcept {
  for (const auto& e : experiments) {
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

std::string restart_required(const config& a, const config& b) {
  // Listeners, workers, pools, limiters and sinks are built once at start; these keys feed them.
  if (a.listen_host != b.listen_host || a.listen_port != b.listen_port) {
    return "listen";
  }
  if (a.admin_listen_host != b.admin_listen_host || a.admin_listen_port != b.admin_listen_port) {
    return "admin_listen";
  }
  if (a.workers != b.workers) {
    return "workers";
  }
  if (a.data_dir != b.data_dir) {
    return "data_dir";
  }
  if (a.limits != b.limits) {
    return "limits";
  }
  if (a.timeouts != b.timeouts) {
    return "timeouts";
  }
  if (a.upstreams != b.upstreams) {
    return "upstreams";
  }
  if (a.retry != b.retry) {
    return "retry";
  }
  if (a.rate_limits != b.rate_limits) {
    return "rate_limits";
  }
  if (a.log != b.log) {
    return "log";
  }
  if (a.trace != b.trace) {
    return "trace";
  }
  if (a.metrics != b.metrics) {
    return "metrics";
  }
  if (a.stats_flush != b.stats_flush) {
    return "stats_flush";
  }
  if (a.feedback.max_events_per_id != b.feedback.max_events_per_id ||
      a.feedback.max_event_names != b.feedback.max_event_names) {
    return "feedback";  // the caps' counters are built at start
  }
  return "";
}

std::optional<duration> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::chrono::duration<double, std::milli> total{0};
  while (!text.empty()) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || value < 0) {
      return std::nullopt;
    }
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
    double scale = 0;  // milliseconds per unit
    if (text.starts_with("ms")) {
      scale = 1, text.remove_prefix(2);
    } else if (text.starts_with("s")) {
      scale = 1000, text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      scale = 60'000, text.remove_prefix(1);
    } else if (text.starts_with("h")) {
      scale = 3'600'000, text.remove_prefix(1);
    } else {
      return std::nullopt;  // a unit is required: "30" is ambiguous
    }
    total += std::chrono::duration<double, std::milli>(value * scale);
  }
  // Also rejects inf and nan (from_chars reads them): the cast to an integer count must not
  // overflow (UB; config_fuzz found `drain: 7777…s`). A year is more than any deadline needs.
  constexpr double max_ms = 366.0 * 24 * 3'600'000;
  if (!(total.count() <= max_ms)) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<duration>(total);
}

namespace {

using namespace config_detail;

void read_listen(reader& r, const YAML::Node& node, const char* key, std::string& host,
                 std::uint16_t& port_out) {
  auto v = r.text(node, key);
  if (!v) {
    return;
  }
  auto colon = v->rfind(':');
  unsigned port = 0;
  std::string_view port_text =
      colon == std::string::npos ? std::string_view{} : std::string_view(*v).substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (colon == std::string::npos || colon == 0 || ec != std::errc{} ||
      ptr != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    r.fail(node, key, "must be host:port, like 0.0.0.0:8080 (port 0 picks a free port)");
    return;
  }
  host = v->substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  port_out = static_cast<std::uint16_t>(port);
}

// Cross-references: names unique, every model points at a known upstream.
void link(reader& r, const YAML::Node& root, config& c) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < c.upstreams.size(); ++i) {
    if (!c.upstreams[i].name.empty() && !seen.insert(c.upstreams[i].name).second) {
      r.fail(root["upstreams"][i], "upstreams[" + std::to_string(i) + "].name",
             "duplicate upstream name " + c.upstreams[i].name);
    }
  }
  seen.clear();
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    auto& m = c.models[i];
    auto path = "models[" + std::to_string(i) + "]";
    if (!m.name.empty() && !seen.insert(m.name).second) {
      r.fail(root["models"][i], path + ".name", "duplicate model name " + m.name);
    }
    auto it = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                           [&](const upstream_config& u) { return u.name == m.upstream; });
    if (it == c.upstreams.end()) {
      if (!m.upstream.empty()) {
        r.fail(root["models"][i]["upstream"], path + ".upstream",
               "no upstream named " + m.upstream);
      }
    } else {
      m.upstream_index = static_cast<std::size_t>(it - c.upstreams.begin());
    }
    for (std::size_t f = 0; f < m.fallbacks.size(); ++f) {
      auto& fb = m.fallbacks[f];
      auto fit = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                              [&](const upstream_config& u) { return u.name == fb.upstream; });
      if (fit == c.upstreams.end()) {
        if (!fb.upstream.empty()) {
          r.fail(root["models"][i]["fallbacks"][f],
                 path + ".fallbacks[" + std::to_string(f) + "].upstream",
                 "no upstream named " + fb.upstream);
        }
      } else {
        fb.upstream_index = static_cast<std::size_t>(fit - c.upstreams.begin());
      }
      if (fb.model.empty()) {
        fb.model = m.model;
      }
    }
  }
  const std::string* user_header = nullptr;
  for (std::size_t i = 0; i < c.rate_limits.size(); ++i) {
    const auto& l = c.rate_limits[i];
    if (std::find(l.scope.begin(), l.scope.end(), rate_scope::user) != l.scope.end()) {
      // One user id per request: every user-scoped limit must read it from the same header.
      if (user_header && *user_header != l.user_header) {
        r.fail(root["rate_limits"][i], "rate_limits[" + std::to_string(i) + "].user_header",
               "must be the same for every user-scoped limit (" + *user_header + ")");
      }
      user_header = &l.user_header;
    }
    if (!l.model.empty() && !c.find_model(l.model)) {
      r.fail(root["rate_limits"][i]["model"], "rate_limits[" + std::to_string(i) + "].model",
             "no model named " + l.model);
    }
  }
}

}  // namespace

namespace {

result<config> parse_tree(const YAML::Node& root, const std::string& base_dir, env_lookup env);

}  // namespace

result<config> parse_config(std::string_view yaml, const std::string& base_dir, env_lookup env) {
  try {
    // Errors are values here; an exception from yaml-cpp (a node used as the wrong kind that a
    // check missed) must still become one, never a crash of --check-config or of a reload.
    return parse_tree(YAML::Load(std::string(yaml)), base_dir, env);
  } catch (const YAML::Exception& e) {
    return make_error(errc::invalid_request,
                      "invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
}

namespace {

result<config> parse_tree(const YAML::Node& root, const std::string& base_dir, env_lookup env) {
  config c;
  if (!root || root.IsNull()) {
    return make_error(errc::invalid_request, "the configuration is empty");
  }
  reader r(env);
  if (!r.check_map(root, "(top level)",
                   {"listen", "admin_listen", "workers", "admin_token", "api_token", "data_dir",
                    "limits", "timeouts", "upstreams", "models", "retry", "rate_limits", "log",
                    "trace", "metrics", "stats_flush", "feedback", "prompts", "experiments"})) {
    return make_error(errc::invalid_request, r.joined());
  }
  if (auto n = root["listen"]) {
    read_listen(r, n, "listen", c.listen_host, c.listen_port);
  }
  if (auto n = root["admin_listen"]) {
    read_listen(r, n, "admin_listen", c.admin_listen_host, c.admin_listen_port);
  }
  r.integer(root, "workers", "", c.workers, 0, 1024);
  r.string(root, "admin_token", "", c.admin_token);
  r.string(root, "api_token", "", c.api_token);
  r.string(root, "data_dir", "", c.data_dir);
  if (!c.data_dir.empty() && c.data_dir.front() != '/') {
    c.data_dir = base_dir + "/" + c.data_dir;
  }
  if (auto n = root["limits"];
      n && r.check_map(n, "limits",
                       {"max_body_bytes", "max_header_bytes", "max_event_bytes",
                        "max_connections_per_worker", "max_upstream_header_bytes",
                        "max_upstream_headers", "max_buffered_bytes"})) {
    r.integer(n, "max_body_bytes", "limits", c.limits.max_body_bytes, 1, 1ull << 32);
    r.integer(n, "max_header_bytes", "limits", c.limits.max_header_bytes, 1024, 1u << 20);
    r.integer(n, "max_event_bytes", "limits", c.limits.max_event_bytes, 1024, 1u << 30);
    r.integer(n, "max_connections_per_worker", "limits", c.limits.max_connections_per_worker, 1,
              1u << 24);
    r.integer(n, "max_upstream_header_bytes", "limits", c.limits.max_upstream_header_bytes, 1024,
              60u * 1024);
    r.integer(n, "max_upstream_headers", "limits", c.limits.max_upstream_headers, 1, 10000);
    r.integer(n, "max_buffered_bytes", "limits", c.limits.max_buffered_bytes, 1024, 1ull << 44);
  }
  if (auto n = root["timeouts"];
      n && r.check_map(n, "timeouts",
                       {"idle", "request", "connect", "first_byte", "stream_idle", "drain",
                        "drain_grace", "resolution"})) {
    r.time(n, "idle", "timeouts", c.timeouts.idle);
    r.time(n, "request", "timeouts", c.timeouts.request);
    r.time(n, "connect", "timeouts", c.timeouts.connect);
    r.time(n, "first_byte", "timeouts", c.timeouts.first_byte);
    r.time(n, "stream_idle", "timeouts", c.timeouts.stream_idle);
    r.time(n, "drain", "timeouts", c.timeouts.drain);
    r.time(n, "drain_grace", "timeouts", c.timeouts.drain_grace, true);
    r.time(n, "resolution", "timeouts", c.timeouts.resolution);
    if (n["resolution"] && c.timeouts.resolution > std::chrono::seconds(1)) {
      r.fail(n["resolution"], "timeouts.resolution", "must be at most 1s");
    }
    if (!n["drain_grace"]) {
      // The default grace fits inside a short drain budget rather than making it an error.
      c.timeouts.drain_grace = std::min(c.timeouts.drain_grace, c.timeouts.drain);
    } else if (c.timeouts.drain_grace > c.timeouts.drain) {
      r.fail(n["drain_grace"] ? n["drain_grace"] : n, "timeouts.drain_grace",
             "must not exceed timeouts.drain");
    }
  }
  if (auto n = root["log"];
      n && r.check_map(n, "log", {"level", "access", "access_max_bytes", "max_files"})) {
    r.string(n, "level", "log", c.log.level);
    static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
    if (std::find(std::begin(levels), std::end(levels), c.log.level) == std::end(levels)) {
      r.fail(n["level"], "log.level", "must be one of trace, debug, info, warn, error, off");
    }
    r.string(n, "access", "log", c.log.access);
    r.integer(n, "access_max_bytes", "log", c.log.access_max_bytes, 4096, 1ull << 40);
    r.integer(n, "max_files", "log", c.log.max_files, 1, 1000);
  }
  if (auto n = root["retry"]) {
    read_retry(r, n, "retry", c.retry, true);
  }
  read_list(r, root, "upstreams", c.upstreams, read_upstream);
  read_list(r, root, "models", c.models, read_model);
  // A model's retry block overrides only the keys it names, on top of the global one.
  for (std::size_t i = 0; root["models"] && root["models"].IsSequence() && i < c.models.size();
       ++i) {
    c.models[i].retry = c.retry;
    // A scalar entry was reported by read_model; subscripting it would throw (fuzzer find).
    if (auto m = root["models"][i]; m.IsMap()) {
      if (auto n = m["retry"]) {
        read_retry(r, n, "models[" + std::to_string(i) + "].retry", c.models[i].retry, false);
      }
    }
  }
  read_list(r, root, "rate_limits", c.rate_limits, read_rate_limit);
  for (auto& u : c.upstreams) {
    if (!u.ca_file.empty() && u.ca_file.front() != '/') {
      u.ca_file = base_dir + "/" + u.ca_file;
    }
  }
  if (c.upstreams.empty()) {
    r.fail(root, "upstreams", "at least one upstream is required");
  }
  if (c.models.empty()) {
    r.fail(root, "models", "at least one model is required");
  }
  read_observability(r, root, base_dir, c);
  read_prompts(r, root, base_dir, c);
  read_experiments(r, root, c);
  link(r, root, c);
  link_experiments(r, root, c);
  if (!r.ok()) {
    return make_error(errc::invalid_request, r.joined());
  }
  return c;
}

}  // namespace

result<config> load_config_file(const std::string& path, env_lookup env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(errc::invalid_request, path + ": cannot open the configuration file");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto slash = path.rfind('/');
  std::string base = slash == std::string::npos ? "." : path.substr(0, slash);
  return parse_config(text.str(), base.empty() ? "/" : base, env);
}

}  // namespace switchyard
