#pragma once
// Private to src/config: each section of the configuration declares its keys once — name, type
// and range, where the value goes, and whether a reload may change it. From that one list come
// the reading (with `unknown key` errors), the range errors (key path and line), the defaults
// (the struct's member initialisers: a key that is absent leaves them alone), the restart check
// (`boot_difference`) and the key table (`config_keys`).

#include "yaml_reader.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::config_detail {

/// Whether a running gateway takes a new value of the key from a reload.
enum class applies { on_reload, on_restart };

/// One declared key of a section whose values live in `S`.
template <class S>
struct key {
  std::string_view name;
  applies when = applies::on_reload;
  std::string type;  // for config_keys(): `integer in [1, 20]`, `duration`, …
  /// Reads the key from the section's mapping `map` (at `path`) into `out`; absent = untouched.
  std::function<void(reader&, const YAML::Node& map, const std::string& path, S& out)> read;
  /// The path of the first value that differs and needs a restart, or "" (`path` is the
  /// section's). For an `on_reload` key: always "".
  std::function<std::string(const S& a, const S& b, const std::string& path)> restart_diff;
  /// Sub-keys, for config_keys() (a nested section, or each entry of a list); empty for a leaf.
  std::vector<config_key_info> children;
  bool list = false;  // children are per entry: `upstreams[].max_connections`
};

/// A section: its keys and the checks that span several of them.
template <class S>
struct section {
  std::vector<key<S>> keys;
  /// After every key was read: checks across keys (`cap` ≥ `base`), defaults derived from others.
  std::function<void(reader&, const YAML::Node& node, const std::string& path, S& out)> check;

  /// Reads a mapping: unknown keys are errors, then every declared key in order, then `check`.
  void read(reader& r, const YAML::Node& node, const std::string& path, S& out) const {
    std::vector<std::string_view> names;
    names.reserve(keys.size());
    for (const auto& k : keys) {
      names.push_back(k.name);
    }
    // The top level has path "": its unknown keys are `(top level).listenn`, as before.
    if (!r.check_map(node, path.empty() ? "(top level)" : path, names)) {
      return;
    }
    for (const auto& k : keys) {
      k.read(r, node, path, out);
    }
    if (check) {
      check(r, node, path, out);
    }
  }

  /// The first boot key that differs, with its path under `path`, or "".
  std::string restart_diff(const S& a, const S& b, const std::string& path) const {
    for (const auto& k : keys) {
      if (auto d = k.restart_diff(a, b, path); !d.empty()) {
        return d;
      }
    }
    return "";
  }

  /// The declared keys with their paths under `path`.
  std::vector<config_key_info> describe(const std::string& path) const {
    std::vector<config_key_info> out;
    for (const auto& k : keys) {
      if (k.children.empty() || k.list) {
        out.push_back({reader::join(path, k.name), k.type, k.when == applies::on_reload});
      }
      for (const auto& c : k.children) {
        out.push_back({reader::join(path, std::string(k.name)) + (k.list ? "[]." : ".") + c.path,
                       c.type, c.reloadable});
      }
    }
    return out;
  }
};

/// Where a key's value sits in its section's struct, as a generic accessor: a member pointer would
/// not serve const and mutable access (nor nested members) both, a lambda does.
#define SY_AT(member)     \
  [](auto& s_) -> auto& { \
    return s_.member;     \
  }

// ---- value types: how one scalar is read and what range it has ----

struct integer_t {
  std::uint64_t min, max;
  template <class T>
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  T& out) const {
    r.integer(map, k, path, out, min, max);
  }
  std::string describe() const {
    return "integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
};

struct duration_t {
  bool allow_zero = false;
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  duration& out) const {
    r.time(map, k, path, out, allow_zero);
  }
  std::string describe() const { return allow_zero ? "duration ≥ 0" : "duration > 0"; }
};

struct boolean_t {
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  bool& out) const {
    r.boolean(map, k, path, out);
  }
  std::string describe() const { return "boolean"; }
};

/// A number in [0, max].
struct fraction_t {
  double max;
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  double& out) const {
    r.fraction(map, k, path, out, max);
  }
  std::string describe() const {
    return "number in [0, " + std::to_string(static_cast<int>(max)) + "]";
  }
};

/// A number ≥ 0.
struct number_t {
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  double& out) const {
    r.number(map, k, path, out);
  }
  std::string describe() const { return "number ≥ 0"; }
};

/// Text (with ${ENV} substituted); `problem` returns what is wrong with a value, or nullptr.
struct text_t {
  const char* (*problem)(const std::string&) = nullptr;
  void operator()(reader& r, const YAML::Node& map, std::string_view k, const std::string& path,
                  std::string& out) const {
    r.string(map, k, path, out);
    if (problem && map[std::string(k)]) {
      if (const char* p = problem(out)) {
        r.fail(map[std::string(k)], reader::join(path, k), p);
      }
    }
  }
  std::string describe() const { return "text"; }
};

/// A leaf key: `get(s)` is the value's place in `S` (a generic lambda, so it serves const and
/// mutable access alike), `type` reads it.
template <class S, class Get, class Type>
key<S> field(std::string_view name, applies when, Get get, Type type) {
  key<S> k;
  k.name = name;
  k.when = when;
  k.type = type.describe();
  k.read = [name, get, type](reader& r, const YAML::Node& map, const std::string& path, S& s) {
    type(r, map, name, path, get(s));
  };
  k.restart_diff = [name, when, get](const S& a, const S& b, const std::string& path) {
    return when == applies::on_restart && !(get(a) == get(b)) ? reader::join(path, name)
                                                              : std::string();
  };
  return k;
}

/// A key whose value is a section of its own (`limits: { … }`), stored at `get(s)`.
template <class S, class T, class Get>
key<S> nested(std::string_view name, Get get, const section<T>& sec) {
  key<S> k;
  k.name = name;
  k.type = "section";
  k.read = [name, get, &sec](reader& r, const YAML::Node& map, const std::string& path, S& s) {
    if (auto n = map[std::string(name)]) {
      sec.read(r, n, reader::join(path, name), get(s));
    }
  };
  k.restart_diff = [name, get, &sec](const S& a, const S& b, const std::string& path) {
    return sec.restart_diff(get(a), get(b), reader::join(path, name));
  };
  k.children = sec.describe("");
  bool any_boot = false, any_hot = false;
  for (const auto& c : k.children) {
    (c.reloadable ? any_hot : any_boot) = true;
  }
  k.when = any_boot && !any_hot ? applies::on_restart : applies::on_reload;
  return k;
}

/// A key read by a hand-written function (lists, listeners); `same` compares the values it fills
/// when the key needs a restart (nullptr for an `on_reload` key).
template <class S>
key<S> custom(std::string_view name, applies when, std::string type,
              std::function<void(reader&, const YAML::Node& map, const std::string& path, S&)> read,
              std::function<bool(const S&, const S&)> same = nullptr) {
  key<S> k;
  k.name = name;
  k.when = when;
  k.type = std::move(type);
  k.read = std::move(read);
  k.restart_diff = [name, when, same](const S& a, const S& b, const std::string& path) {
    return when == applies::on_restart && same && !same(a, b) ? reader::join(path, name)
                                                              : std::string();
  };
  return k;
}

/// Declares `k` a list whose entries are read as `entry`: config_keys() lists their keys.
template <class S, class T>
key<S> list_of(key<S> k, const section<T>& entry) {
  k.list = true;
  k.children = entry.describe("");
  return k;
}

/// A declared key refused with `message` (a per-model `retry.budget_percent`: gateway-wide).
template <class S>
key<S> refused(std::string_view name, const char* message) {
  key<S> k;
  k.name = name;
  k.type = "refused here";
  k.read = [name, message](reader& r, const YAML::Node& map, const std::string& path, S&) {
    if (auto n = map[std::string(name)]) {
      r.fail(n, reader::join(path, name), message);
    }
  };
  k.restart_diff = [](const S&, const S&, const std::string&) { return std::string(); };
  return k;
}

// ---- the declared sections (schema.cpp) ----

const section<limits_config>& limits_section();
const section<timeouts_config>& timeouts_section();
const section<log_config>& log_section();
const section<breaker_config>& breaker_section();
const section<trace_config>& trace_section();
const section<price_config>& price_section();
const section<guardrails_config>& guardrails_section();
const section<analysis_config>& analysis_section();
/// One entry of each top-level list (routing_config.cpp, experiments_config.cpp,
/// experiment_schema.cpp).
const section<upstream_config>& upstream_section();
const section<model_config>& model_section();
const section<rate_limit_config>& rate_limit_section();
const section<prompt_config>& prompt_section();
const section<experiment_config>& experiment_section();
/// `metrics:` (experiments_config.cpp, next to the bucket reader).
const section<metrics_config>& metrics_section();
/// A model's `retry:` override: the retry keys; the budget keys are refused (gateway-wide).
const section<retry_config>& model_retry_section();
/// The whole file, top level (`retry:` and `feedback:` fill both parts of `config`); relative
/// file names resolve against the reader's base_dir().
const section<config>& top_level_section();
/// `alerts:` as one top-level key (alerts_config.cpp): the section, then its cross-references.
key<config> alerts_key();
/// `compat:` (compat_config.cpp): the seed-compatible APIs' sections.
key<config> compat_key();
/// `compat.modelab:` (modelab_config.cpp).
const section<modelab_config>& modelab_section();
/// The checks of an experiment with `hash: modelab` (modelab_config.cpp), in place of the
/// GrowthBook weight rules: integer weights (default 50, all 0 allowed), `rollout_pct` in
/// [0, 100] or coverage, no namespace. `node` is the experiment's mapping.
void check_modelab_experiment(reader& r, const YAML::Node& node, const std::string& path,
                              experiment_config& e);

/// `batches:` (batches_config.cpp).
key<config> batches_key();
/// `evaluations:` (evaluations_config.cpp): the section, then its models checked against
/// `models:` and their upstreams (read before it).
key<config> evaluations_key();

}  // namespace switchyard::config_detail
