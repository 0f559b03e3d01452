#include "switchyard/config/config.hpp"

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

std::optional<std::string> real_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// Walks the YAML tree, collecting every error with its key path and line, so one run of
// --check-config shows all problems at once.
class reader {
 public:
  explicit reader(env_lookup env) : env_(env ? env : real_env) {}

  void fail(const YAML::Node& node, const std::string& path, const std::string& message) {
    std::ostringstream out;
    out << path << ": " << message;
    if (node.Mark().line >= 0) {
      out << " (line " << node.Mark().line + 1 << ")";
    }
    errors_.push_back(out.str());
  }

  bool ok() const { return errors_.empty(); }

  std::string joined() const {
    std::string all;
    for (const auto& e : errors_) {
      all += all.empty() ? "" : "\n";
      all += e;
    }
    return all;
  }

  // Rejects keys the contract does not know, so a typo never silently does nothing.
  bool check_map(const YAML::Node& node, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
    if (!node.IsMap()) {
      fail(node, path, "must be a mapping");
      return false;
    }
    for (const auto& kv : node) {
      auto key = kv.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail(kv.first, join(path, key), "unknown key");
      }
    }
    return true;
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  // A scalar with ${VAR} / ${VAR:-default} substituted.
  std::optional<std::string> text(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      fail(node, path, "must be a scalar");
      return std::nullopt;
    }
    const std::string& raw = node.Scalar();
    std::string out;
    std::size_t pos = 0;
    while (pos < raw.size()) {
      auto start = raw.find("${", pos);
      if (start == std::string::npos) {
        out.append(raw, pos);
        break;
      }
      out.append(raw, pos, start - pos);
      auto end = raw.find('}', start);
      if (end == std::string::npos) {
        fail(node, path, "unterminated ${ in value");
        return std::nullopt;
      }
      std::string expr = raw.substr(start + 2, end - start - 2);
      std::optional<std::string> fallback;
      if (auto sep = expr.find(":-"); sep != std::string::npos) {
        fallback = expr.substr(sep + 2);
        expr.resize(sep);
      }
      auto value = env_(expr.c_str());
      if (value && !value->empty()) {
        out += *value;
      } else if (fallback) {
        out += *fallback;
      } else {
        fail(node, path,
             "environment variable " + expr + " is not set (use ${" + expr +
                 ":-default} to make it optional)");
        return std::nullopt;
      }
      pos = end + 1;
    }
    return out;
  }

  void string(const YAML::Node& map, std::string_view key, const std::string& path,
              std::string& out) {
    if (auto node = map[std::string(key)]; node) {
      if (auto v = text(node, join(path, key))) {
        out = *v;
      }
    }
  }

  template <class Int>
  void integer(const YAML::Node& map, std::string_view key, const std::string& path, Int& out,
               std::uint64_t min, std::uint64_t max) {
    auto node = map[std::string(key)];
    if (!node) {
      return;
    }
    auto v = text(node, join(path, key));
    if (!v) {
      return;
    }
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || ptr != v->data() + v->size() || n < min || n > max) {
      fail(node, join(path, key),
           "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
      return;
    }
    out = static_cast<Int>(n);
  }

  void number(const YAML::Node& map, std::string_view key, const std::string& path, double& out) {
    auto node = map[std::string(key)];
    if (!node) {
      return;
    }
    auto v = text(node, join(path, key));
    if (!v) {
      return;
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
    if (ec != std::errc{} || ptr != v->data() + v->size() || d < 0) {
      fail(node, join(path, key), "must be a number ≥ 0");
      return;
    }
    out = d;
  }

  void boolean(const YAML::Node& map, std::string_view key, const std::string& path, bool& out) {
    auto node = map[std::string(key)];
    if (!node) {
      return;
    }
    auto v = text(node, join(path, key));
    if (!v) {
      return;
    }
    if (*v == "true") {
      out = true;
    } else if (*v == "false") {
      out = false;
    } else {
      fail(node, join(path, key), "must be true or false");
    }
  }

  void time(const YAML::Node& map, std::string_view key, const std::string& path, duration& out) {
    auto node = map[std::string(key)];
    if (!node) {
      return;
    }
    auto v = text(node, join(path, key));
    if (!v) {
      return;
    }
    auto d = parse_duration(*v);
    if (!d || d->count() <= 0) {
      fail(node, join(path, key), "must be a positive duration with a unit, like 250ms, 5s or 2m");
      return;
    }
    out = *d;
  }

 private:
  env_lookup env_;
  std::vector<std::string> errors_;
};

void read_upstream(reader& r, const YAML::Node& node, const std::string& path,
                   upstream_config& u) {
  if (!r.check_map(node, path,
                   {"name", "type", "base_url", "api_key", "pass_authorization",
                    "max_connections", "idle_timeout", "tls_verify", "ca_file", "headers"})) {
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
  u.host = url->encoded_host_name();
  u.port = url->has_port() ? std::string(url->port()) : (u.tls ? "443" : "80");
  u.path_prefix = url->encoded_path();
  while (!u.path_prefix.empty() && u.path_prefix.back() == '/') {
    u.path_prefix.pop_back();
  }
}

void read_model(reader& r, const YAML::Node& node, const std::string& path, model_config& m) {
  if (!r.check_map(node, path, {"name", "upstream", "model", "price"})) {
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
  if (auto price = node["price"]) {
    if (r.check_map(price, path + ".price", {"input_per_mtok", "output_per_mtok"})) {
      r.number(price, "input_per_mtok", path + ".price", m.price.input_per_mtok);
      r.number(price, "output_per_mtok", path + ".price", m.price.output_per_mtok);
    }
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

template <class T, class Fn>
void read_list(reader& r, const YAML::Node& root, const char* key, std::vector<T>& out, Fn fn) {
  auto list = root[key];
  if (!list) {
    return;
  }
  if (!list.IsSequence()) {
    r.fail(list, key, "must be a list");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    T item;
    fn(r, list[i], std::string(key) + "[" + std::to_string(i) + "]", item);
    out.push_back(std::move(item));
  }
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
  }
}

}  // namespace

result<config> parse_config(std::string_view yaml, const std::string& base_dir, env_lookup env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return make_error(errc::invalid_request, "invalid YAML: " + e.msg + " (line " +
                                                 std::to_string(e.mark.line + 1) + ")");
  }
  config c;
  if (!root || root.IsNull()) {
    return make_error(errc::invalid_request, "the configuration is empty");
  }
  reader r(env);
  if (!r.check_map(root, "(top level)",
                   {"listen", "workers", "admin_token", "data_dir", "limits", "timeouts",
                    "upstreams", "models", "log"})) {
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
  if (auto n = root["limits"]; n && r.check_map(n, "limits",
                                                 {"max_body_bytes", "max_header_bytes",
                                                  "max_event_bytes",
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
    static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error",
                                                  "off"};
    if (std::find(std::begin(levels), std::end(levels), c.log.level) == std::end(levels)) {
      r.fail(n["level"], "log.level", "must be one of trace, debug, info, warn, error, off");
    }
    r.string(n, "access", "log", c.log.access);
  }
  read_list(r, root, "upstreams", c.upstreams, read_upstream);
  read_list(r, root, "models", c.models, read_model);
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
  link(r, root, c);
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
