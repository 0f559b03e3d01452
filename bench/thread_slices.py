#!/usr/bin/env python3
"""Run slices and scheduling delays per thread name, from `perf sched timehist` output.

  perf sched timehist -i sched.data > th.txt
  bench/thread_slices.py th.txt [name...]

For each thread name (default: the gateway's worker and background threads, and the
benchmark's other processes), prints how many times it ran, its run slices (p50 / p99 / max,
ms: how long it kept a CPU once running) and its scheduling delays (p99 / p99.9 / max, ms: how
long it waited, runnable, for a CPU). On one shared CPU (bench/c1_tail.sh), a background
thread's longest slices are what a request may wait behind (bench/PROFILE.md).
"""
import re
import sys
from collections import defaultdict

# time  [cpu]  task[tid/pid]  wait  sch-delay  run  (ms), as bench/sched_blame.py reads it
LINE = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.+?)\[(\d+)(?:/\d+)?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")
DEFAULT = ["sy-worker-0", "sy-stats-flush", "sy-access-log", "nginx", "wrk"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    names = sys.argv[2:] or DEFAULT
    runs = defaultdict(list)
    delays = defaultdict(list)
    with open(sys.argv[1]) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                name = m.group(3).strip()
                delays[name].append(float(m.group(6)))
                runs[name].append(float(m.group(7)))
    print(f"{'thread':16} {'slices':>8} {'run p50':>8} {'p99':>7} {'max':>7} | "
          f"{'delay p99':>9} {'p99.9':>7} {'max':>7}   (ms)")
    for name in names:
        r, d = runs.get(name), delays.get(name)
        if not r:
            print(f"{name:16} {'-':>8}")
            continue
        print(f"{name:16} {len(r):8} {pct(r, .5):8.3f} {pct(r, .99):7.3f} {max(r):7.3f} | "
              f"{pct(d, .99):9.3f} {pct(d, .999):7.3f} {max(d):7.3f}")


if __name__ == "__main__":
    main()
