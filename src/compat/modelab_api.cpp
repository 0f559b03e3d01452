#include "switchyard/compat/modelab_api.hpp"

#include "switchyard/compat/modelab_report.hpp"
#include "switchyard/core/text.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <charconv>

namespace switchyard {

namespace {

namespace json = boost::json;

modelab_reply detail(unsigned status, std::string message) {
  return {status, json::serialize(json::object{{"detail", std::move(message)}})};
}

modelab_reply ok(const json::value& v) {
  return {200, json::serialize(v)};
}

// The store failed: logged with SQLite's words, answered without them (a path is no client's
// business).
modelab_reply store_failure(const error& e) {
  spdlog::error("modelab: {}", e.message);
  return detail(500, "The modelab store could not be read or written; try again.");
}

// The designed weights of a flag, when an experiment hashes like modelab under its name.
modelab_analysis_options options_for(const hot_config& cfg, std::string_view flag) {
  modelab_analysis_options opt;
  for (const auto& e : cfg.experiments) {
    if (e.hash == "modelab" && e.seed == flag) {
      for (const auto& v : e.variants) {
        opt.weights.emplace_back(v.name, v.weight);
      }
      break;
    }
  }
  return opt;
}

}  // namespace

std::optional<modelab_reply> modelab_refusal(const modelab_config& cfg, const modelab_store* store,
                                             std::string_view x_api_key) {
  if (!cfg.enabled) {
    return detail(404, "Not Found");
  }
  if (!cfg.api_key.empty() && !same_secret(x_api_key, cfg.api_key)) {
    return detail(401, "Invalid or missing API key (X-API-Key)");
  }
  if (store == nullptr) {
    return detail(503, "The modelab store is not open; see the gateway's log.");
  }
  return std::nullopt;
}

modelab_reply modelab_ingest(modelab_store& store, const modelab_config& cfg, modelab_kind kind,
                             std::string_view body, std::int64_t now_unix) {
  if (body.size() > cfg.max_body_bytes) {
    return detail(413, "The body has " + std::to_string(body.size()) + " bytes; at most " +
                           std::to_string(cfg.max_body_bytes) +
                           " are accepted per request (compat.modelab.max_body_bytes). Send "
                           "smaller batches.");
  }
  auto batch =
      parse_modelab_batch(kind, body, {cfg.max_batch_records, cfg.max_string_bytes}, now_unix);
  if (!batch) {
    return detail(batch.error().code == errc::body_too_large ? 413 : 400, batch.error().message);
  }
  const auto received = batch->assignments.size() + batch->executions.size() + batch->events.size();
  auto n = store.add(*batch, now_unix);
  if (!n) {
    return store_failure(n.error());  // the SDK drops a failed flush: make it loud
  }
  return ok(json::object{{"status", "ok"},
                         {"received", received},
                         {"accepted", n->accepted},
                         {"duplicates", n->duplicates},
                         {"orphans", n->orphans}});
}

modelab_reply modelab_flags(modelab_store& store, const hot_config& cfg) {
  auto names = store.flags();
  if (!names) {
    return store_failure(names.error());
  }
  json::array out;
  for (const auto& name : *names) {
    auto f = store.flag(name);
    if (!f) {
      return store_failure(f.error());
    }
    out.push_back(modelab_flag_summary_json(*f, options_for(cfg, name)));
  }
  return ok(out);
}

modelab_reply modelab_flag(modelab_store& store, const hot_config& cfg, std::string_view name) {
  auto f = store.flag(name);
  if (!f) {
    return store_failure(f.error());
  }
  if (f->variants.empty()) {
    return detail(404, "Flag not found: no assignments were ingested for " + std::string(name));
  }
  auto orphans = store.orphans();
  if (!orphans) {
    return store_failure(orphans.error());
  }
  auto report = modelab_flag_json(*f, options_for(cfg, name));
  report["switchyard"].as_object()["orphans"] =
      json::object{{"executions", orphans->executions}, {"events", orphans->events}};
  return ok(report);
}

modelab_reply modelab_timeline(modelab_store& store, std::string_view name,
                               std::optional<std::string> bucket_seconds) {
  std::int64_t bucket = 3600;
  if (bucket_seconds && !bucket_seconds->empty()) {
    const auto& t = *bucket_seconds;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), bucket);
    if (ec != std::errc{} || ptr != t.data() + t.size() || bucket < 60 || bucket > 31'622'400) {
      return detail(400, "bucket_seconds must be an integer from 60 to 31622400 (366 days)");
    }
  }
  auto f = store.flag(name);
  if (!f) {
    return store_failure(f.error());
  }
  if (f->variants.empty()) {
    return detail(404, "Flag not found: no assignments were ingested for " + std::string(name));
  }
  auto buckets = store.timeline(name, bucket);
  if (!buckets) {
    return store_failure(buckets.error());
  }
  return ok(modelab_timeline_json(name, *buckets, bucket));
}

result<json::array> modelab_experiments(modelab_store* store, const hot_config& cfg) {
  json::array out;
  if (store == nullptr || !cfg.compat.modelab.enabled) {
    return out;
  }
  auto names = store->flags();
  if (!names) {
    return names.error();
  }
  for (const auto& name : *names) {
    auto f = store->flag(name);
    if (!f) {
      return f.error();
    }
    out.push_back(modelab_experiment_json(*f, options_for(cfg, name)));
  }
  return out;
}

}  // namespace switchyard
