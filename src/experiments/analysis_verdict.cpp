// The verdict of the experiment report: which rule applies to the primary metric, in one
// sentence. Split from analysis.cpp, which gathers the data it reads.

#include "analysis_detail.hpp"

#include <string>

namespace switchyard::analysis_detail {

namespace {

std::string change_text(const analysis_config& a) {
  return "a " + format("%.3g", 100 * a.minimum_detectable_effect) + "% relative change";
}

verdict significant_verdict(const analysis_input& in, const experiment_data& d) {
  const auto& vs = d.vs[static_cast<std::size_t>(d.primary)];
  const metric_def& def = def_of(d.primary);
  std::optional<std::size_t> best, worst;
  auto gain = [&](std::size_t i) { return def.higher_is_better ? vs[i].diff : -vs[i].diff; };
  for (std::size_t i = 1; i < vs.size(); ++i) {
    if (!vs[i].valid || !(vs[i].p_adjusted < in.cfg->analysis.alpha) || vs[i].diff == 0) {
      continue;
    }
    if (gain(i) > 0 && (!best || gain(i) > gain(*best))) {
      best = i;
    }
    if (gain(i) < 0 && (!worst || gain(i) < gain(*worst))) {
      worst = i;
    }
  }
  if (!best && !worst) {
    return {};
  }
  const std::size_t i = best ? *best : *worst;
  const stats::comparison& c = vs[i];
  std::string text = "`" + in.cfg->variants[i].name + "` is " + (best ? "better" : "worse") +
                     " than `" + in.cfg->variants[0].name + "` on " +
                     in.cfg->analysis.primary_metric + ": " + format("%.4g", c.treatment) + " vs " +
                     format("%.4g", c.control);
  if (c.control != 0) {
    text += " (" + format("%+.3g", 100 * c.diff / c.control) + "% relative)";
  }
  const std::string level = format("%.3g", 100 * (1 - in.cfg->analysis.alpha)) + "%";
  text += d.sequential
              ? "; the always-valid " + level + " interval of the difference [" +
                    format("%.4g", c.diff_lo) + ", " + format("%.4g", c.diff_hi) + "] excludes 0"
              : "; fixed-horizon test at the planned sample";
  text += ", Holm-adjusted p = " + format("%.2g", c.p_adjusted) + ".";
  return {best ? "variant_better" : "variant_worse", in.cfg->variants[i].name, text};
}

}  // namespace

verdict judge(const analysis_input& in, const experiment_data& d) {
  const analysis_config& a = in.cfg->analysis;
  const std::string& name = a.primary_metric;
  if (d.arms.empty()) {
    return {"collecting", "", "The experiment has no variants."};
  }
  for (std::size_t i = 0; i < d.arms.size(); ++i) {
    const double n = sample_n(d.primary, d.arms[i]);
    if (n < as_double(a.min_samples)) {
      return {"collecting", "",
              "Collecting data: `" + in.cfg->variants[i].name + "` has " + format("%.0f", n) +
                  " of the " + std::to_string(a.min_samples) + " samples on " + name +
                  " needed before any verdict."};
    }
  }
  if (d.srm.mismatch) {
    const std::string test =
        "chi2 = " + format("%.4g", d.srm.chi2) + ", p = " + format("%.2g", d.srm.p_value);
    return {"sample_ratio_mismatch", "",
            "Sample ratio mismatch: the " + d.srm_basis + " per variant do not match the " +
                "phase's weights (" + test + "), so the results are not trustworthy."};
  }
  const bool reached = d.planned && d.have_min >= *d.planned;
  if (!d.sequential && !reached) {
    // A fixed-horizon p-value is valid at one look, at the planned sample; before it, it is
    // not a decision, however small.
    return {"collecting", "",
            d.planned ? "Fixed-horizon test: the verdict waits for the planned " +
                            format("%.0f", *d.planned) + " samples per variant on " + name +
                            " (about " + format("%.0f", *d.planned - d.have_min) +
                            " more); p-values before then are not a decision."
                      : "Fixed-horizon test: the control's baseline does not allow estimating "
                        "the planned sample; set analysis.planned_sample."};
  }
  if (verdict v = significant_verdict(in, d); !v.state.empty()) {
    return v;
  }
  if (reached) {
    return {"no_detectable_difference", "",
            "No detectable difference on " + name + ": every variant has the planned " +
                format("%.0f", *d.planned) + " samples (enough to detect " + change_text(a) + ")."};
  }
  if (d.planned) {
    return {"collecting", "",
            "No difference on " + name + " yet (the always-valid interval still holds 0): " +
                "about " + format("%.0f", *d.planned - d.have_min) +
                " more samples per variant are planned, to detect " + change_text(a) + "."};
  }
  return {"collecting", "",
          "No difference on " + name + " yet; the control's baseline does not allow " +
              "estimating the sample size needed."};
}

}  // namespace switchyard::analysis_detail
