#pragma once

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/experiments/store.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// The content of one prompt version, as the API writes it (docs/prompt-registry.md).
struct prompt_version_spec {
  std::string name, version;
  std::string text;                    // the template
  std::string mode = "prepend";        // prepend | replace
  std::vector<std::string> variables;  // the template's placeholders, sorted
  std::map<std::string, std::string, std::less<>> defaults;
  bool operator==(const prompt_version_spec&) const = default;
};

/// Reads and validates a version from a JSON object with `template` (required), `version`
/// (required unless `version` is given, then the body's must be absent or equal), `variables`
/// (optional; when given, exactly the template's placeholders), `defaults` (object of strings,
/// each naming a placeholder) and `mode`. Errors are errc::invalid_request with `param` the
/// member at fault.
result<prompt_version_spec> parse_version_spec(std::string_view name, const boost::json::object& o,
                                               std::string_view version = "");

/// The canonical form the hash is computed over: compact JSON with the members `defaults` (keys
/// sorted), `mode`, `template`, `variables` (sorted) in that order; the name and the version are
/// not part of it, so equal content under two versions has one hash.
std::string canonical_form(const prompt_version_spec& s);

/// "sha256:" + hex of SHA-256(canonical_form(s)).
std::string version_hash(const prompt_version_spec& s);

/// The spec of a version in the hot config (a config-defined or merged registry one).
prompt_version_spec spec_of(const prompt_config& p, const prompt_version_config& v);

/// The store record of `s` created at `unix_seconds`.
stored_prompt_version record_of(const prompt_version_spec& s, std::int64_t unix_seconds);

/// A stored record read back as a spec; an error when its body is malformed or no longer hashes
/// to its hash (a store edited by hand).
result<prompt_version_spec> spec_of(const stored_prompt_version& r);

/// `file` with the registry's prompts appended (in_registry = true, versions in creation order)
/// and every registry_prompt_ref checked: a ref that neither resolves is an errc::invalid_request
/// error naming its key path and line. Registry prompts whose name the file also defines are
/// shadowed by the file (and reported in `shadowed`, for a warning).
result<std::shared_ptr<const hot_config>> merge_registry(
    const hot_config& file, const std::vector<stored_prompt_version>& registry,
    std::vector<std::string>* shadowed = nullptr);

/// What an import would write.
struct import_plan {
  std::vector<stored_prompt_version> to_write;
  std::size_t unchanged = 0;  // versions already present with the same hash
};

/// Checks an export document (see export_document) against what exists: a version already
/// present (in the config file or the store) with the same hash is unchanged; with another hash,
/// or given twice in the document with two hashes, it is an errc::conflict naming it; a version
/// whose `hash` member does not match its content is an errc::invalid_request; a new version of a
/// config-defined prompt is an errc::conflict (the config file owns it). No error: every new
/// version, to be written in one all-or-nothing store call.
result<import_plan> plan_import(const boost::json::value& doc, const hot_config& current,
                                std::int64_t now_unix);

/// Every prompt of `current` (config and registry) with its versions, as one document:
/// {"format": "switchyard.prompts/1", "exported_at", "prompts": [{"name", "origin",
/// "versions": [{"version", "hash", "template", "variables", "defaults", "mode",
/// "created_at"}]}]}.
boost::json::object export_document(const hot_config& current, std::int64_t now_unix);

/// Where the variants of `cfg` use `name@version` (any version when `version` is empty), as
/// "experiment/variant" strings; empty when nothing does.
std::vector<std::string> prompt_users(const hot_config& cfg, std::string_view name,
                                      std::string_view version);

/// The writable registry: holds the config file's hot part last applied, merges the store's
/// versions into it and hands the result to `apply` (the experiment engine). Thread-safe; every
/// call does store I/O, so it runs on the admin executor.
class prompt_registry {
 public:
  using apply_fn = std::function<result<void>(std::shared_ptr<const hot_config>)>;
  using current_fn = std::function<std::shared_ptr<const hot_config>()>;

  /// `config_path` names the file in the 409 for a config-defined prompt.
  prompt_registry(experiment_store& store, std::string config_path, apply_fn apply,
                  current_fn current);

  /// Applies `file` (at start and on every reload) merged with the store's versions, through
  /// `reload` (which may rotate keys; registry writes later go through `apply`, which keeps them).
  result<void> apply_file(std::shared_ptr<const hot_config> file, const apply_fn& reload);

  /// Creates a version: errc::conflict when the prompt is config-defined or the version exists
  /// with other content; returns the stored record and whether it was new (false: the same
  /// content was posted again).
  result<std::pair<stored_prompt_version, bool>> create(const prompt_version_spec& s);

  /// Deletes a registry prompt (or one version): errc::not_found when unknown, errc::conflict
  /// when it is config-defined (naming the file and key path) or an experiment uses it.
  result<std::uint64_t> remove(std::string_view name, std::string_view version);

  /// Imports an export document (see plan_import); returns the plan that was written.
  result<import_plan> import_document(const boost::json::value& doc);

 private:
  result<void> reapply_locked(const apply_fn& apply);

  std::mutex mu_;
  experiment_store& store_;
  std::string config_path_;
  apply_fn apply_;
  current_fn current_;
  std::shared_ptr<const hot_config> file_;
};

}  // namespace switchyard
