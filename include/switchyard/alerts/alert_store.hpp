#pragma once

#include "switchyard/alerts/rules.hpp"
#include "switchyard/core/error.hpp"

#include <memory>
#include <string>
#include <vector>

namespace switchyard {

/// The alerts kept across restarts: one SQLite table in `data_dir/alerts.db` (the alert
/// engine's own file, beside the experiment store whatever its type), through the shared helper
/// src/experiments/sqlite_db.hpp. Thread-compatible: the engine serialises calls.
class alert_store {
 public:
  /// Opens (creating) the file and its table; an error names the file and SQLite's message.
  static result<std::unique_ptr<alert_store>> open(const std::string& path);
  ~alert_store();
  alert_store(const alert_store&) = delete;
  alert_store& operator=(const alert_store&) = delete;

  /// Every alert kept, oldest id first.
  result<std::vector<alert>> load();

  /// Inserts or replaces `a` (by id).
  result<void> save(const alert& a);

  /// Deletes the oldest resolved alerts beyond `keep` resolved ones; returns how many went.
  result<std::size_t> prune(std::size_t keep);

 private:
  struct impl;  // the connection and its prepared statements (SQLite stays out of this header)
  alert_store();
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard
