#include "switchyard/experiments/plan.hpp"

#include "switchyard/experiments/modelab_hash.hpp"
#include "switchyard/experiments/prompt_template.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace switchyard {

const experiment_plan* plan::find(std::string_view name) const noexcept {
  for (const auto& e : experiments) {
    if (e.cfg->name == name) {
      return &e;
    }
  }
  return nullptr;
}

const prompt_plan* plan::find_prompt(std::string_view ref) const noexcept {
  for (const auto& p : prompts) {
    if (p.ref == ref) {
      return &p;
    }
  }
  return nullptr;
}

namespace {

// hash: modelab: the configured integer weights (an operator's weight control, a fraction, is
// scaled to integers out of 10,000 — modelab's bucket count, so no bucket is lost to rounding).
void set_modelab(experiment_plan& ep, const experiment_config& e,
                 const std::vector<double>& weights) {
  ep.modelab = true;
  ep.modelab_threshold = modelab_threshold(e.rollout_pct);
  const bool integral =
      std::all_of(weights.begin(), weights.end(), [](double w) { return w == std::floor(w); });
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  for (const double w : weights) {
    const double scaled = integral || total <= 0 ? w : std::round(w / total * modelab_buckets);
    ep.modelab_weights.push_back(static_cast<std::uint64_t>(scaled));
  }
}

// modelab's SDK assignment with the experiment's seed as modelab's flag name.
assignment_result modelab_unit(const experiment_plan& e, std::string_view id) {
  std::uint32_t bucket = 0;
  const int v = modelab_assign(e.cfg->seed, id, e.modelab_threshold, e.modelab_weights, &bucket);
  return {v, static_cast<double>(bucket) / modelab_buckets};
}

const experiment_control* control_for(const std::vector<experiment_control>& controls,
                                      std::string_view name) {
  for (const auto& c : controls) {
    if (c.experiment == name) {
      return &c;
    }
  }
  return nullptr;
}

int variant_index(const experiment_plan& e, std::string_view name) {
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    if (e.variants[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

result<feedback_claims> verify_feedback(const plan& p, std::string_view id) {
  auto claims = verify_feedback_id(id, p.feedback.current);
  if (!claims && !p.feedback.previous.empty()) {
    // Only a signature mismatch can be cured by the other key; a malformed id stays refused.
    if (auto old = verify_feedback_id(id, p.feedback.previous)) {
      return old;
    }
  }
  return claims;
}

result<std::shared_ptr<const plan>> build_plan(std::shared_ptr<const hot_config> cfg,
                                               const std::vector<experiment_control>& controls,
                                               std::uint64_t generation,
                                               const std::map<std::string, std::int64_t>& phases,
                                               signing_keys keys) {
  auto p = std::make_shared<plan>();
  p->cfg = cfg;
  p->feedback = std::move(keys);
  p->generation = generation;
  std::size_t versions = 0;
  for (const auto& pr : cfg->prompts) {
    versions += pr.versions.size();
  }
  p->prompts.reserve(versions);  // variants point into it
  for (std::size_t i = 0; i < cfg->prompts.size(); ++i) {
    const auto& pr = cfg->prompts[i];
    for (std::size_t j = 0; j < pr.versions.size(); ++j) {
      const auto& v = pr.versions[j];
      auto tmpl = prompt_template::parse(v.text);
      if (!tmpl) {
        return make_error(errc::invalid_request, "prompts[" + std::to_string(i) + "].versions[" +
                                                     std::to_string(j) +
                                                     "]: " + tmpl.error().message);
      }
      p->prompts.push_back({pr.name + "@" + v.version, content_hash(v.text), &v, std::move(*tmpl)});
    }
  }
  for (const auto& e : cfg->experiments) {
    experiment_plan ep;
    ep.cfg = &e;
    ep.status = e.status;
    if (const auto it = phases.find(e.name); it != phases.end()) {
      ep.phase = it->second;
    }
    const experiment_control* ctl = control_for(controls, e.name);
    if (ctl && !ctl->status.empty()) {
      ep.status = ctl->status;
    }
    std::vector<double> weights;
    for (std::size_t i = 0; i < e.variants.size(); ++i) {
      const auto& v = e.variants[i];
      variant_plan vp;
      vp.name = v.name;
      vp.model = cfg->find_model(v.model.empty() ? e.match_model : v.model);
      vp.prompt = v.prompt.empty() ? nullptr : p->find_prompt(v.prompt);
      vp.params = v.params;
      vp.weight = v.weight;
      if (ctl && ctl->weights.size() == e.variants.size()) {
        vp.weight = ctl->weights[i];
      }
      if (ctl) {
        vp.paused = std::find(ctl->paused_variants.begin(), ctl->paused_variants.end(), v.name) !=
                    ctl->paused_variants.end();
      }
      weights.push_back(vp.weight);
      ep.variants.push_back(std::move(vp));
    }
    if (e.hash == "modelab") {
      set_modelab(ep, e, weights);  // before normalising: modelab's weights are integers
    }
    // Our weights need not sum to 1; GrowthBook's bucket ranges expect them to.
    double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      weights[i] = total > 0 ? weights[i] / total : 1.0 / static_cast<double>(weights.size());
      ep.variants[i].weight = weights[i];
    }
    ep.ranges = bucket_ranges(weights.size(), e.coverage, weights);
    std::string winner = ctl && !ctl->winner.empty() ? ctl->winner : e.winner;
    ep.winner = variant_index(ep, winner);
    if (ep.status == "concluded" && ep.winner < 0) {
      ep.status = "paused";  // a winner that no longer exists: everyone gets control
    }
    p->experiments.push_back(std::move(ep));
  }
  return std::shared_ptr<const plan>(std::move(p));
}

std::optional<phase_record> next_phase(const std::vector<phase_record>& history,
                                       const experiment_plan& e, bool resumed,
                                       std::int64_t now_unix) {
  phase_record next;
  next.experiment = e.cfg->name;
  next.start_unix = now_unix;
  for (const auto& v : e.variants) {
    next.variants.push_back(v.name);
    next.weights.push_back(v.weight);
  }
  if (history.empty()) {
    next.reason = "start";
    return next;
  }
  const phase_record& last = history.back();
  next.phase = last.phase + 1;
  const auto same_weights = [&] {
    for (std::size_t i = 0; i < next.weights.size(); ++i) {
      if (std::abs(next.weights[i] - last.weights[i]) > 1e-9) {
        return false;
      }
    }
    return true;
  };
  if (last.variants != next.variants || last.weights.size() != next.weights.size()) {
    next.reason = "variants_changed";
  } else if (!same_weights()) {
    next.reason = "weights_changed";
  } else if (resumed) {
    next.reason = "resumed";
  } else {
    return std::nullopt;
  }
  return next;
}

std::string_view decode_body_user(std::string_view raw, std::string& scratch) {
  if (raw.find('\\') == std::string_view::npos) {
    return raw;
  }
  // A real JSON parser decodes the escapes: the quoted raw text is one JSON string value.
  std::string quoted;
  quoted.reserve(raw.size() + 2);
  quoted.append(1, '"').append(raw).append(1, '"');
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(quoted, ec);
  if (ec || !v.is_string()) {
    return raw;
  }
  scratch.assign(v.get_string().data(), v.get_string().size());
  return scratch;
}

namespace {

std::string_view unit_id(const experiment_config& e, const request_view& r, std::string& scratch) {
  switch (e.unit_type) {
    case unit_kind::header:
      return r.header(e.unit_header);
    case unit_kind::body_user:
      return decode_body_user(r.body_user, scratch);
    case unit_kind::api_key:
      return r.api_key;
    case unit_kind::request:
      scratch = std::to_string(r.random01);
      return scratch;
  }
  return {};
}

bool matches(const experiment_config& e, const request_view& r) {
  if (e.match_model != r.model) {
    return false;
  }
  if (!e.match_endpoint.empty() && e.match_endpoint != r.endpoint) {
    return false;
  }
  if (!e.match_header.empty()) {
    auto v = r.header(e.match_header);
    if (v.empty() || (!e.match_header_value.empty() && v != e.match_header_value)) {
      return false;
    }
  }
  return true;
}

// `x-switchyard-variant: tone=treatment` → the variant, when this experiment allows it (or the
// request is this process's own evaluation).
const variant_plan* forced(const experiment_plan& e, std::string_view header, bool eval) {
  if ((!e.cfg->allow_override && !eval) || header.empty()) {
    return nullptr;
  }
  const auto& name = e.cfg->name;
  // Several overrides may be given, separated by commas.
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      int i = variant_index(e, item.substr(name.size() + 1));
      return i >= 0 ? &e.variants[static_cast<std::size_t>(i)] : nullptr;
    }
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
  }
  return nullptr;
}

}  // namespace

assignment assign(const plan& p, const request_view& r) {
  assignment out;
  const experiment_plan* fallback = nullptr;  // the first matching experiment, for defaults
  for (const auto& e : p.experiments) {
    if (!matches(*e.cfg, r)) {
      continue;
    }
    if (!fallback) {
      fallback = &e;
    }
    if (const auto* v = forced(e, r.override_header, r.eval)) {
      out.experiment = &e;
      out.variant = v;
      out.reason = "override";  // a QA request: not randomised, not counted
      return out;
    }
    if (e.status == "paused") {
      out.experiment = &e;
      out.variant = &e.variants[0];
      out.reason = "paused";
      return out;
    }
    if (e.status == "concluded") {
      out.experiment = &e;
      out.variant = &e.variants[static_cast<std::size_t>(e.winner)];
      out.reason = "concluded";
      return out;
    }
    std::string scratch;
    auto id = unit_id(*e.cfg, r, scratch);
    if (id.empty()) {
      out.reason = "no_unit";
      break;
    }
    std::optional<std::tuple<std::string_view, double, double>> ns;
    if (!e.cfg->ns.empty()) {
      ns.emplace(e.cfg->ns, e.cfg->ns_lo, e.cfg->ns_hi);
      if (!in_namespace(id, e.cfg->ns, e.cfg->ns_lo, e.cfg->ns_hi)) {
        out.reason = "outside_namespace";
        continue;  // a mutually exclusive experiment later in the list may take the unit
      }
    }
    auto a = e.modelab ? modelab_unit(e, id) : assign_unit(e.cfg->seed, id, e.ranges, ns);
    if (a.variant < 0) {
      out.reason = "outside_coverage";
      break;
    }
    const auto& v = e.variants[static_cast<std::size_t>(a.variant)];
    out.experiment = &e;
    if (v.paused) {
      out.variant = &e.variants[0];
      out.reason = "variant_paused";
      return out;
    }
    out.variant = &v;
    out.counted = true;
    out.reason = "assigned";
    out.unit_fingerprint = unit_fingerprint(e.cfg->seed, id);
    return out;
  }
  // Not in any experiment: a model that exists only through experiments behaves as its first
  // experiment's control, without a label (what users got before the experiment).
  if (fallback && !p.cfg->find_model(r.model)) {
    out.variant = &fallback->variants[0];
  }
  if (out.reason.empty() && fallback) {
    out.reason = "outside_namespace";
  }
  return out;
}

}  // namespace switchyard
