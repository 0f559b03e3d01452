#pragma once
// Private to src/config: the YAML walker shared by the config readers (schema.cpp and the
// sections it declares). Every error carries its key path and line.

#include "switchyard/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace switchyard::config_detail {

inline std::optional<std::string> real_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// Walks the YAML tree, collecting every error with its key path and line, so one run of
// --check-config shows all problems at once.
class reader {
 public:
  explicit reader(env_lookup env, std::string base_dir = ".")
      : env_(env ? env : real_env), base_dir_(std::move(base_dir)) {}

  /// Where relative file names in the configuration (data_dir, prompt files, ca_file) start.
  const std::string& base_dir() const noexcept { return base_dir_; }

  /// `name` as given when absolute, else under base_dir(); "" stays "".
  std::string resolve(const std::string& name) const {
    return name.empty() || name.front() == '/' ? name : base_dir_ + "/" + name;
  }

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
    return check_map(node, path, std::vector<std::string_view>(allowed));
  }
  bool check_map(const YAML::Node& node, const std::string& path,
                 const std::vector<std::string_view>& allowed) {
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

  // The scalar text at `key` with its node, or nullopt when absent (or reported as not a scalar).
  struct scalar_value {
    YAML::Node node;
    std::string text;
  };
  std::optional<scalar_value> scalar_at(const YAML::Node& map, std::string_view key,
                                        const std::string& path) {
    auto node = map[std::string(key)];
    if (!node) {
      return std::nullopt;
    }
    auto v = text(node, join(path, key));
    if (!v) {
      return std::nullopt;
    }
    return scalar_value{node, std::move(*v)};
  }

  template <class Int>
  void integer(const YAML::Node& map, std::string_view key, const std::string& path, Int& out,
               std::uint64_t min, std::uint64_t max) {
    auto s = scalar_at(map, key, path);
    if (!s) {
      return;
    }
    const auto& node = s->node;
    const auto* v = &s->text;
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
    auto s = scalar_at(map, key, path);
    if (!s) {
      return;
    }
    const auto& node = s->node;
    const auto* v = &s->text;
    double d = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
    if (ec != std::errc{} || ptr != v->data() + v->size() || d < 0) {
      fail(node, join(path, key), "must be a number ≥ 0");
      return;
    }
    out = d;
  }

  void fraction(const YAML::Node& map, std::string_view key, const std::string& path, double& out,
                double max) {
    auto node = map[std::string(key)];
    if (!node) {
      return;
    }
    double d = -1;
    number(map, key, path, d);
    if (d < 0) {
      return;  // number() reported it
    }
    if (d > max) {
      fail(node, join(path, key), "must be at most " + std::to_string(static_cast<int>(max)));
      return;
    }
    out = d;
  }

  void boolean(const YAML::Node& map, std::string_view key, const std::string& path, bool& out) {
    auto s = scalar_at(map, key, path);
    if (!s) {
      return;
    }
    if (s->text == "true") {
      out = true;
    } else if (s->text == "false") {
      out = false;
    } else {
      fail(s->node, join(path, key), "must be true or false");
    }
  }

  /// `allow_zero`: `0s` is a valid value (e.g. "no grace period").
  void time(const YAML::Node& map, std::string_view key, const std::string& path, duration& out,
            bool allow_zero = false) {
    auto s = scalar_at(map, key, path);
    if (!s) {
      return;
    }
    auto d = parse_duration(s->text);
    if (!d || d->count() < 0 || (d->count() == 0 && !allow_zero)) {
      fail(s->node, join(path, key),
           allow_zero ? "must be a duration with a unit, like 0s, 250ms or 5s"
                      : "must be a positive duration with a unit, like 250ms, 5s or 2m");
      return;
    }
    out = *d;
  }

 private:
  env_lookup env_;
  std::string base_dir_;
  std::vector<std::string> errors_;
};

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

// The list readers; each entry is a section declared in schema.hpp (the top level, limits,
// timeouts, retry, feedback, log, trace, breaker, price, analysis and guardrails: schema.cpp).
// In routing_config.cpp:
/// One entry of `upstreams` (its breaker included); fills host, port and tls from base_url.
void read_upstream(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u);
/// One entry of `models`, without its retry block (parse_config layers that on the global one).
void read_model(reader& r, const YAML::Node& node, const std::string& path, model_config& m);
/// One entry of `rate_limits`.
void read_rate_limit(reader& r, const YAML::Node& node, const std::string& path,
                     rate_limit_config& l);
/// Resolves `rate_limits[i].mode` against the store: `leased` by default with redis, `local`
/// with sqlite, where leased and exact are errors (named by key path).
void resolve_rate_limit_mode(reader& r, const YAML::Node& node, const std::string& path,
                             const store_config& store, rate_limit_config& l);

// In experiments_config.cpp:
void read_prompts(reader& r, const YAML::Node& root, config& c);
/// A YAML value as JSON text (variant params go into the upstream request verbatim).
void yaml_to_json(const YAML::Node& node, std::string& out);
/// `name` is given and fits a metric label and a request id; else an error at `path`.name.
void require_name(reader& r, const YAML::Node& node, const std::string& path,
                  const std::string& name);
/// Cross-references of prompts and experiments (models, prompt versions, variant names).
void link_experiments(reader& r, const YAML::Node& root, config& c);
// In experiment_schema.cpp:
void read_experiments(reader& r, const YAML::Node& root, config& c);

}  // namespace switchyard::config_detail
