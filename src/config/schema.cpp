// The declared sections of the configuration (schema.hpp): each key once, with its type, range,
// where it goes and whether a reload applies it. Defaults are the structs' member initialisers.
#include "schema.hpp"

#include "switchyard/core/redis_url.hpp"

#include <algorithm>
#include <charconv>

namespace switchyard::config_detail {

namespace {

constexpr applies hot = applies::on_reload;
constexpr applies boot = applies::on_restart;

const char* log_level_problem(const std::string& v) {
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  return std::find(std::begin(levels), std::end(levels), v) == std::end(levels)
             ? "must be one of trace, debug, info, warn, error, off"
             : nullptr;
}

const char* signing_key_problem(const std::string& v) {
  return !v.empty() && v.size() < 16 ? "must be at least 16 characters" : nullptr;
}

const char* metric_problem(const std::string& v) {
  static constexpr std::string_view metrics[] = {"feedback_success", "score", "error_rate",
                                                 "latency",          "ttft",  "cost"};
  return std::find(std::begin(metrics), std::end(metrics), v) == std::end(metrics)
             ? "must be feedback_success, score, error_rate, latency, ttft or cost"
             : nullptr;
}

const char* method_problem(const std::string& v) {
  return v != "sequential" && v != "fixed_horizon" ? "must be sequential or fixed_horizon"
                                                   : nullptr;
}

// `listen: host:port` into two members.
void read_listen(reader& r, const YAML::Node& node, const std::string& key, std::string& host,
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

template <class HostGet, class PortGet>
key<config> listen_key(std::string_view name, HostGet host, PortGet port) {
  return custom<config>(
      name, boot, "host:port",
      [name, host, port](reader& r, const YAML::Node& map, const std::string& path, config& c) {
        if (auto n = map[std::string(name)]) {
          read_listen(r, n, reader::join(path, name), host(c), port(c));
        }
      },
      [host, port](const config& a, const config& b) {
        return host(a) == host(b) && port(a) == port(b);
      });
}

// The retry keys, once, for any place a retry_config sits (`get`): the top-level block and a
// model's override.
template <class S, class Get>
std::vector<key<S>> retry_keys(Get get) {
  auto at = [get](auto member) {
    return [ get, member ](auto& s) -> auto& {
      return member(get(s));
    };
  };
  return {
      field<S>("max_attempts", hot, at(SY_AT(max_attempts)), integer_t{1, 20}),
      field<S>("base", hot, at(SY_AT(base)), duration_t{}),
      field<S>("cap", hot, at(SY_AT(cap)), duration_t{}),
      field<S>("max_retry_after", hot, at(SY_AT(max_retry_after)), duration_t{}),
      field<S>("deadline", hot, at(SY_AT(deadline)), duration_t{}),
      field<S>("stream_hold_bytes", hot, at(SY_AT(stream_hold_bytes)), integer_t{0, 1u << 24}),
      field<S>("stream_hold_time", hot, at(SY_AT(stream_hold_time)), duration_t{}),
      field<S>("client_may_retry", hot, at(SY_AT(client_may_retry)), boolean_t{}),
  };
}

// The gateway-wide budget keys (boot: one budget shared by every worker, built at start).
std::vector<key<config>> retry_budget_keys() {
  return {
      field<config>("budget_percent", boot, SY_AT(retry_budget.budget_percent), fraction_t{100}),
      field<config>("budget_min", boot, SY_AT(retry_budget.budget_min), integer_t{0, 100000}),
  };
}

void check_cap(reader& r, const YAML::Node& node, const std::string& path, const retry_config& c) {
  if (c.cap < c.base) {
    r.fail(node, path + ".cap", "must be ≥ base");
  }
}

const section<config>& top_retry_section() {
  static const section<config> s = [] {
    section<config> sec;
    // The order of today's reader, so errors keep their order: budget keys after max_attempts…
    auto keys = retry_keys<config>(SY_AT(retry));
    auto budget = retry_budget_keys();
    sec.keys.push_back(keys[0]);  // max_attempts
    sec.keys.push_back(keys[1]);  // base
    sec.keys.push_back(keys[2]);  // cap
    sec.keys.insert(sec.keys.end(), budget.begin(), budget.end());
    sec.keys.insert(sec.keys.end(), keys.begin() + 3, keys.end());
    sec.check = [](reader& r, const YAML::Node& node, const std::string& path, config& c) {
      check_cap(r, node, path, c.retry);
    };
    return sec;
  }();
  return s;
}

const section<config>& feedback_section() {
  static const section<config> s{
      {
          field<config>("signing_key", hot, SY_AT(feedback.signing_key),
                        text_t{signing_key_problem}),
          field<config>("max_events_per_id", boot, SY_AT(feedback_caps.max_events_per_id),
                        integer_t{1, 1u << 20}),
          field<config>("max_event_names", boot, SY_AT(feedback_caps.max_event_names),
                        integer_t{1, 1u << 20}),
      },
      nullptr};
  return s;
}

// A list read by a hand-written reader; boot lists compare whole.
template <class T, class Get, class Fn>
key<config> list_key(std::string_view name, applies when, Get get, Fn fn) {
  return custom<config>(
      name, when, "list",
      [name, get, fn](reader& r, const YAML::Node& map, const std::string&, config& c) {
        read_list(r, map, std::string(name).c_str(), get(c), fn);
      },
      [get](const config& a, const config& b) { return get(a) == get(b); });
}

}  // namespace

const char* store_type_problem(const std::string& v) {
  return v != "sqlite" && v != "redis" ? "must be sqlite or redis" : nullptr;
}

const char* key_prefix_problem(const std::string& v) {
  return v.size() > 256 ? "must be at most 256 characters" : nullptr;
}

const section<store_config>& store_section() {
  static const section<store_config> s{
      {
          field<store_config>("type", boot, SY_AT(type), text_t{store_type_problem}),
          field<store_config>("url", boot, SY_AT(url), text_t{}),
          field<store_config>("password", boot, SY_AT(password), text_t{}),
          field<store_config>("key_prefix", boot, SY_AT(key_prefix), text_t{key_prefix_problem}),
          field<store_config>("timeout", boot, SY_AT(timeout), duration_t{}),
          field<store_config>("flush_timeout", boot, SY_AT(flush_timeout), duration_t{}),
          field<store_config>("buffer_max_bytes", boot, SY_AT(buffer_max_bytes),
                              integer_t{0, 1ull << 40}),
          field<store_config>("expected_replicas", boot, SY_AT(expected_replicas),
                              integer_t{1, 10000}),
      },
      [](reader& r, const YAML::Node& n, const std::string& path, store_config& c) {
        if (c.type == "redis") {
          if (c.url.empty()) {
            r.fail(n, reader::join(path, "url"), "is required when type is redis");
          } else if (auto ep = parse_redis_url(c.url); !ep) {
            // The message names what is wrong, never the URL itself (it may hold a password).
            r.fail(n["url"] ? n["url"] : n, reader::join(path, "url"), ep.error().message);
          }
        } else if (n["url"]) {
          r.fail(n["url"], reader::join(path, "url"), "is only read when type is redis");
        }
      }};
  return s;
}

const section<limits_config>& limits_section() {
  static const section<limits_config> s{
      {
          field<limits_config>("max_body_bytes", boot, SY_AT(max_body_bytes),
                               integer_t{1, 1ull << 32}),
          field<limits_config>("max_header_bytes", boot, SY_AT(max_header_bytes),
                               integer_t{1024, 1u << 20}),
          field<limits_config>("max_event_bytes", boot, SY_AT(max_event_bytes),
                               integer_t{1024, 1u << 30}),
          field<limits_config>("max_connections_per_worker", boot,
                               SY_AT(max_connections_per_worker), integer_t{1, 1u << 24}),
          field<limits_config>("max_upstream_header_bytes", boot, SY_AT(max_upstream_header_bytes),
                               integer_t{1024, 60u * 1024}),
          field<limits_config>("max_upstream_headers", boot, SY_AT(max_upstream_headers),
                               integer_t{1, 10000}),
          field<limits_config>("max_buffered_bytes", boot, SY_AT(max_buffered_bytes),
                               integer_t{1024, 1ull << 44}),
      },
      nullptr};
  return s;
}

const section<timeouts_config>& timeouts_section() {
  static const section<timeouts_config> s{
      {
          field<timeouts_config>("idle", boot, SY_AT(idle), duration_t{}),
          field<timeouts_config>("request", boot, SY_AT(request), duration_t{}),
          field<timeouts_config>("connect", boot, SY_AT(connect), duration_t{}),
          field<timeouts_config>("first_byte", boot, SY_AT(first_byte), duration_t{}),
          field<timeouts_config>("stream_idle", boot, SY_AT(stream_idle), duration_t{}),
          field<timeouts_config>("drain", boot, SY_AT(drain), duration_t{}),
          field<timeouts_config>("drain_grace", boot, SY_AT(drain_grace), duration_t{true}),
          field<timeouts_config>("resolution", boot, SY_AT(resolution), duration_t{}),
      },
      [](reader& r, const YAML::Node& n, const std::string& path, timeouts_config& t) {
        if (n["resolution"] && t.resolution > std::chrono::seconds(1)) {
          r.fail(n["resolution"], path + ".resolution", "must be at most 1s");
        }
        if (!n["drain_grace"]) {
          // The default grace fits inside a short drain budget rather than making it an error.
          t.drain_grace = std::min(t.drain_grace, t.drain);
        } else if (t.drain_grace > t.drain) {
          r.fail(n["drain_grace"], path + ".drain_grace", "must not exceed timeouts.drain");
        }
      }};
  return s;
}

const section<log_config>& log_section() {
  static const section<log_config> s{
      {
          field<log_config>("level", boot, SY_AT(level), text_t{log_level_problem}),
          field<log_config>("access", boot, SY_AT(access), text_t{}),
          field<log_config>("access_max_bytes", boot, SY_AT(access_max_bytes),
                            integer_t{4096, 1ull << 40}),
          field<log_config>("max_files", boot, SY_AT(max_files), integer_t{1, 1000}),
      },
      nullptr};
  return s;
}

const section<breaker_config>& breaker_section() {
  static const section<breaker_config> s{
      {
          field<breaker_config>("enabled", boot, SY_AT(enabled), boolean_t{}),
          field<breaker_config>("consecutive_failures", boot, SY_AT(consecutive_failures),
                                integer_t{1, 100000}),
          field<breaker_config>("failure_rate", boot, SY_AT(failure_rate), fraction_t{1}),
          field<breaker_config>("min_requests", boot, SY_AT(min_requests), integer_t{1, 1000000}),
          field<breaker_config>("window", boot, SY_AT(window), duration_t{}),
          field<breaker_config>("cooldown", boot, SY_AT(cooldown), duration_t{}),
          field<breaker_config>("max_cooldown", boot, SY_AT(max_cooldown), duration_t{}),
      },
      nullptr};
  return s;
}

const section<trace_config>& trace_section() {
  static const section<trace_config> s{
      {
          field<trace_config>("path", boot, SY_AT(path), text_t{}),
          field<trace_config>("max_bytes", boot, SY_AT(max_bytes), integer_t{4096, 1ull << 40}),
          field<trace_config>("max_files", boot, SY_AT(max_files), integer_t{1, 1000}),
          field<trace_config>("include_text", boot, SY_AT(include_text), boolean_t{}),
      },
      [](reader& r, const YAML::Node&, const std::string&, trace_config& t) {
        t.path = r.resolve(t.path);
      }};
  return s;
}

const section<price_config>& price_section() {
  static const section<price_config> s{
      {
          field<price_config>("input_per_mtok", hot, SY_AT(input_per_mtok), number_t{}),
          field<price_config>("output_per_mtok", hot, SY_AT(output_per_mtok), number_t{}),
      },
      nullptr};
  return s;
}

const section<guardrails_config>& guardrails_section() {
  static const section<guardrails_config> s{
      {
          field<guardrails_config>("max_error_rate_increase", hot, SY_AT(max_error_rate_increase),
                                   fraction_t{1}),
          field<guardrails_config>("max_p95_latency_increase", hot, SY_AT(max_p95_latency_increase),
                                   number_t{}),
          field<guardrails_config>("max_cost_increase", hot, SY_AT(max_cost_increase), number_t{}),
          field<guardrails_config>("daily_budget_usd", hot, SY_AT(daily_budget_usd), number_t{}),
          field<guardrails_config>("min_requests", hot, SY_AT(min_requests),
                                   integer_t{1, 1ull << 40}),
          field<guardrails_config>("alpha", hot, SY_AT(alpha), fraction_t{1}),
      },
      nullptr};
  return s;
}

const section<analysis_config>& analysis_section() {
  static const section<analysis_config> s{
      {
          field<analysis_config>("primary_metric", hot, SY_AT(primary_metric),
                                 text_t{metric_problem}),
          field<analysis_config>("minimum_detectable_effect", hot, SY_AT(minimum_detectable_effect),
                                 number_t{}),
          field<analysis_config>("alpha", hot, SY_AT(alpha), fraction_t{1}),
          field<analysis_config>("power", hot, SY_AT(power), fraction_t{1}),
          field<analysis_config>("min_samples", hot, SY_AT(min_samples), integer_t{2, 1ull << 40}),
          field<analysis_config>("method", hot, SY_AT(method), text_t{method_problem}),
          field<analysis_config>("planned_sample", hot, SY_AT(planned_sample),
                                 integer_t{2, 1ull << 40}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, analysis_config& a) {
        if (a.minimum_detectable_effect <= 0 || a.alpha <= 0 || a.alpha >= 1 || a.power <= 0 ||
            a.power >= 1) {
          r.fail(node, path, "minimum_detectable_effect must be > 0; alpha and power in (0, 1)");
        }
      }};
  return s;
}

const section<retry_config>& model_retry_section() {
  static const section<retry_config> s = [] {
    section<retry_config> sec;
    sec.keys = retry_keys<retry_config>([](auto& r) -> auto& { return r; });
    // The retry budget is one for the whole gateway (it bounds retries against all in-flight
    // requests), so a per-model value would silently do nothing.
    const auto budget = retry_budget_keys();
    for (std::size_t i = 0; i < budget.size(); ++i) {
      sec.keys.insert(sec.keys.begin() + static_cast<std::ptrdiff_t>(i),
                      refused<retry_config>(budget[i].name,
                                            "is gateway-wide: set it under the top-level retry"));
    }
    sec.check = [](reader& r, const YAML::Node& node, const std::string& path, retry_config& c) {
      check_cap(r, node, path, c);
    };
    return sec;
  }();
  return s;
}

const section<config>& top_level_section() {
  static const section<config> s = [] {
    section<config> sec;
    sec.keys = {
        listen_key("listen", SY_AT(listen_host), SY_AT(listen_port)),
        listen_key("admin_listen", SY_AT(admin_listen_host), SY_AT(admin_listen_port)),
        field<config>("workers", boot, SY_AT(workers), integer_t{0, 1024}),
        field<config>("admin_token", hot, SY_AT(admin_token), text_t{}),
        field<config>("api_token", hot, SY_AT(api_token), text_t{}),
        field<config>("data_dir", boot, SY_AT(data_dir), text_t{}),
        nested<config>("limits", SY_AT(limits), limits_section()),
        nested<config>("timeouts", SY_AT(timeouts), timeouts_section()),
        nested<config>("log", SY_AT(log), log_section()),
        nested<config>(
            "retry", [](auto& c) -> auto& { return c; }, top_retry_section()),
        list_of(list_key<upstream_config>("upstreams", boot, SY_AT(upstreams), read_upstream),
                upstream_section()),
        list_of(custom<config>(
                    "models", hot, "list",
                    [](reader& r, const YAML::Node& root, const std::string&, config& c) {
                      read_list(r, root, "models", c.models, read_model);
                      // A model's retry block overrides only the keys it names, on top of
                      // the global one (declared before models, so it is read by now).
                      const auto list = root["models"];
                      for (std::size_t i = 0; list && list.IsSequence() && i < c.models.size();
                           ++i) {
                        c.models[i].retry = c.retry;
                        // A scalar entry was reported by read_model; subscripting it would
                        // throw (fuzzer find).
                        if (auto m = list[i]; m.IsMap()) {
                          if (auto n = m["retry"]) {
                            model_retry_section().read(
                                r, n, "models[" + std::to_string(i) + "].retry", c.models[i].retry);
                          }
                        }
                      }
                    }),
                model_section()),
        list_of(
            list_key<rate_limit_config>("rate_limits", boot, SY_AT(rate_limits), read_rate_limit),
            rate_limit_section()),
        nested<config>("trace", SY_AT(trace), trace_section()),
        nested<config>("metrics", SY_AT(metrics), metrics_section()),
        field<config>("stats_flush", boot, SY_AT(stats_flush), duration_t{}),
        nested<config>("store", SY_AT(store), store_section()),
        nested<config>(
            "feedback", [](auto& c) -> auto& { return c; }, feedback_section()),
        list_of(custom<config>("prompts", hot, "list",
                               [](reader& r, const YAML::Node& root, const std::string&,
                                  config& c) { read_prompts(r, root, c); }),
                prompt_section()),
        list_of(custom<config>("experiments", hot, "list",
                               [](reader& r, const YAML::Node& root, const std::string&,
                                  config& c) { read_experiments(r, root, c); }),
                experiment_section()),
        alerts_key(),
        compat_key(),
        batches_key(),
        evaluations_key(),
    };
    sec.check = [](reader& r, const YAML::Node& root, const std::string&, config& c) {
      c.data_dir = r.resolve(c.data_dir);
      for (auto& u : c.upstreams) {
        u.ca_file = r.resolve(u.ca_file);
      }
      if (c.upstreams.empty()) {
        r.fail(root, "upstreams", "at least one upstream is required");
      }
      if (c.models.empty()) {
        r.fail(root, "models", "at least one model is required");
      }
    };
    return sec;
  }();
  return s;
}

}  // namespace switchyard::config_detail
