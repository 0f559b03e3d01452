// The routing part of the configuration: upstreams, models (with fallbacks and prices) and rate
// limits. Declared in yaml_reader.hpp; breaker and retry are declared in schema.cpp.

#include "schema.hpp"
#include "yaml_reader.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::config_detail {

namespace {

constexpr applies boot = applies::on_restart;

const char* upstream_type_problem(const std::string& v) {
  return v != "openai" && v != "azure" && v != "anthropic" ? "must be openai, azure or anthropic"
                                                           : nullptr;
}

upstream_type type_of(const std::string& type) {
  return type == "azure"       ? upstream_type::azure
         : type == "anthropic" ? upstream_type::anthropic
                               : upstream_type::openai;
}

std::optional<api_kind> api_named(std::string_view name) {
  for (auto a : {api_kind::chat, api_kind::completions, api_kind::embeddings, api_kind::responses,
                 api_kind::messages}) {
    if (api_name(a) == name) {
      return a;
    }
  }
  return std::nullopt;
}

// Why `type` cannot serve `a` natively, or nullptr. The gateway translates what an upstream
// does not serve (through chat), so refusing here only stops a route that could never work.
const char* api_problem(upstream_type type, api_kind a) {
  if (type == upstream_type::anthropic && a != api_kind::messages) {
    return "type anthropic serves messages only (chat and responses clients are translated to "
           "Messages); for Anthropic's OpenAI-compatible endpoint use type: openai";
  }
  if (type != upstream_type::anthropic && a == api_kind::messages) {
    return "messages is Anthropic's API: a server that speaks it (Anthropic, or an "
           "OpenAI-compatible server's /v1/messages) is an upstream of type: anthropic";
  }
  return nullptr;
}

// `apis: [chat, responses, …]`: which APIs the upstream serves natively. `type` is read
// before this key (declaration order), so each entry is checked against it here, with its line.
void read_apis(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  auto apis = node["apis"];
  if (!apis) {
    return;
  }
  const char* expected = "must be a list of chat, completions, embeddings, responses, messages";
  if (!apis.IsSequence() || apis.size() == 0) {
    r.fail(apis, path + ".apis", expected);
    return;
  }
  api_set set = 0;
  for (std::size_t i = 0; i < apis.size(); ++i) {
    const auto item = path + ".apis[" + std::to_string(i) + "]";
    auto name = r.text(apis[i], item);
    if (!name) {
      continue;
    }
    auto a = api_named(*name);
    if (!a) {
      r.fail(apis[i], item, expected);
      continue;
    }
    if (const char* p = api_problem(type_of(u.type), *a)) {
      r.fail(apis[i], item, std::string(*name) + ": " + p);
      continue;
    }
    set = static_cast<api_set>(set | api_bit(*a));
  }
  u.apis = set;
  u.apis_given = true;
}

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// YYYY-MM-DD (the shape of Azure's api-version and Anthropic's anthropic-version).
bool is_date(std::string_view s) {
  return s.size() == 10 && digits(s.substr(0, 4)) && s[4] == '-' && digits(s.substr(5, 2)) &&
         s[7] == '-' && digits(s.substr(8, 2));
}

// Azure's api-version: "v1", or a date with an optional "-preview" ("2024-10-21",
// "2025-04-01-preview").
bool is_azure_version(std::string_view v) {
  return v == "v1" || (v.size() >= 10 && is_date(v.substr(0, 10)) &&
                       (v.size() == 10 || v.substr(10) == "-preview"));
}

// The APIs a type serves when `apis:` is not given.
api_set default_apis(const upstream_config& u) {
  const api_set openai_three =
      api_bit(api_kind::chat) | api_bit(api_kind::completions) | api_bit(api_kind::embeddings);
  switch (u.kind) {
    case upstream_type::openai:
      // OpenAI itself serves Responses; OpenAI-compatible servers mostly do not (translated).
      return u.host == "api.openai.com" ? openai_three | api_bit(api_kind::responses)
                                        : openai_three;
    case upstream_type::azure:
      // Azure's Responses API came with api-version 2025-03-01-preview (and the v1 API);
      // older versions answer 404 there, so their Responses clients are translated to chat.
      return u.api_version == "v1" || u.api_version.substr(0, 10) >= "2025-03-01"
                 ? openai_three | api_bit(api_kind::responses)
                 : openai_three;
    case upstream_type::anthropic:
      return api_bit(api_kind::messages);
  }
  return openai_three;
}

void read_headers(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  auto headers = node["headers"];
  if (!headers) {
    return;
  }
  if (!headers.IsMap()) {
    r.fail(headers, path + ".headers", "must be a mapping of header name to value");
    return;
  }
  for (const auto& kv : headers) {
    auto name = kv.first.as<std::string>();
    if (auto value = r.text(kv.second, path + ".headers." + name)) {
      u.headers.emplace_back(name, *value);
    }
  }
}

// Keys that only one type reads: written on another, they would silently do nothing.
void check_type_keys(reader& r, const YAML::Node& node, const std::string& path,
                     const upstream_config& u) {
  struct only {
    const char* key;
    upstream_type type;
    const char* type_name;
  };
  for (const only& o : {only{"api_version", upstream_type::azure, "azure"},
                        only{"resource", upstream_type::azure, "azure"},
                        only{"anthropic_version", upstream_type::anthropic, "anthropic"},
                        only{"default_max_tokens", upstream_type::anthropic, "anthropic"}}) {
    if (node[o.key] && u.kind != o.type) {
      r.fail(node[o.key], path + "." + o.key,
             std::string("is only read for type: ") + o.type_name + " (this upstream is type " +
                 (u.type.empty() ? "openai" : u.type) + ")");
    }
  }
  if (u.kind == upstream_type::anthropic && node["anthropic_version"] &&
      !is_date(u.anthropic_version)) {
    r.fail(node["anthropic_version"], path + ".anthropic_version",
           "must be a date like 2023-06-01 (the anthropic-version header)");
  }
}

// `auth:` names the header that carries api_key; each type has its default and its choices.
void check_auth(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  u.auth = u.kind == upstream_type::azure       ? upstream_auth::api_key
           : u.kind == upstream_type::anthropic ? upstream_auth::x_api_key
                                                : upstream_auth::bearer;
  auto n = node["auth"];
  if (!n) {
    return;
  }
  auto v = r.text(n, path + ".auth");
  if (!v) {
    return;
  }
  const char* choices = "";
  switch (u.kind) {
    case upstream_type::openai:
      if (*v == "bearer") {
        return;
      }
      choices = "type openai sends api_key as Authorization: Bearer; auth must be bearer";
      break;
    case upstream_type::azure:
      if (*v == "api-key") {
        return;
      }
      if (*v == "entra" || *v == "bearer") {
        u.auth = upstream_auth::bearer;
        return;
      }
      choices =
          "must be api-key (api_key sent as the api-key header, the default) or entra "
          "(api_key is a Microsoft Entra ID token, sent as Authorization: Bearer; bearer is the "
          "same)";
      break;
    case upstream_type::anthropic:
      if (*v == "x-api-key") {
        return;
      }
      if (*v == "bearer") {
        u.auth = upstream_auth::bearer;
        return;
      }
      choices =
          "must be x-api-key (api_key sent as the x-api-key header, the default) or bearer "
          "(sent as Authorization: Bearer)";
      break;
  }
  r.fail(n, path + ".auth", choices);
}

// An Azure resource name: letters, digits and inner hyphens (Azure's own rule, 2–64 chars).
bool is_resource_name(std::string_view s) {
  return s.size() >= 2 && s.size() <= 64 && s.front() != '-' && s.back() != '-' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
         });
}

// azure: `resource` as base_url, api_version required and consistent with a base_url that
// already names /openai or /openai/v1; path_prefix is what comes before /openai.
void check_azure(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  if (u.path_prefix.find("/openai/deployments") != std::string::npos) {
    // A deployment URL pasted from the portal: the deployment belongs to each model instead.
    r.fail(node["base_url"], path + ".base_url",
           "must be the resource endpoint, like https://my-resource.openai.azure.com, not a "
           "deployment URL: the deployment is each model's model: (models[].model)");
    return;
  }
  bool v1_path = false;
  for (std::string_view tail : {"/openai/v1", "/openai"}) {
    if (u.path_prefix.size() >= tail.size() &&
        std::string_view(u.path_prefix).substr(u.path_prefix.size() - tail.size()) == tail) {
      u.path_prefix.resize(u.path_prefix.size() - tail.size());
      v1_path = tail == "/openai/v1";
      break;
    }
  }
  auto version_node = node["api_version"] ? node["api_version"] : node;
  if (u.api_version.empty()) {
    if (v1_path) {
      u.api_version = "v1";  // the base_url says it: Azure's v1 API
    } else if (!node["api_version"]) {
      r.fail(node, path + ".api_version",
             "is required for type azure: a dated version like 2024-10-21 (deployment URLs "
             "with ?api-version=), or v1 for Azure's v1 API (/openai/v1/…)");
    }
  }
  if (!u.api_version.empty() && !is_azure_version(u.api_version)) {
    r.fail(version_node, path + ".api_version",
           "must be v1 or a date like 2024-10-21 (optionally with -preview, like "
           "2025-04-01-preview)");
  } else if (v1_path && u.api_version != "v1") {
    r.fail(version_node, path + ".api_version",
           "base_url ends in /openai/v1 (Azure's v1 API, no api-version): set api_version: v1, "
           "or end base_url at the resource (or /openai) to use api-version " +
               u.api_version);
  }
}

// The base_url's query refused with what to write instead: an api-version belongs in
// `api_version` (the gateway adds it to every request), anything else in no URL at all.
void fail_query(reader& r, const YAML::Node& node, const std::string& path,
                const upstream_config& u, const boost::urls::url_view& url) {
  for (auto param : url.params()) {
    if (param.key == "api-version") {
      r.fail(node["base_url"], path + ".base_url",
             "must not have a query: write the API version as api_version: " +
                 std::string(param.value) +
                 (u.kind == upstream_type::azure ? "" : " with type: azure") +
                 ", and base_url as the resource endpoint, like "
                 "https://my-resource.openai.azure.com (the gateway adds api-version to every "
                 "request)");
      return;
    }
  }
  r.fail(node["base_url"], path + ".base_url",
         "must not have a query or fragment (upstream request targets are built from the "
         "endpoint path), like https://api.openai.com/v1");
}

// Required keys, and host, port, tls and path_prefix derived from base_url (or an Azure
// `resource`); the type's auth and APIs.
void check_upstream(reader& r, const YAML::Node& node, const std::string& path,
                    upstream_config& u) {
  if (u.name.empty()) {
    r.fail(node, path + ".name", "is required");
  }
  u.kind = type_of(u.type);
  check_type_keys(r, node, path, u);
  check_auth(r, node, path, u);
  if (u.kind == upstream_type::azure && !u.resource.empty()) {
    if (!u.base_url.empty()) {
      r.fail(node["resource"], path + ".resource",
             "give resource or base_url, not both (resource: name is short for base_url "
             "https://name.openai.azure.com)");
      return;
    }
    if (!is_resource_name(u.resource)) {
      r.fail(node["resource"], path + ".resource",
             "must be an Azure resource name (letters, digits, hyphens), the NAME of "
             "https://NAME.openai.azure.com");
      return;
    }
    u.base_url = "https://" + u.resource + ".openai.azure.com";
  }
  if (u.base_url.empty()) {
    r.fail(node, path + ".base_url",
           u.kind == upstream_type::azure ? "is required (or resource: your Azure resource name)"
                                          : "is required");
    return;
  }
  auto url = boost::urls::parse_uri(u.base_url);
  if (url && (url->has_query() || url->has_fragment())) {
    fail_query(r, node, path, u, *url);
    return;
  }
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
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
  if (u.kind == upstream_type::azure) {
    check_azure(r, node, path, u);
  } else if (u.kind == upstream_type::anthropic && u.path_prefix.empty()) {
    // The SDKs' ANTHROPIC_BASE_URL has no /v1 (they add it); here, as for OpenAI, base_url is
    // what the endpoint path (/messages) is appended to.
    r.fail(node["base_url"], path + ".base_url",
           "must include the API's version path, like https://api.anthropic.com/v1 (the gateway "
           "appends /messages, as for OpenAI's https://api.openai.com/v1)");
  }
  if (!u.apis_given) {
    u.apis = default_apis(u);
  }
}

// Every upstream key is boot: pools, TLS contexts and breakers are built per worker at start.
}  // namespace

const section<upstream_config>& upstream_section() {
  static const section<upstream_config> s{
      {
          field<upstream_config>("name", boot, SY_AT(name), text_t{}),
          field<upstream_config>("type", boot, SY_AT(type), text_t{upstream_type_problem}),
          field<upstream_config>("api_key", boot, SY_AT(api_key), text_t{}),
          field<upstream_config>("pass_authorization", boot, SY_AT(pass_authorization),
                                 boolean_t{}),
          field<upstream_config>("max_connections", boot, SY_AT(max_connections),
                                 integer_t{1, 100000}),
          field<upstream_config>("idle_timeout", boot, SY_AT(idle_timeout), duration_t{}),
          field<upstream_config>("tls_verify", boot, SY_AT(tls_verify), boolean_t{}),
          field<upstream_config>("inject_stream_usage", boot, SY_AT(inject_stream_usage),
                                 boolean_t{}),
          field<upstream_config>("ca_file", boot, SY_AT(ca_file), text_t{}),
          custom<upstream_config>("apis", boot, "list of APIs", read_apis),
          // Read by check_upstream, which knows the type (its default and its choices).
          custom<upstream_config>(
              "auth", boot, "api-key | entra | bearer | x-api-key",
              [](reader&, const YAML::Node&, const std::string&, upstream_config&) {}),
          field<upstream_config>("api_version", boot, SY_AT(api_version), text_t{}),
          field<upstream_config>("resource", boot, SY_AT(resource), text_t{}),
          field<upstream_config>("anthropic_version", boot, SY_AT(anthropic_version), text_t{}),
          field<upstream_config>("default_max_tokens", boot, SY_AT(default_max_tokens),
                                 integer_t{1, 1'000'000}),
          nested<upstream_config>("breaker", SY_AT(breaker), breaker_section()),
          custom<upstream_config>("headers", boot, "mapping of header name to value", read_headers),
          field<upstream_config>("base_url", boot, SY_AT(base_url), text_t{}),
      },
      check_upstream};
  return s;
}

void read_upstream(reader& r, const YAML::Node& node, const std::string& path, upstream_config& u) {
  upstream_section().read(r, node, path, u);
}

namespace {

constexpr applies hot = applies::on_reload;

const section<fallback_config>& fallback_section() {
  static const section<fallback_config> s{
      {
          field<fallback_config>("upstream", hot, SY_AT(upstream), text_t{}),
          field<fallback_config>("model", hot, SY_AT(model), text_t{}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, fallback_config& f) {
        if (f.upstream.empty()) {
          r.fail(node, path + ".upstream", "is required");
        }
      }};
  return s;
}

void read_fallbacks(reader& r, const YAML::Node& node, const std::string& path, model_config& m) {
  auto fallbacks = node["fallbacks"];
  if (!fallbacks) {
    return;
  }
  if (!fallbacks.IsSequence()) {
    r.fail(fallbacks, path + ".fallbacks", "must be a list of { upstream, model }");
    return;
  }
  for (std::size_t i = 0; i < fallbacks.size(); ++i) {
    fallback_config f;
    fallback_section().read(r, fallbacks[i], path + ".fallbacks[" + std::to_string(i) + "]", f);
    m.fallbacks.push_back(std::move(f));
  }
}

// Every model key is hot: requests find their model in their own snapshot.
}  // namespace

const section<model_config>& model_section() {
  static const section<model_config> s{
      {
          field<model_config>("name", hot, SY_AT(name), text_t{}),
          field<model_config>("upstream", hot, SY_AT(upstream), text_t{}),
          field<model_config>("model", hot, SY_AT(model), text_t{}),
          custom<model_config>("fallbacks", hot, "list of { upstream, model }", read_fallbacks),
          nested<model_config>("price", SY_AT(price), price_section()),
          // Layered on the global retry by the top level, once that is read (schema.cpp).
          custom<model_config>(
              "retry", hot, "section",
              [](reader&, const YAML::Node&, const std::string&, model_config&) {}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, model_config& m) {
        if (m.name.empty()) {
          r.fail(node, path + ".name", "is required");
        }
        if (m.upstream.empty()) {
          r.fail(node, path + ".upstream", "is required");
        }
        if (m.model.empty()) {
          m.model = m.name;
        }
      }};
  return s;
}

void read_model(reader& r, const YAML::Node& node, const std::string& path, model_config& m) {
  model_section().read(r, node, path, m);
}

namespace {

void read_scope(reader& r, const YAML::Node& node, const std::string& path, rate_limit_config& l) {
  auto scope = node["scope"];
  if (!scope) {
    return;
  }
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
      r.fail(item, path + ".scope", "must be global, api_key, user, model or variant (or a list)");
    } else if (it->second != rate_scope::global) {
      l.scope.push_back(it->second);
    }
  }
}

void read_overflow(reader& r, const YAML::Node& node, const std::string& path,
                   rate_limit_config& l) {
  if (auto o = node["on_overflow"]) {
    auto v = r.text(o, path + ".on_overflow");
    if (v && *v != "deny" && *v != "allow") {
      r.fail(o, path + ".on_overflow", "must be deny or allow");
    } else if (v) {
      l.deny_on_overflow = *v == "deny";
    }
  }
}
void read_mode(reader& r, const YAML::Node& node, const std::string& path, rate_limit_config& l) {
  auto m = node["mode"];
  if (!m) {
    return;
  }
  auto v = r.text(m, path + ".mode");
  if (!v) {
    return;
  }
  static const std::pair<std::string_view, rate_limit_mode> names[] = {
      {"local", rate_limit_mode::local},
      {"leased", rate_limit_mode::leased},
      {"exact", rate_limit_mode::exact}};
  auto it = std::find_if(std::begin(names), std::end(names),
                         [&](const auto& n) { return n.first == *v; });
  if (it == std::end(names)) {
    r.fail(m, path + ".mode", "must be leased, exact or local");
    return;
  }
  l.mode = it->second;
  l.mode_given = true;
}

// `requests` (+ `period`), `requests_per_second`, `requests_per_minute`: three spellings of one
// limit, so each sets both the count and the period.
key<rate_limit_config> request_key(std::string_view name, duration fixed_period) {
  return custom<rate_limit_config>(
      name, applies::on_restart, "integer in [1, 1099511627776]",
      [name, fixed_period](reader& r, const YAML::Node& node, const std::string& path,
                           rate_limit_config& l) {
        if (!node[std::string(name)]) {
          return;
        }
        r.integer(node, name, path, l.requests, 1, 1ull << 40);
        if (fixed_period.count() > 0) {
          l.period = fixed_period;
        } else {
          r.time(node, "period", path, l.period);
        }
      });
}

void check_rate_limit(reader& r, const YAML::Node& node, const std::string& path,
                      rate_limit_config& l) {
  int request_keys = 0;
  for (const char* k : {"requests", "requests_per_second", "requests_per_minute"}) {
    request_keys += node[k] ? 1 : 0;
  }
  if (request_keys > 1) {
    r.fail(node, path, "give one of requests (+ period), requests_per_second, requests_per_minute");
  }
  if (l.requests == 0 && l.tokens_per_minute == 0 && l.concurrent == 0) {
    r.fail(node, path,
           "needs requests_per_minute, requests_per_second, requests, "
           "tokens_per_minute or concurrent");
  }
}

// Boot: the limiter's tables are built once at start and shared by every worker.
}  // namespace

const section<rate_limit_config>& rate_limit_section() {
  static const section<rate_limit_config> s{
      {
          custom<rate_limit_config>("scope", applies::on_restart, "list of scopes", read_scope),
          field<rate_limit_config>("user_header", applies::on_restart, SY_AT(user_header),
                                   text_t{}),
          field<rate_limit_config>("model", applies::on_restart, SY_AT(model), text_t{}),
          custom<rate_limit_config>("on_overflow", applies::on_restart, "deny | allow",
                                    read_overflow),
          request_key("requests", duration(0)),
          // Read with `requests` (a period of its own has no count to go with).
          custom<rate_limit_config>(
              "period", applies::on_restart, "duration > 0",
              [](reader&, const YAML::Node&, const std::string&, rate_limit_config&) {}),
          request_key("requests_per_second", duration(1000)),
          request_key("requests_per_minute", duration(60'000)),
          field<rate_limit_config>("tokens_per_minute", applies::on_restart,
                                   SY_AT(tokens_per_minute), integer_t{1, 1ull << 40}),
          field<rate_limit_config>("concurrent", applies::on_restart, SY_AT(concurrent),
                                   integer_t{1, 1u << 24}),
          // Sharing across replicas (docs/replica-limits.md); checked against `store` by the
          // loader.
          custom<rate_limit_config>("mode", applies::on_restart, "leased | exact | local",
                                    read_mode),
          field<rate_limit_config>("batch_reserve", applies::on_restart, SY_AT(batch_reserve),
                                   fraction_t{1}),
          field<rate_limit_config>("fallback_margin", applies::on_restart, SY_AT(fallback_margin),
                                   fraction_t{1}),
      },
      check_rate_limit};
  return s;
}

void read_rate_limit(reader& r, const YAML::Node& node, const std::string& path,
                     rate_limit_config& l) {
  rate_limit_section().read(r, node, path, l);
}
void resolve_rate_limit_mode(reader& r, const YAML::Node& node, const std::string& path,
                             const store_config& store, rate_limit_config& l) {
  const bool redis = store.type == "redis";
  if (!l.mode_given) {
    // Shared by default wherever there is something to share it through.
    l.mode = redis ? rate_limit_mode::leased : rate_limit_mode::local;
    return;
  }
  if (!redis && l.mode != rate_limit_mode::local) {
    r.fail(node["mode"], path + ".mode",
           "leased and exact need store.type: redis (with the embedded sqlite store only local "
           "is possible)");
  }
  if (l.mode != rate_limit_mode::local && l.requests == 0 && l.tokens_per_minute == 0) {
    r.fail(node["mode"], path + ".mode",
           "only requests and tokens limits are shared; a concurrent-only limit is local");
  }
}

}  // namespace switchyard::config_detail
