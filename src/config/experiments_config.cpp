// The experiment plane of the configuration: prompts, metrics and the cross-references of
// prompts and experiments (the experiments themselves: experiment_schema.cpp).
#include "schema.hpp"
#include "yaml_reader.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

namespace switchyard::config_detail {

namespace {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return false;
  }
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || ch == '_' || ch == '-' || ch == '.')) {
      return false;
    }
  }
  return true;
}

void read_buckets(reader& r, const YAML::Node& node, const std::string& path,
                  std::vector<double>& out) {
  if (!node.IsSequence() || node.size() == 0) {
    r.fail(node, path, "must be a non-empty list of bucket upper bounds in seconds");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    double v = 0;
    auto text = r.text(node[i], path);
    if (!text ||
        std::from_chars(text->data(), text->data() + text->size(), v).ptr !=
            text->data() + text->size() ||
        v <= 0 || (!out.empty() && v <= out.back())) {
      r.fail(node[i], path + "[" + std::to_string(i) + "]",
             "must be a positive number of seconds, increasing");
      return;
    }
    out.push_back(v);
  }
}

void read_template(reader& r, const YAML::Node& node, const std::string& path,
                   prompt_version_config& v) {
  if (node["template"] && !node["file"]) {
    r.string(node, "template", path, v.text);
  }
}

// The file's text, relative to the config's directory.
void read_file(reader& r, const YAML::Node& node, const std::string& path,
               prompt_version_config& v) {
  if (!node["file"] || node["template"]) {
    return;
  }
  r.string(node, "file", path, v.file);
  std::string full = r.resolve(v.file);
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    r.fail(node["file"], path + ".file", "cannot read " + full);
  } else {
    std::stringstream text;
    text << in.rdbuf();
    v.text = text.str();
  }
}

void read_mode(reader& r, const YAML::Node& node, const std::string& path,
               prompt_version_config& v) {
  std::string mode = "prepend";
  r.string(node, "mode", path, mode);
  if (mode != "prepend" && mode != "replace") {
    r.fail(node["mode"], path + ".mode",
           "must be prepend (add a system message first) or replace (replace the client's)");
  }
  v.replace_system = mode == "replace";
}

void read_defaults(reader& r, const YAML::Node& node, const std::string& path,
                   prompt_version_config& v) {
  auto d = node["defaults"];
  if (!d) {
    return;
  }
  if (!d.IsMap()) {
    r.fail(d, path + ".defaults", "must be a mapping of variable to default text");
    return;
  }
  for (const auto& kv : d) {
    auto key = kv.first.as<std::string>();
    if (auto text = r.text(kv.second, path + ".defaults." + key)) {
      v.defaults.emplace(key, *text);
    }
  }
}

constexpr applies hot = applies::on_reload;

// Prompts are hot: a reload re-reads their files too.
const section<prompt_version_config>& version_section() {
  static const section<prompt_version_config> s{
      {
          field<prompt_version_config>("version", hot, SY_AT(version), text_t{}),
          custom<prompt_version_config>("template", hot, "text", read_template),
          custom<prompt_version_config>("file", hot, "file name", read_file),
          custom<prompt_version_config>("mode", hot, "prepend | replace", read_mode),
          custom<prompt_version_config>("defaults", hot, "mapping of variable to text",
                                        read_defaults),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, prompt_version_config& v) {
        if (!valid_name(v.version)) {
          r.fail(node, path + ".version", "is required: letters, digits, '_', '-' or '.'");
        }
        if (node["template"] && node["file"]) {
          r.fail(node, path, "give either template or file, not both");
        } else if (!node["template"] && !node["file"]) {
          r.fail(node, path, "needs template (inline text) or file (relative to the config)");
        }
      }};
  return s;
}

void read_versions(reader& r, const YAML::Node& node, const std::string& path, prompt_config& p) {
  auto versions = node["versions"];
  if (!versions || !versions.IsSequence() || versions.size() == 0) {
    r.fail(node, path + ".versions", "must be a non-empty list");
    return;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    prompt_version_config v;
    auto vpath = path + ".versions[" + std::to_string(i) + "]";
    version_section().read(r, versions[i], vpath, v);
    if (!v.version.empty() && !seen.insert(v.version).second) {
      r.fail(versions[i], vpath + ".version", "duplicate version " + v.version);
    }
    p.versions.push_back(std::move(v));
  }
}

}  // namespace

const section<prompt_config>& prompt_section() {
  static const section<prompt_config> s{
      {
          field<prompt_config>("name", hot, SY_AT(name), text_t{}),
          custom<prompt_config>("versions", hot, "non-empty list", read_versions),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, prompt_config& p) {
        require_name(r, node, path, p.name);
      }};
  return s;
}

// A YAML value as JSON text: plain scalars that read as JSON literals or numbers stay typed and
// keep the text as written (`4e-1` stays `4e-1`), quoted scalars are strings. Used for variant
// `params`, which go into the upstream request verbatim.
void yaml_to_json(const YAML::Node& node, std::string& out) {
  if (node.IsSequence()) {
    out.push_back('[');
    for (std::size_t i = 0; i < node.size(); ++i) {
      out += i ? "," : "";
      yaml_to_json(node[i], out);
    }
    out.push_back(']');
    return;
  }
  if (node.IsMap()) {
    out.push_back('{');
    bool first = true;
    for (const auto& kv : node) {
      out += first ? "" : ",";
      first = false;
      out += boost::json::serialize(boost::json::string(kv.first.as<std::string>()));
      out.push_back(':');
      yaml_to_json(kv.second, out);
    }
    out.push_back('}');
    return;
  }
  if (!node.IsScalar()) {
    out += "null";
    return;
  }
  const std::string& text = node.Scalar();
  if (node.Tag() != "!") {  // "!" marks a quoted scalar
    if (text == "null" || text == "~") {
      out += "null";
      return;
    }
    if (text == "true" || text == "false") {
      out += text;
      return;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (!ec && v.is_number()) {
      out += text;
      return;
    }
  }
  out += boost::json::serialize(boost::json::string(text));
}

void require_name(reader& r, const YAML::Node& node, const std::string& path,
                  const std::string& name) {
  if (name.empty()) {
    r.fail(node, path + ".name", "is required");
  } else if (!valid_name(name)) {
    r.fail(node["name"], path + ".name",
           "must be 1-64 characters of letters, digits, '_', '-' or '.' (it becomes a metric "
           "label and part of request ids)");
  }
}

namespace {

template <class Get>
key<metrics_config> buckets_key(std::string_view name, Get get) {
  return custom<metrics_config>(
      name, applies::on_restart, "list of seconds, increasing",
      [name, get](reader& r, const YAML::Node& map, const std::string& path, metrics_config& m) {
        if (auto b = map[std::string(name)]) {
          read_buckets(r, b, reader::join(path, name), get(m));
        }
      },
      [get](const metrics_config& a, const metrics_config& b) { return get(a) == get(b); });
}

}  // namespace

const section<metrics_config>& metrics_section() {
  // Boot: the histograms are created with their buckets at start.
  static const section<metrics_config> s{
      {
          buckets_key("latency_buckets", SY_AT(latency_buckets)),
          buckets_key("overhead_buckets", SY_AT(overhead_buckets)),
      },
      nullptr};
  return s;
}

void read_prompts(reader& r, const YAML::Node& root, config& c) {
  read_list(r, root, "prompts", c.prompts,
            [&](reader& rr, const YAML::Node& n, const std::string& p, prompt_config& out) {
              prompt_section().read(rr, n, p, out);
            });
}

void link_experiments(reader& r, const YAML::Node& root, config& c) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < c.prompts.size(); ++i) {
    if (!c.prompts[i].name.empty() && !names.insert(c.prompts[i].name).second) {
      r.fail(root["prompts"][i], "prompts[" + std::to_string(i) + "].name",
             "duplicate prompt name " + c.prompts[i].name);
    }
  }
  names.clear();
  for (std::size_t i = 0; i < c.experiments.size(); ++i) {
    auto& e = c.experiments[i];
    const auto node = root["experiments"][i];
    const auto path = "experiments[" + std::to_string(i) + "]";
    if (!e.name.empty() && !names.insert(e.name).second) {
      r.fail(node, path + ".name", "duplicate experiment name " + e.name);
    }
    std::set<std::string> variants;
    if (e.hash == "modelab") {
      check_modelab_experiment(r, node, path, e);  // modelab's integer weights instead
    }
    double given = 0;
    std::size_t unweighted = 0;
    for (std::size_t v = 0; v < e.variants.size(); ++v) {
      auto& var = e.variants[v];
      const auto vnode = node["variants"][v];
      const auto vpath = path + ".variants[" + std::to_string(v) + "]";
      if (!var.name.empty() && !variants.insert(var.name).second) {
        r.fail(vnode, vpath + ".name", "duplicate variant name " + var.name);
      }
      if (!var.prompt.empty() && !c.find_prompt(var.prompt)) {
        // A name not under prompts: may be the prompt registry's, which is checked when the
        // config is applied (experiments/prompt_registry.hpp); a version missing from a prompt
        // of this file is an error now.
        const auto at = var.prompt.find('@');
        const bool file_prompt =
            std::any_of(c.prompts.begin(), c.prompts.end(),
                        [&](const prompt_config& p) { return p.name == var.prompt.substr(0, at); });
        if (at == std::string::npos || at == 0 || at + 1 == var.prompt.size() || file_prompt) {
          r.fail(vnode["prompt"], vpath + ".prompt",
                 "no prompt version " + var.prompt + " (write name@version, as in prompts:)");
        } else {
          c.registry_prompt_refs.push_back(
              {vpath + ".prompt", var.prompt, vnode["prompt"].Mark().line + 1});
        }
      }
      const std::string& routed = var.model.empty() ? e.match_model : var.model;
      if (!c.find_model(routed)) {
        r.fail(var.model.empty() ? vnode : vnode["model"], vpath + ".model",
               var.model.empty() ? "is required: " + e.match_model + " is not in models:"
                                 : "no model named " + var.model + " in models:");
      }
      if (var.weight < 0) {
        ++unweighted;
      } else {
        given += var.weight;
      }
    }
    // Unweighted variants share what the weighted ones leave (all equal when none is given).
    if (given > 1.0 + 1e-9 && unweighted > 0) {
      r.fail(node["variants"], path + ".variants",
             "weights sum past 1 while some variants have none");
    }
    double rest = unweighted > 0 ? std::max(0.0, (given > 0 ? 1.0 - given : 1.0)) /
                                       static_cast<double>(unweighted)
                                 : 0;
    double total = 0;
    for (auto& var : e.variants) {
      if (var.weight < 0) {
        var.weight = rest;
      }
      total += var.weight;
    }
    if (total <= 0 && !e.variants.empty() && e.hash != "modelab") {
      r.fail(node["variants"], path + ".variants", "weights must not all be 0");
    }
    if (e.status == "concluded" && !variants.contains(e.winner)) {
      r.fail(node, path + ".winner", "a concluded experiment needs winner: <one of its variants>");
    } else if (!e.winner.empty() && !variants.contains(e.winner)) {
      r.fail(node["winner"], path + ".winner", "no variant named " + e.winner);
    }
  }
}

}  // namespace switchyard::config_detail
