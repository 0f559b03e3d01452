#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/experiments/assignment.hpp"
#include "switchyard/experiments/feedback_id.hpp"
#include "switchyard/experiments/prompt_template.hpp"
#include "switchyard/experiments/store.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// A prompt version ready to render: parsed once per config snapshot.
struct prompt_plan {
  std::string ref;   // "name@version"
  std::string hash;  // content hash of the template text
  const prompt_version_config* cfg = nullptr;
  prompt_template tmpl;
};

/// One variant as requests see it.
struct variant_plan {
  std::string name;
  const model_config* model = nullptr;  // where it routes (a `models:` entry)
  const prompt_plan* prompt = nullptr;  // nullptr = the client's prompt unchanged
  std::vector<std::pair<std::string, std::string>> params;  // field → JSON text
  double weight = 0;                                        // normalised
  bool paused = false;  // by a guardrail or an operator: its units get control
};

/// One experiment with the operator's controls applied.
struct experiment_plan {
  const experiment_config* cfg = nullptr;
  std::string status;                  // running | paused | concluded
  int winner = -1;                     // variant index when concluded
  std::vector<variant_plan> variants;  // [0] is control
  std::vector<bucket_range> ranges;    // GrowthBook bucket ranges from weights and coverage
  bool modelab = false;                // hash: modelab — the two members below instead of ranges
  std::vector<std::uint64_t> modelab_weights;  // integer weights, as modelab's SDK has them
  std::uint32_t modelab_threshold = 0;         // buckets in the rollout (modelab_hash.hpp)
  std::int64_t phase = 1;  // what its statistics are recorded under (phase_record)
};

/// The keys feedback ids are signed and verified with, resolved (the configured
/// `feedback.signing_key`, or the one kept in data_dir/feedback.key when none is configured).
struct signing_keys {
  std::string current;   // new ids are signed with it
  std::string previous;  // the one before the last reload that changed it; verifies until the
                         // next reload ("" = none)
};

/// Everything a request needs to find its experiment and variant: one immutable snapshot,
/// rebuilt on reload and on every operator or guardrail change, swapped atomically.
struct plan {
  std::shared_ptr<const hot_config> cfg;  // the hot part: what a reload may change
  signing_keys feedback;
  std::vector<prompt_plan> prompts;  // stable addresses: reserved before filling
  std::vector<experiment_plan> experiments;
  std::uint64_t generation = 0;

  const experiment_plan* find(std::string_view name) const noexcept;
  const prompt_plan* find_prompt(std::string_view ref) const noexcept;
};

/// Compiles `cfg` with the stored `controls` layered on top; `phases` gives each experiment's
/// current phase by name (absent = 1), `keys` the feedback keys. Errors (a template that does not
/// parse) name the config key path.
result<std::shared_ptr<const plan>> build_plan(
    std::shared_ptr<const hot_config> cfg, const std::vector<experiment_control>& controls,
    std::uint64_t generation, const std::map<std::string, std::int64_t>& phases = {},
    signing_keys keys = {});

/// Checks a feedback id against the snapshot's current key, then (when the signature does not
/// match) its previous one.
result<feedback_claims> verify_feedback(const plan& p, std::string_view id);

/// The phase `e` starts now, if any (GrowthBook's model): the first one ("start") when `history`
/// is empty; a new one when the variants (names, in order) differ from the last phase's
/// ("variants_changed"), when the weights do ("weights_changed"), or when `resumed` — the
/// experiment runs again after a pause or a conclusion, or a paused variant (by a guardrail or
/// an operator) runs again ("resumed"). Otherwise nullopt: the last phase goes on. Pure.
std::optional<phase_record> next_phase(const std::vector<phase_record>& history,
                                       const experiment_plan& e, bool resumed,
                                       std::int64_t now_unix);

/// What the request carries that assignment may read.
struct request_view {
  std::string_view model;
  std::string_view endpoint;                                 // endpoint_label()
  std::function<std::string_view(std::string_view)> header;  // lower-case name → value or ""
  std::string_view body_user;  // the body's `user` string as raw JSON text between the quotes
  std::string_view api_key;
  std::string_view override_header;  // x-switchyard-variant
  /// An evaluation run by this process (core/eval_secret.hpp): the override applies even where
  /// the experiment does not allow client overrides, and nothing is counted.
  bool eval = false;
  double random01 = 0;  // for unit: request
};

/// The outcome of matching and assignment.
struct assignment {
  const experiment_plan* experiment = nullptr;  // labelled experiment; nullptr = none
  const variant_plan* variant = nullptr;        // what is applied (may be set without a label)
  bool counted = false;                         // randomised exposure: goes into the statistics
  std::string_view reason;                      // access log: why (not) in the experiment
  std::uint64_t unit_fingerprint = 0;
};

/// The unit id of a `body:user` string given as its raw JSON text between the quotes: the decoded
/// string (UTF-8), which is what GrowthBook's SDKs hash after JSON.parse — `"jos\u00e9"` and
/// `"josé"` are one user, as are `"a\"b"` and the string a"b. Without a backslash `raw` is
/// returned as is; otherwise the decoded text is written to `scratch` and a view of it returned.
/// Escapes that do not decode (a lone surrogate such as `\ud800`, which has no UTF-8 form) leave
/// `raw` as is.
std::string_view decode_body_user(std::string_view raw, std::string& scratch);

/// Matches the first experiment for the request and assigns a variant. Pure.
assignment assign(const plan& p, const request_view& r);

}  // namespace switchyard
