#include "switchyard/config/config.hpp"

#include "yaml_reader.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/url/parse.hpp>

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
  return std::chrono::duration_cast<duration>(total);
}

namespace {

using namespace config_detail;

void read_retry(reader& r, const YAML::Node& node, const std::string& path, retry_config& c,
                bool global) {
  if (!r.check_map(node, path,
                   {"max_attempts", "base", "cap", "budget_percent", "budget_min",
                    "max_retry_after", "deadline", "stream_hold_bytes", "stream_hold_time"})) {
    return;
  }
  // The retry budget is one for the whole gateway (it bounds retries against all in-flight
  // requests), so a per-model value would silently do nothing.
  for (const char* key : {"budget_percent", "budget_min"}) {
    if (!global && node[key]) {
      r.fail(node[key], path + "." + key, "is gateway-wide: set it under the top-level retry");
    }
  }
  r.integer(node, "max_attempts", path, c.max_attempts, 1, 20);
  r.time(node, "base", path, c.base);
  r.time(node, "cap", path, c.cap);
  r.fraction(node, "budget_percent", path, c.budget_percent, 100);
  r.integer(node, "budget_min", path, c.budget_min, 0, 100000);
  r.time(node, "max_retry_after", path, c.max_retry_after);
  r.time(node, "deadline", path, c.deadline);
  r.integer(node, "stream_hold_bytes", path, c.stream_hold_bytes, 0, 1u << 24);
  r.time(node, "stream_hold_time", path, c.stream_hold_time);
  if (c.cap < c.base) {
    r.fail(node, path + ".cap", "must be ≥ base");
  }
}

void read_breaker(reader& r, const YAML::Node& node, const std::string& path, breaker_config& b) {
  if (!r.check_map(node, path,
                   {"enabled", "consecutive_failures", "failure_rate", "min_requests", "window",
                    "cooldown", "max_cooldown"})) {
    return;
  }
  r.boolean(node, "enabled", path, b.enabled);
  r.integer(node, "consecutive_failures", path, b.consecutive_failures, 1, 100000);
  r.fraction(node, "failure_rate", path, b.failure_rate, 1);
  r.integer(node, "min_requests", path, b.min_requests, 1, 1000000);
  r.time(node, "window", path, b.window);
  r.time(node, "cooldown", path, b.cooldown);
  r.time(node, "max_cooldown", path, b.max_cooldown);
}

void read_upstream(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  if (!r.check_map(node, path,
                   {"name", "type", "base_url", "api_key", "pass_authorization", "max_connections",
                    "idle_timeout", "tls_verify", "ca_file", "headers", "breaker"})) {
    return;
  }
  r.string(node, "name", path, u.name);
  if (u.name.empty()) {
    r.fail(node, path + ".name", "is required");
  }
  r.string(node, "type", path, u.type);
  if (u.type != "openai") {
    r.fail(node["type"], path + ".type", "must be openai (azure and anthropic come later)");
  }
  r.string(node, "api_key", path, u.api_key);
  r.boolean(node, "pass_authorization", path, u.pass_authorization);
  r.integer(node, "max_connections", path, u.max_connections, 1, 100000);
  r.time(node, "idle_timeout", path, u.idle_timeout);
  r.boolean(node, "tls_verify", path, u.tls_verify);
  r.string(node, "ca_file", path, u.ca_file);
  if (auto breaker = node["breaker"]) {
    read_breaker(r, breaker, path + ".breaker", u.breaker);
  }
  if (auto headers = node["headers"]) {
    if (!headers.IsMap()) {
      r.fail(headers, path + ".headers", "must be a mapping of header name to value");
    } else {
      for (const auto& kv : headers) {
        auto name = kv.first.as<std::string>();
        if (auto value = r.text(kv.second, path + ".headers." + name)) {
          u.headers.emplace_back(name, *value);
        }
      }
    }
  }
  r.string(node, "base_url", path, u.base_url);
  if (u.base_url.empty()) {
    r.fail(node, path + ".base_url", "is required");
    return;
  }
  auto url = boost::urls::parse_uri(u.base_url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      url->has_query() || url->has_fragment()) {
    r.fail(node["base_url"], path + ".base_url",
           "must be an http:// or https:// URL without query, like https://api.openai.com/v1");
    return;
  }
  u.tls = url->scheme() == "https";
  // host_address() covers names and IP literals alike (encoded_host_name() is empty for an IP,
  // which would resolve to loopback); IPv6 comes without brackets, as the resolver wants it.
  u.host = url->host_address();
  u.port = url->has_port() ? std::string(url->port()) : (u.tls ? "443" : "80");
  u.path_prefix = url->encoded_path();
  while (!u.path_prefix.empty() && u.path_prefix.back() == '/') {
    u.path_prefix.pop_back();
  }
}

void read_model(reader& r, const YAML::Node& node, const std::string& path, model_config& m) {
  if (!r.check_map(node, path, {"name", "upstream", "model", "price", "fallbacks", "retry"})) {
    return;
  }
  r.string(node, "name", path, m.name);
  r.string(node, "upstream", path, m.upstream);
  r.string(node, "model", path, m.model);
  if (m.name.empty()) {
    r.fail(node, path + ".name", "is required");
  }
  if (m.upstream.empty()) {
    r.fail(node, path + ".upstream", "is required");
  }
  if (m.model.empty()) {
    m.model = m.name;
  }
  if (auto fallbacks = node["fallbacks"]) {
    if (!fallbacks.IsSequence()) {
      r.fail(fallbacks, path + ".fallbacks", "must be a list of { upstream, model }");
    } else {
      for (std::size_t i = 0; i < fallbacks.size(); ++i) {
        auto fpath = path + ".fallbacks[" + std::to_string(i) + "]";
        fallback_config f;
        if (r.check_map(fallbacks[i], fpath, {"upstream", "model"})) {
          r.string(fallbacks[i], "upstream", fpath, f.upstream);
          r.string(fallbacks[i], "model", fpath, f.model);
          if (f.upstream.empty()) {
            r.fail(fallbacks[i], fpath + ".upstream", "is required");
          }
        }
        m.fallbacks.push_back(std::move(f));
      }
    }
  }
  if (auto price = node["price"]) {
    if (r.check_map(price, path + ".price", {"input_per_mtok", "output_per_mtok"})) {
      r.number(price, "input_per_mtok", path + ".price", m.price.input_per_mtok);
      r.number(price, "output_per_mtok", path + ".price", m.price.output_per_mtok);
    }
  }
}

void read_rate_limit(reader& r, const YAML::Node& node, const std::string& path,
                     rate_limit_config& l) {
  if (!r.check_map(node, path,
                   {"scope", "user_header", "model", "requests", "period", "requests_per_second",
                    "requests_per_minute", "tokens_per_minute", "concurrent"})) {
    return;
  }
  if (auto scope = node["scope"]) {
    std::vector<YAML::Node> items;
    if (scope.IsSequence()) {
      for (const auto& s : scope) {
        items.push_back(s);
      }
    } else {
      items.push_back(scope);
    }
    for (const auto& item : items) {
      auto v = r.text(item, path + ".scope");
      if (!v) {
        continue;
      }
      static const std::pair<std::string_view, rate_scope> names[] = {
          {"global", rate_scope::global},
          {"api_key", rate_scope::api_key},
          {"user", rate_scope::user},
          {"model", rate_scope::model},
          {"variant", rate_scope::variant}};
      auto it = std::find_if(std::begin(names), std::end(names),
                             [&](const auto& n) { return n.first == *v; });
      if (it == std::end(names)) {
        r.fail(item, path + ".scope",
               "must be global, api_key, user, model or variant (or a list)");
      } else if (it->second != rate_scope::global) {
        l.scope.push_back(it->second);
      }
    }
  }
  r.string(node, "user_header", path, l.user_header);
  r.string(node, "model", path, l.model);
  int request_keys = 0;
  if (node["requests"]) {
    ++request_keys;
    r.integer(node, "requests", path, l.requests, 1, 1ull << 40);
    r.time(node, "period", path, l.period);
  }
  if (node["requests_per_second"]) {
    ++request_keys;
    r.integer(node, "requests_per_second", path, l.requests, 1, 1ull << 40);
    l.period = duration(1000);
  }
  if (node["requests_per_minute"]) {
    ++request_keys;
    r.integer(node, "requests_per_minute", path, l.requests, 1, 1ull << 40);
    l.period = duration(60'000);
  }
  if (request_keys > 1) {
    r.fail(node, path, "give one of requests (+ period), requests_per_second, requests_per_minute");
  }
  r.integer(node, "tokens_per_minute", path, l.tokens_per_minute, 1, 1ull << 40);
  r.integer(node, "concurrent", path, l.concurrent, 1, 1u << 24);
  if (l.requests == 0 && l.tokens_per_minute == 0 && l.concurrent == 0) {
    r.fail(node, path,
           "needs requests_per_minute, requests_per_second, requests, "
           "tokens_per_minute or concurrent");
  }
}

void read_listen(reader& r, const YAML::Node& node, config& c) {
  auto v = r.text(node, "listen");
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
    r.fail(node, "listen", "must be host:port, like 0.0.0.0:8080 (port 0 picks a free port)");
    return;
  }
  c.listen_host = v->substr(0, colon);
  if (c.listen_host.size() > 2 && c.listen_host.front() == '[' && c.listen_host.back() == ']') {
    c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
  }
  c.listen_port = static_cast<std::uint16_t>(port);
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

result<config> parse_config(std::string_view yaml, const std::string& base_dir, env_lookup env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return make_error(errc::invalid_request,
                      "invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  config c;
  if (!root || root.IsNull()) {
    return make_error(errc::invalid_request, "the configuration is empty");
  }
  reader r(env);
  if (!r.check_map(root, "(top level)",
                   {"listen", "workers", "admin_token", "data_dir", "limits", "timeouts",
                    "upstreams", "models", "retry", "rate_limits", "log", "trace", "metrics",
                    "stats_flush", "feedback", "prompts", "experiments"})) {
    return make_error(errc::invalid_request, r.joined());
  }
  if (auto n = root["listen"]) {
    read_listen(r, n, c);
  }
  r.integer(root, "workers", "", c.workers, 0, 1024);
  r.string(root, "admin_token", "", c.admin_token);
  r.string(root, "data_dir", "", c.data_dir);
  if (!c.data_dir.empty() && c.data_dir.front() != '/') {
    c.data_dir = base_dir + "/" + c.data_dir;
  }
  if (auto n = root["limits"];
      n && r.check_map(n, "limits",
                       {"max_body_bytes", "max_header_bytes", "max_event_bytes",
                        "max_connections_per_worker"})) {
    r.integer(n, "max_body_bytes", "limits", c.limits.max_body_bytes, 1, 1ull << 32);
    r.integer(n, "max_header_bytes", "limits", c.limits.max_header_bytes, 1024, 1u << 20);
    r.integer(n, "max_event_bytes", "limits", c.limits.max_event_bytes, 1024, 1u << 30);
    r.integer(n, "max_connections_per_worker", "limits", c.limits.max_connections_per_worker, 1,
              1u << 24);
  }
  if (auto n = root["timeouts"];
      n && r.check_map(n, "timeouts",
                       {"idle", "request", "connect", "first_byte", "stream_idle", "drain"})) {
    r.time(n, "idle", "timeouts", c.timeouts.idle);
    r.time(n, "request", "timeouts", c.timeouts.request);
    r.time(n, "connect", "timeouts", c.timeouts.connect);
    r.time(n, "first_byte", "timeouts", c.timeouts.first_byte);
    r.time(n, "stream_idle", "timeouts", c.timeouts.stream_idle);
    r.time(n, "drain", "timeouts", c.timeouts.drain);
  }
  if (auto n = root["log"]; n && r.check_map(n, "log", {"level", "access"})) {
    r.string(n, "level", "log", c.log.level);
    static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
    if (std::find(std::begin(levels), std::end(levels), c.log.level) == std::end(levels)) {
      r.fail(n["level"], "log.level", "must be one of trace, debug, info, warn, error, off");
    }
    r.string(n, "access", "log", c.log.access);
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
    if (auto n = root["models"][i]["retry"]) {
      read_retry(r, n, "models[" + std::to_string(i) + "].retry", c.models[i].retry, false);
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
