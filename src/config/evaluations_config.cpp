// The `evaluations:` section (docs/evaluations.md): the judge and embedding models, concurrency,
// deadlines, the default gate and the bounds of golden-dataset evaluations. Hot keys: every
// evaluation resolves its settings against the snapshot it starts with. The two model keys are
// checked against `models:` and their upstreams' APIs here, so that --check-config (and a
// reload) refuses a judge that no route serves rather than the first evaluation that needs it.
#include "schema.hpp"
#include "yaml_reader.hpp"

#include <algorithm>

namespace switchyard::config_detail {

namespace {

constexpr applies hot = applies::on_reload;

const section<evaluations_config>& evaluations_section() {
  static const section<evaluations_config> s{
      {
          field<evaluations_config>("judge_model", hot, SY_AT(judge_model), text_t{}),
          field<evaluations_config>("embedding_model", hot, SY_AT(embedding_model), text_t{}),
          // 64: the runner's own ceiling (one connection per slot on its private io_context).
          field<evaluations_config>("concurrency", hot, SY_AT(concurrency), integer_t{1, 64}),
          field<evaluations_config>("max_concurrency", hot, SY_AT(max_concurrency),
                                    integer_t{1, 64}),
          field<evaluations_config>("request_timeout", hot, SY_AT(request_timeout), duration_t{}),
          field<evaluations_config>("min_pass_rate", hot, SY_AT(min_pass_rate), fraction_t{1}),
          field<evaluations_config>("max_cases", hot, SY_AT(max_cases), integer_t{1, 1'000'000}),
          field<evaluations_config>("max_running", hot, SY_AT(max_running), integer_t{1, 64}),
          field<evaluations_config>("keep", hot, SY_AT(keep), integer_t{1, 10'000'000}),
          field<evaluations_config>("rate_limit_waits", hot, SY_AT(rate_limit_waits),
                                    integer_t{0, 100}),
          field<evaluations_config>("rate_limit_max_wait", hot, SY_AT(rate_limit_max_wait),
                                    duration_t{}),
          field<evaluations_config>("max_response_bytes", hot, SY_AT(max_response_bytes),
                                    integer_t{1024, 1ull << 30}),
      },
      [](reader& r, const YAML::Node& node, const std::string& path, evaluations_config& e) {
        if (e.concurrency > e.max_concurrency) {
          r.fail(node["concurrency"] ? node["concurrency"] : node, path + ".concurrency",
                 "must be ≤ max_concurrency (" + std::to_string(e.max_concurrency) +
                     "); lower it or raise max_concurrency");
        }
      }};
  return s;
}

std::string model_names(const config& c) {
  std::string s;
  for (const auto& m : c.models) {
    s += (s.empty() ? "" : ", ") + m.name;
  }
  return s.empty() ? "none" : s;
}

std::string api_names(api_set set) {
  std::string s;
  for (auto a : {api_kind::chat, api_kind::completions, api_kind::embeddings, api_kind::responses,
                 api_kind::messages}) {
    if (serves(set, a)) {
      s += (s.empty() ? "" : ", ") + std::string(api_name(a));
    }
  }
  return s;
}

// `key` names a model the gateway routes, and the upstream it routes to speaks what the
// evaluation sends: chat completions for the judge (Anthropic Messages too: the gateway
// translates), embeddings for `similar` (never translated). Upstreams are matched by name: the
// loader resolves models' upstream indexes only after every section was read.
void check_model(reader& r, const YAML::Node& node, const config& c, const char* key,
                 bool embeddings) {
  const std::string& name = embeddings ? c.evaluations.embedding_model : c.evaluations.judge_model;
  if (name.empty()) {
    return;
  }
  const YAML::Node at = node[key] ? node[key] : node;
  const std::string path = std::string("evaluations.") + key;
  const model_config* m = c.find_model(name);
  if (m == nullptr) {
    // A request for an experiment's match model is routed too (to the experiment's variants).
    const bool matched =
        std::any_of(c.experiments.begin(), c.experiments.end(), [&](const experiment_config& e) {
          return !e.match_model.empty() && e.match_model == name;
        });
    if (!matched) {
      r.fail(at, path,
             "no route serves `" + name + "`: write the name of one of models: (" + model_names(c) +
                 ")" +
                 (embeddings ? ", one whose upstream serves embeddings"
                             : ", or an experiment's match.model"));
    }
    return;
  }
  const auto up = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                               [&](const upstream_config& u) { return u.name == m->upstream; });
  if (up == c.upstreams.end()) {
    return;  // models[].upstream reports it
  }
  const bool ok = embeddings
                      ? serves(up->apis, api_kind::embeddings)
                      : serves(up->apis, api_kind::chat) || serves(up->apis, api_kind::messages);
  if (!ok) {
    r.fail(at, path,
           "model `" + name + "` routes to upstream `" + up->name +
               "` (apis: " + api_names(up->apis) + "), which does not serve " +
               (embeddings ? "embeddings: name a model whose upstream has embeddings in its apis"
                           : "chat completions: name a chat model"));
  }
}

}  // namespace

key<config> evaluations_key() {
  key<config> k =
      custom<config>("evaluations", hot, "section",
                     [](reader& r, const YAML::Node& root, const std::string&, config& c) {
                       if (auto n = root["evaluations"]) {
                         evaluations_section().read(r, n, "evaluations", c.evaluations);
                         if (n.IsMap()) {
                           check_model(r, n, c, "judge_model", false);
                           check_model(r, n, c, "embedding_model", true);
                         }
                       }
                     });
  k.children = evaluations_section().describe("");
  return k;
}

}  // namespace switchyard::config_detail
