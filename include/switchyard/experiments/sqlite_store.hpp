#pragma once

#include "switchyard/experiments/store.hpp"

#include <memory>
#include <string>

namespace switchyard {

/// Opens the embedded experiment store `dir/switchyard.db`, creating `dir` and the database (schema
/// version 3 in `PRAGMA user_version`; version 1 and 2 databases are upgraded in place) if needed.
/// SQLite in WAL mode with `synchronous=NORMAL` (a power loss may lose the last commits, never
/// corrupt) and a 5 s busy timeout (another process, e.g. the sqlite3 shell, holding the lock).
/// Fails with a clear error when the database has a newer schema than this build, or `merge` is
/// empty.
///
/// Thread-safe: one connection guarded by a mutex (calls are off the request path; each is short).
result<std::unique_ptr<experiment_store>> open_sqlite_store(const std::string& dir,
                                                            sketch_merge merge);

}  // namespace switchyard
