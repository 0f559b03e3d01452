#include "switchyard/experiments/prompt_registry.hpp"

#include "switchyard/core/clock.hpp"
#include "switchyard/experiments/prompt_template.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <ctime>
#include <set>

namespace switchyard {

namespace {

namespace json = boost::json;

// Names as the config allows them (they become metric labels and parts of request ids).
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return std::isalnum(u) || ch == '_' || ch == '-' || ch == '.';
  });
}

constexpr std::size_t max_template_bytes = 256 * 1024;  // a prompt, not a document store

std::string iso(std::int64_t t) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

result<std::string> string_member(const json::object& o, const char* key, bool required) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) {
      return make_error(errc::invalid_request, std::string(key) + " is required", key);
    }
    return std::string();
  }
  if (!v->is_string()) {
    return make_error(errc::invalid_request, std::string(key) + " must be a string", key);
  }
  return std::string(v->as_string());
}

json::array to_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) {
    a.emplace_back(s);
  }
  return a;
}

json::object defaults_object(const prompt_version_spec& s) {
  json::object d;
  for (const auto& [k, v] : s.defaults) {  // std::map: sorted keys
    d[k] = v;
  }
  return d;
}

const prompt_config* find_prompt_config(const hot_config& cfg, std::string_view name) {
  for (const auto& p : cfg.prompts) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

std::size_t prompt_index(const hot_config& cfg, std::string_view name) {
  for (std::size_t i = 0; i < cfg.prompts.size(); ++i) {
    if (cfg.prompts[i].name == name) {
      return i;
    }
  }
  return cfg.prompts.size();
}

}  // namespace

result<prompt_version_spec> parse_version_spec(std::string_view name, const json::object& o,
                                               std::string_view version) {
  static const std::set<std::string_view> known = {"version", "template", "variables", "defaults",
                                                   "mode",    "hash",     "created_at"};
  for (const auto& kv : o) {
    if (!known.contains(kv.key())) {
      return make_error(errc::invalid_request,
                        "unknown member `" + std::string(kv.key()) +
                            "` (a version has version, template, variables, defaults, mode)",
                        std::string(kv.key()));
    }
  }
  prompt_version_spec s;
  s.name = std::string(name);
  if (!valid_name(s.name)) {
    return make_error(errc::invalid_request,
                      "the prompt name must be 1-64 letters, digits, '_', '-' or '.'", "name");
  }
  auto v = string_member(o, "version", version.empty());
  if (!v) {
    return v.error();
  }
  if (!version.empty() && !v->empty() && *v != version) {
    return make_error(errc::invalid_request, "version in the body differs from the path",
                      "version");
  }
  s.version = v->empty() ? std::string(version) : *v;
  if (!valid_name(s.version)) {
    return make_error(errc::invalid_request,
                      "version must be 1-64 letters, digits, '_', '-' or '.'", "version");
  }
  auto t = string_member(o, "template", true);
  if (!t) {
    return t.error();
  }
  if (t->size() > max_template_bytes) {
    return make_error(errc::invalid_request, "template is longer than 256 KiB", "template");
  }
  auto tmpl = prompt_template::parse(*t);
  if (!tmpl) {
    return make_error(errc::invalid_request, "template: " + tmpl.error().message, "template");
  }
  s.text = std::move(*t);
  auto mode = string_member(o, "mode", false);
  if (!mode) {
    return mode.error();
  }
  s.mode = mode->empty() ? "prepend" : *mode;
  if (s.mode != "prepend" && s.mode != "replace") {
    return make_error(errc::invalid_request,
                      "mode must be prepend (add a system message first) or replace (replace the "
                      "client's)",
                      "mode");
  }
  s.variables = tmpl->variables();
  std::sort(s.variables.begin(), s.variables.end());
  if (const json::value* vars = o.if_contains("variables"); vars && !vars->is_null()) {
    std::vector<std::string> given;
    if (!vars->is_array()) {
      return make_error(errc::invalid_request, "variables must be an array of names", "variables");
    }
    for (const auto& x : vars->as_array()) {
      if (!x.is_string()) {
        return make_error(errc::invalid_request, "variables must be an array of names",
                          "variables");
      }
      given.emplace_back(x.as_string());
    }
    std::sort(given.begin(), given.end());
    given.erase(std::unique(given.begin(), given.end()), given.end());
    if (given != s.variables) {
      std::string found;
      for (const auto& x : s.variables) {
        found += (found.empty() ? "" : ", ") + x;
      }
      return make_error(errc::invalid_request,
                        "variables must list exactly the template's placeholders: [" + found + "]",
                        "variables");
    }
  }
  if (const json::value* d = o.if_contains("defaults"); d && !d->is_null()) {
    if (!d->is_object()) {
      return make_error(errc::invalid_request, "defaults must be an object of strings", "defaults");
    }
    for (const auto& kv : d->as_object()) {
      if (!kv.value().is_string()) {
        return make_error(errc::invalid_request,
                          "defaults." + std::string(kv.key()) + " must be a string", "defaults");
      }
      if (!std::binary_search(s.variables.begin(), s.variables.end(), kv.key())) {
        return make_error(errc::invalid_request,
                          "defaults." + std::string(kv.key()) +
                              " is not a placeholder of the "
                              "template",
                          "defaults");
      }
      s.defaults.emplace(std::string(kv.key()), std::string(kv.value().as_string()));
    }
  }
  return s;
}

std::string canonical_form(const prompt_version_spec& s) {
  // Boost.JSON keeps insertion order and serialises without whitespace; the order is fixed here.
  json::object o;
  o["defaults"] = defaults_object(s);
  o["mode"] = s.mode;
  o["template"] = s.text;
  std::vector<std::string> vars = s.variables;
  std::sort(vars.begin(), vars.end());
  o["variables"] = to_array(vars);
  return json::serialize(o);
}

std::string version_hash(const prompt_version_spec& s) {
  return content_hash(canonical_form(s));
}

prompt_version_spec spec_of(const prompt_config& p, const prompt_version_config& v) {
  prompt_version_spec s;
  s.name = p.name;
  s.version = v.version;
  s.text = v.text;
  s.mode = v.replace_system ? "replace" : "prepend";
  for (const auto& [k, d] : v.defaults) {
    s.defaults.emplace(k, d);
  }
  if (auto t = prompt_template::parse(v.text)) {
    s.variables = t->variables();
    std::sort(s.variables.begin(), s.variables.end());
  }
  return s;
}

stored_prompt_version record_of(const prompt_version_spec& s, std::int64_t unix_seconds) {
  return {s.name, s.version, version_hash(s), canonical_form(s), unix_seconds};
}

result<prompt_version_spec> spec_of(const stored_prompt_version& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    return make_error(errc::internal, "prompt registry: " + r.name + "@" + r.version +
                                          " has a malformed body in the store");
  }
  auto s = parse_version_spec(r.name, v.as_object(), r.version);
  if (!s) {
    return make_error(errc::internal, "prompt registry: " + r.name + "@" + r.version +
                                          " in the store: " + s.error().message);
  }
  if (version_hash(*s) != r.hash) {
    return make_error(errc::internal, "prompt registry: " + r.name + "@" + r.version +
                                          " in the store no longer matches its hash " + r.hash);
  }
  return s;
}

result<std::shared_ptr<const hot_config>> merge_registry(
    const hot_config& file, const std::vector<stored_prompt_version>& registry,
    std::vector<std::string>* shadowed) {
  auto out = std::make_shared<hot_config>(file);
  std::map<std::string, std::size_t> added;  // registry prompt → index in out->prompts
  for (const auto& r : registry) {
    if (find_prompt_config(file, r.name) != nullptr) {
      if (shadowed && (shadowed->empty() || shadowed->back() != r.name)) {
        shadowed->push_back(r.name);
      }
      continue;
    }
    auto s = spec_of(r);
    if (!s) {
      return s.error();
    }
    auto [it, fresh] = added.try_emplace(r.name, out->prompts.size());
    if (fresh) {
      out->prompts.push_back({r.name, {}, true});
    }
    prompt_version_config v;
    v.version = s->version;
    v.text = s->text;
    v.replace_system = s->mode == "replace";
    for (const auto& [k, d] : s->defaults) {
      v.defaults.emplace(k, d);
    }
    v.created_unix = r.created_unix;
    out->prompts[it->second].versions.push_back(std::move(v));
  }
  std::string missing;
  for (const auto& ref : out->registry_prompt_refs) {
    if (out->find_prompt(ref.ref) == nullptr) {
      missing += (missing.empty() ? "" : "\n") + ref.path + ": no prompt version " + ref.ref +
                 " under prompts: or in the prompt registry" +
                 (ref.line > 0 ? " (line " + std::to_string(ref.line) + ")" : "");
    }
  }
  if (!missing.empty()) {
    return make_error(errc::invalid_request, missing);
  }
  return std::shared_ptr<const hot_config>(std::move(out));
}

result<import_plan> plan_import(const json::value& doc, const hot_config& current,
                                std::int64_t now_unix) {
  const json::object* root = doc.if_object();
  const json::value* prompts = root ? root->if_contains("prompts") : nullptr;
  if (!prompts || !prompts->is_array()) {
    return make_error(
        errc::invalid_request,
        R"(The document must be an object {"prompts": [{"name", "versions": [...]}]})", "prompts");
  }
  import_plan plan;
  std::map<std::string, std::string> seen;  // name@version → hash, within the document
  for (std::size_t i = 0; i < prompts->as_array().size(); ++i) {
    const std::string at = "prompts[" + std::to_string(i) + "]";
    const json::object* p = prompts->as_array()[i].if_object();
    const json::value* name = p ? p->if_contains("name") : nullptr;
    const json::value* versions = p ? p->if_contains("versions") : nullptr;
    if (!name || !name->is_string() || !versions || !versions->is_array()) {
      return make_error(errc::invalid_request, at + " must be an object with name and versions",
                        at);
    }
    const std::string n(name->as_string());
    const prompt_config* existing = find_prompt_config(current, n);
    for (std::size_t j = 0; j < versions->as_array().size(); ++j) {
      const std::string vat = at + ".versions[" + std::to_string(j) + "]";
      const json::object* vo = versions->as_array()[j].if_object();
      if (!vo) {
        return make_error(errc::invalid_request, vat + " must be an object", vat);
      }
      auto s = parse_version_spec(n, *vo);
      if (!s) {
        return make_error(errc::invalid_request, vat + ": " + s.error().message, vat);
      }
      const std::string hash = version_hash(*s);
      const std::string ref = n + "@" + s->version;
      if (const json::value* h = vo->if_contains("hash"); h && !h->is_null()) {
        if (!h->is_string() || h->as_string() != hash) {
          return make_error(errc::invalid_request,
                            vat + ": hash does not match the content of " + ref + " (computed " +
                                hash + "); the document was altered",
                            vat);
        }
      }
      if (auto [it, fresh] = seen.try_emplace(ref, hash); !fresh) {
        if (it->second != hash) {
          return make_error(errc::conflict, vat + ": " + ref +
                                                " appears twice in the document with different "
                                                "content; nothing was imported");
        }
        continue;
      }
      const prompt_version_config* have = existing ? current.find_prompt(ref) : nullptr;
      if (have != nullptr) {
        const std::string stored = version_hash(spec_of(*existing, *have));
        if (stored != hash) {
          return make_error(errc::conflict, ref + " already exists with hash " + stored +
                                                ", the document has " + hash +
                                                "; nothing was imported");
        }
        ++plan.unchanged;
        continue;
      }
      if (existing && !existing->in_registry) {
        return make_error(errc::conflict, ref + ": prompt " + n +
                                              " is defined in the config file, which owns its "
                                              "versions; nothing was imported");
      }
      std::int64_t created = now_unix;
      if (const json::value* c = vo->if_contains("created_at"); c && c->is_string()) {
        // Keeps the order of versions across gateways; an unreadable date is replaced by now.
        std::tm tm{};
        const std::string text(c->as_string());
        if (const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm); end != nullptr) {
          created = static_cast<std::int64_t>(timegm(&tm));
        }
      }
      plan.to_write.push_back(record_of(*s, created));
    }
  }
  return plan;
}

json::object export_document(const hot_config& current, std::int64_t now_unix) {
  json::array prompts;
  for (const auto& p : current.prompts) {
    json::array versions;
    for (const auto& v : p.versions) {
      const prompt_version_spec s = spec_of(p, v);
      versions.push_back(json::object{
          {"version", s.version},
          {"hash", version_hash(s)},
          {"template", s.text},
          {"variables", to_array(s.variables)},
          {"defaults", defaults_object(s)},
          {"mode", s.mode},
          {"created_at", v.created_unix > 0 ? json::value(iso(v.created_unix)) : nullptr}});
    }
    prompts.push_back(json::object{{"name", p.name},
                                   {"origin", p.in_registry ? "registry" : "config"},
                                   {"versions", std::move(versions)}});
  }
  return {{"format", "switchyard.prompts/1"},
          {"exported_at", iso(now_unix)},
          {"prompts", std::move(prompts)}};
}

std::vector<std::string> prompt_users(const hot_config& cfg, std::string_view name,
                                      std::string_view version) {
  std::vector<std::string> out;
  for (const auto& e : cfg.experiments) {
    for (const auto& v : e.variants) {
      const auto at = v.prompt.find('@');
      if (at == std::string::npos || std::string_view(v.prompt).substr(0, at) != name) {
        continue;
      }
      if (version.empty() || std::string_view(v.prompt).substr(at + 1) == version) {
        out.push_back(e.name + "/" + v.name);
      }
    }
  }
  return out;
}

prompt_registry::prompt_registry(experiment_store& store, std::string config_path, apply_fn apply,
                                 current_fn current)
    : store_(store),
      config_path_(std::move(config_path)),
      apply_(std::move(apply)),
      current_(std::move(current)) {}

result<void> prompt_registry::apply_file(std::shared_ptr<const hot_config> file,
                                         const apply_fn& reload) {
  std::lock_guard lock(mu_);
  auto previous = std::move(file_);
  file_ = std::move(file);
  auto r = reapply_locked(reload);
  if (!r) {
    file_ = std::move(previous);  // a refused reload keeps the running file
  }
  return r;
}

result<void> prompt_registry::reapply_locked(const apply_fn& apply) {
  auto stored = store_.load_prompt_versions();
  if (!stored) {
    return stored.error();
  }
  std::vector<std::string> shadowed;
  auto merged = merge_registry(*file_, *stored, &shadowed);
  if (!merged) {
    return merged.error();
  }
  for (const auto& n : shadowed) {
    spdlog::warn("prompt registry: prompt {} is defined in the config file too; the file's wins",
                 n);
  }
  return apply(std::move(*merged));
}

result<std::pair<stored_prompt_version, bool>> prompt_registry::create(
    const prompt_version_spec& s) {
  std::lock_guard lock(mu_);
  const auto cur = current_();
  const std::size_t i = prompt_index(*cur, s.name);
  if (i < cur->prompts.size() && !cur->prompts[i].in_registry) {
    return make_error(errc::conflict, "prompt " + s.name + " is defined in " + config_path_ +
                                          " at prompts[" + std::to_string(i) +
                                          "]; add its versions there");
  }
  const stored_prompt_version rec = record_of(s, unix_seconds());
  bool fresh = true;
  if (const auto* have = cur->find_prompt(s.name + "@" + s.version)) {
    const std::string h = version_hash(spec_of(cur->prompts[i], *have));
    if (h != rec.hash) {
      return make_error(errc::conflict, s.name + "@" + s.version +
                                            " already exists with other content (hash " + h +
                                            "); versions are immutable: create a new one");
    }
    fresh = false;
  }
  if (auto w = store_.put_prompt_versions(std::span(&rec, 1)); !w) {
    return w.error();
  }
  if (auto r = reapply_locked(apply_); !r) {
    return r.error();
  }
  return std::pair{rec, fresh};
}

result<std::uint64_t> prompt_registry::remove(std::string_view name, std::string_view version) {
  std::lock_guard lock(mu_);
  const auto cur = current_();
  const std::size_t i = prompt_index(*cur, name);
  const std::string what =
      version.empty() ? std::string(name) : std::string(name) + "@" + std::string(version);
  if (i == cur->prompts.size() ||
      (!version.empty() &&
       cur->find_prompt(std::string(name) + "@" + std::string(version)) == nullptr)) {
    return make_error(errc::not_found, "No prompt " + what + ".");
  }
  if (!cur->prompts[i].in_registry) {
    return make_error(errc::conflict, "prompt " + std::string(name) + " is defined in " +
                                          config_path_ + " at prompts[" + std::to_string(i) +
                                          "]; remove it there and reload");
  }
  if (auto users = prompt_users(*cur, name, version); !users.empty()) {
    std::string list;
    for (const auto& u : users) {
      list += (list.empty() ? "" : ", ") + u;
    }
    return make_error(errc::conflict,
                      what + " is used by experiment variants " + list + "; change those first");
  }
  auto n = store_.delete_prompt_versions(name, version);
  if (!n) {
    return n.error();
  }
  if (auto r = reapply_locked(apply_); !r) {
    return r.error();
  }
  return *n;
}

result<import_plan> prompt_registry::import_document(const json::value& doc) {
  std::lock_guard lock(mu_);
  auto plan = plan_import(doc, *current_(), unix_seconds());
  if (!plan) {
    return plan.error();
  }
  if (!plan->to_write.empty()) {
    if (auto w = store_.put_prompt_versions(plan->to_write); !w) {
      return w.error();
    }
    if (auto r = reapply_locked(apply_); !r) {
      return r.error();
    }
  }
  return plan;
}

}  // namespace switchyard
