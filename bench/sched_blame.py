#!/usr/bin/env python3
"""Who delays the gateway's worker (bench/PROFILE.md, "the c=1 p99 tail").

  perf sched record -o sched.data -- sleep 6    (during a c=1 run, everything on one CPU)
  perf sched timehist -i sched.data --cpu 1 > timehist.txt
  bench/sched_blame.py timehist.txt [--task switchyard] [--min-us 50]

For every time the worker (threads whose name is --task) is switched in after waiting for the
CPU ("sch delay": woken, runnable, not running), finds the tasks that ran on that CPU in the
meantime and charges the overlap to them. Prints the distribution of the worker's scheduling
delays and, for the delays above --min-us, the time charged per task name: what the worker
waited for. Tasks are grouped by name without their thread ids.
"""
import argparse
import re
from collections import defaultdict

LINE = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.+?)\[(\d+)(?:/\d+)?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("timehist")
    ap.add_argument("--task", default="switchyard")
    ap.add_argument("--min-us", type=float, default=50)
    a = ap.parse_args()
    runs = []  # (start, end, name) per CPU slice, in order
    worker = []  # (switch-in time, sch delay) of the worker
    for line in open(a.timehist):
        m = LINE.match(line)
        if not m:
            continue
        end = float(m.group(1))
        name = m.group(3).strip()
        delay = float(m.group(6)) / 1e3
        run = float(m.group(7)) / 1e3
        start = end - run
        runs.append((start, end, name))
        if name == a.task:
            worker.append((start, delay))
    delays = sorted(d * 1e6 for _, d in worker)
    if not delays:
        print("no slices of", a.task)
        return
    pct = lambda p: delays[min(len(delays) - 1, int(p / 100 * len(delays)))]
    print(f"{a.task}: {len(delays)} switch-ins; scheduling delay p50 {pct(50):.0f} us, p90 {pct(90):.0f}, "
          f"p99 {pct(99):.0f}, p99.9 {pct(99.9):.0f}, max {delays[-1]:.0f}")
    blame = defaultdict(float)
    count = defaultdict(int)
    big = 0
    j = 0
    runs.sort()
    for t_in, d in sorted(worker):
        if d * 1e6 < a.min_us:
            continue
        big += 1
        w0 = t_in - d
        while j < len(runs) and runs[j][1] < w0 - 0.1:
            j += 1
        k = j
        seen = set()
        while k < len(runs) and runs[k][0] < t_in:
            s, e, name = runs[k]
            ov = min(e, t_in) - max(s, w0)
            if ov > 0 and name != a.task:
                blame[name] += ov
                seen.add(name)
            k += 1
        for name in seen:
            count[name] += 1
    total = sum(blame.values())
    print(f"{big} delays above {a.min_us:.0f} us; time the worker waited, by what ran instead:")
    for name, t in sorted(blame.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {name:24s} {t * 1e3:9.1f} ms  {100 * t / total:5.1f} %  in {count[name]} of the delays")


if __name__ == "__main__":
    main()
