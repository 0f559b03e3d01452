// The routing part of the configuration: upstreams, models (with fallbacks and prices) and rate
// limits. Declared in yaml_reader.hpp; breaker and retry are declared in schema.cpp.

#include "schema.hpp"
#include "yaml_reader.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <optional>
#include <string_view>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::config_detail {

namespace {

constexpr applies boot = applies::on_restart;

const char* upstream_type_problem(const std::string& v) {
  return v != "openai" && v != "azure" && v != "anthropic" ? "must be openai, azure or anthropic"
                                                           : nullptr;
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

// `apis: [chat, responses, …]`: which APIs the upstream serves natively.
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
    set = static_cast<api_set>(set | api_bit(*a));
  }
  u.apis = set;
  u.apis_given = true;
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
      return openai_three | api_bit(api_kind::responses);
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

// Required keys, and host, port and tls derived from base_url.
void check_upstream(reader& r, const YAML::Node& node, const std::string& path,
                    upstream_config& u) {
  if (u.name.empty()) {
    r.fail(node, path + ".name", "is required");
  }
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
  u.kind = u.type == "azure"       ? upstream_type::azure
           : u.type == "anthropic" ? upstream_type::anthropic
                                   : upstream_type::openai;
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
          field<upstream_config>("api_version", boot, SY_AT(api_version), text_t{}),
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
      },
      check_rate_limit};
  return s;
}

void read_rate_limit(reader& r, const YAML::Node& node, const std::string& path,
                     rate_limit_config& l) {
  rate_limit_section().read(r, node, path, l);
}

}  // namespace switchyard::config_detail
