#include "switchyard/config/config.hpp"

#include "schema.hpp"
#include "yaml_reader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace switchyard {

const model_config* hot_config::find_model(std::string_view name) const noexcept {
  for (const auto& m : models) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

const prompt_version_config* hot_config::find_prompt(std::string_view ref) const noexcept {
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

const experiment_config* hot_config::find_experiment(std::string_view name) const noexcept {
  for (const auto& e : experiments) {
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

std::string boot_difference(const boot_config& a, const boot_config& b) {
  if (a == b) {
    return "";
  }
  // The declared keys name the first difference; the schema's section is over the whole config,
  // whose hot part is the same in both copies here.
  config x, y;
  static_cast<boot_config&>(x) = a;
  static_cast<boot_config&>(y) = b;
  auto path = config_detail::top_level_section().restart_diff(x, y, "");
  // A boot member that no declared key covers would be a bug in the schema: still refuse.
  return path.empty() ? "(boot configuration)" : path;
}

std::string restart_required(const config& a, const config& b) {
  auto path = boot_difference(a, b);
  return path.substr(0, path.find_first_of(".["));
}

std::vector<config_key_info> config_keys() {
  return config_detail::top_level_section().describe("");
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
    resolve_rate_limit_mode(r, root["rate_limits"][i], "rate_limits[" + std::to_string(i) + "]",
                            c.store, c.rate_limits[i]);
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
  reader r(env, base_dir);
  top_level_section().read(r, root, "", c);
  if (!root.IsMap()) {
    return make_error(errc::invalid_request, r.joined());
  }
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
