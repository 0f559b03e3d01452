#pragma once

namespace switchyard {

/// Names the calling thread (at most 15 characters are kept), for top -H, perf sched and the
/// benchmark's per-thread allocation and CPU counts. Best effort.
///
/// (Lowering the background threads' priority instead was measured and rejected: the access-log
/// writer and the statistics flush share a lock with the workers — spdlog's queue, the
/// statistics shard — so a starved low-priority holder stalls a worker: priority inversion,
/// bench/PROFILE.md "the c=1 p99 tail".)
void name_thread(const char* name) noexcept;

}  // namespace switchyard
