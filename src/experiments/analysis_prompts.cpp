#include "switchyard/experiments/analysis.hpp"

#include "analysis_detail.hpp"
#include "switchyard/experiments/prompt_template.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace switchyard {
namespace {

using namespace analysis_detail;

// ---- timeline ----

// Buckets are whole hours (rows are hourly), at most a leap year so the arithmetic cannot overflow.
std::int64_t effective_bucket(std::int64_t seconds) {
  constexpr std::int64_t hour = 3600, most = 366 * 24 * hour;
  return (std::clamp(seconds, hour, most) + hour - 1) / hour * hour;
}

std::int64_t bucket_start(std::int64_t t, std::int64_t bucket) {
  const std::int64_t q = t / bucket - (t % bucket < 0 ? 1 : 0);  // floor, also before 1970
  return q * bucket;
}

json::object timeline_cell(const totals& t) {
  return {{"requests", t.requests},
          {"errors", t.errors},
          {"latency_ms_mean", mean_of(t.latency_ms)},
          {"ttft_ms_mean", mean_of(t.ttft_ms)},
          {"cost_usd", num(t.cost_usd.sum)},
          {"input_tokens", whole(t.input_tokens.sum)},
          {"output_tokens", whole(t.output_tokens.sum)},
          {"feedback_success", whole(t.success)},
          {"feedback_failure", whole(t.failure)}};
}

// ---- prompts ----

const prompt_version_config* find_version(const prompt_config& p, std::string_view version) {
  for (const prompt_version_config& v : p.versions) {
    if (v.version == version) {
      return &v;
    }
  }
  return nullptr;
}

totals version_totals(const prompt_input& in, std::string_view version) {
  const std::string ref = in.cfg->name + "@" + std::string(version);
  totals t;
  for (const variant_hour_stats& r : in.rows) {
    if (r.prompt_version == ref) {
      t.add(r);
    }
  }
  for (const feedback_summary& f : in.feedback) {
    if (f.prompt_version == ref) {
      t.add(f);
    }
  }
  return t;
}

// `v` is null for a version seen in the data but no longer configured.
json::object version_json(const prompt_input& in, const std::string& version,
                          const prompt_version_config* v, const totals& t) {
  const auto hash = in.hashes.find(version);
  json::array variables;
  if (const auto it = in.variables.find(version); it != in.variables.end()) {
    for (const std::string& name : it->second) {
      variables.push_back(json::value(name));
    }
  }
  const json::object feedback = feedback_json(t);
  return {{"version", version},
          {"hash", hash == in.hashes.end() ? json::value(nullptr) : json::value(hash->second)},
          {"mode", v ? json::value(v->replace_system ? "replace" : "prepend") : nullptr},
          {"variables", std::move(variables)},
          {"file", v ? text_or_null(v->file) : nullptr},
          {"calls", t.requests},
          {"errors", t.errors},
          {"error_rate", ratio(as_double(t.errors), as_double(t.requests))},
          {"latency_ms", spread_json(t.latency_ms, t.latency)},
          {"cost_usd", {{"total", num(t.cost_usd.sum)}, {"mean_per_call", mean_of(t.cost_usd)}}},
          {"input_tokens", whole(t.input_tokens.sum)},
          {"output_tokens", whole(t.output_tokens.sum)},
          {"feedback",
           {{"success_rate", feedback.at("success_rate")},
            {"score_mean", feedback.at("score_mean")},
            {"events", feedback.at("events")}}}};
}

// Versions in the data that are no longer configured, in name order.
std::set<std::string> unconfigured_versions(const prompt_input& in) {
  const std::string prefix = in.cfg->name + "@";
  std::set<std::string> out;
  const auto see = [&](const std::string& ref) {
    if (ref.starts_with(prefix) && !find_version(*in.cfg, ref.substr(prefix.size()))) {
      out.insert(ref.substr(prefix.size()));
    }
  };
  for (const variant_hour_stats& r : in.rows) {
    see(r.prompt_version);
  }
  for (const feedback_summary& f : in.feedback) {
    see(f.prompt_version);
  }
  return out;
}

}  // namespace

boost::json::object experiment_timeline(const analysis_input& in, std::int64_t bucket_seconds) {
  const std::int64_t bucket = effective_bucket(bucket_seconds);
  std::vector<std::string> names;  // configured variants first, then others as they appear
  std::set<std::string> seen;
  const auto name = [&](const std::string& v) {
    if (seen.insert(v).second) {
      names.push_back(v);
    }
  };
  if (in.cfg != nullptr) {
    for (const variant_config& v : in.cfg->variants) {
      name(v.name);
    }
  }
  std::map<std::int64_t, std::map<std::string, totals>> buckets;
  for (const variant_hour_stats& r : in.rows) {
    name(r.variant);
    buckets[bucket_start(r.hour, bucket)][r.variant].add(r, false);
  }
  for (const feedback_summary& f : in.feedback) {
    name(f.variant);
    buckets[bucket_start(f.hour, bucket)][f.variant].add(f);
  }
  json::array out;
  const totals none;
  for (const auto& [start, cells] : buckets) {
    json::object variants;
    for (const std::string& v : names) {
      const auto it = cells.find(v);
      variants[v] = timeline_cell(it == cells.end() ? none : it->second);
    }
    out.push_back(json::object{
        {"start", start}, {"start_iso", iso_utc(start)}, {"variants", std::move(variants)}});
  }
  return {{"bucket_seconds", bucket}, {"buckets", std::move(out)}};
}

boost::json::object prompt_report(const prompt_input& in) {
  if (in.cfg == nullptr) {
    return {};
  }
  json::array versions;
  for (const prompt_version_config& v : in.cfg->versions) {
    versions.push_back(version_json(in, v.version, &v, version_totals(in, v.version)));
  }
  for (const std::string& v : unconfigured_versions(in)) {
    versions.push_back(version_json(in, v, nullptr, version_totals(in, v)));
  }
  return {{"name", in.cfg->name}, {"versions", std::move(versions)}};
}

boost::json::object prompt_version_report(const prompt_input& in, std::string_view version) {
  const prompt_version_config* v = in.cfg ? find_version(*in.cfg, version) : nullptr;
  if (v == nullptr) {
    return {};
  }
  json::object o = version_json(in, v->version, v, version_totals(in, v->version));
  o["text"] = v->text;
  return o;
}

boost::json::object prompt_compare(const prompt_input& in, std::string_view a, std::string_view b) {
  const prompt_version_config* va = in.cfg ? find_version(*in.cfg, a) : nullptr;
  const prompt_version_config* vb = in.cfg ? find_version(*in.cfg, b) : nullptr;
  if (va == nullptr || vb == nullptr) {
    return {};
  }
  const totals ta = version_totals(in, a);
  const totals tb = version_totals(in, b);
  constexpr double alpha = 0.05;  // prompts carry no analysis config; the conventional level
  json::object vs;
  for (metric m : {metric::error_rate, metric::success_rate, metric::latency_ms, metric::cost_usd,
                   metric::score}) {
    vs[def_of(m).key] = comparison_json(m, compare(m, ta, tb, alpha), ta, tb, alpha);
  }
  const std::string name = in.cfg->name + "@";
  return {{"a", version_json(in, va->version, va, ta)},
          {"b", version_json(in, vb->version, vb, tb)},
          {"diff", unified_diff(va->text, vb->text, name + va->version, name + vb->version)},
          {"vs", std::move(vs)}};
}

}  // namespace switchyard
