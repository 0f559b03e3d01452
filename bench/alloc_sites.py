#!/usr/bin/env python3
"""Allocation sites per request from a valgrind DHAT profile (bench/PROFILE.md, "Allocations").

  valgrind --tool=dhat --dhat-out-file=dhat.json build/switchyard --config c.yaml &
  wrk ... (N requests) ; kill -TERM <pid>
  bench/alloc_sites.py dhat.json N [--top 40] [--frames 6] [--by-line]

Prints the sites whose block count is at least 0.5 per request, as blocks per request, with the
first frames of their stack that are not in the allocator or the standard library's plumbing.
--by-line instead sums every stack by its innermost frame in one of our .cpp files (file:line,
"SQLite" for the statistics flush, "asio/other" when no frame of ours is on the stack): whose
file each allocation is in.
--peak instead lists the heap live at the profile's global peak (DHAT's t-gmax), in bytes per
N (the streams of bench/stream_rss.sh): what each held stream keeps, by site.
"""
import argparse
import json
import re

# Allocator plumbing: the frames shown are the first ones after these.
SKIP = re.compile(r"new_allocator\.h|allocator\.h|alloc_traits\.h|basic_string\.(tcc|h)|stl_vector\.h|"
                  r"malloc|operator new|aligned_new|thread_info_base|recycling_allocator|"
                  r"sqlite3Malloc|_M_create|_M_allocate|_M_construct|_M_init_functor|std_function\.h")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("requests", type=float)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--by-line", action="store_true")
    ap.add_argument("--peak", action="store_true")
    a = ap.parse_args()
    d = json.load(open(a.profile))
    frames = d["ftbl"]
    if a.peak:
        rows = [(pp.get("gb", 0) / a.requests, pp.get("gbk", 0) / a.requests, pp["fs"])
                for pp in d["pps"] if pp.get("gb", 0) > 0]
        rows.sort(key=lambda r: -r[0])
        print(f"{sum(r[0] for r in rows):.0f} bytes live at the peak per unit, "
              f"{sum(r[1] for r in rows):.1f} blocks")
        for per, blocks, fs in rows[: a.top]:
            if per < 16:
                break
            names = [frames[i] for i in fs]
            shown = [n for n in names if not SKIP.search(n)][: a.frames]
            print(f"{per:8.0f} B {blocks:5.2f} blocks  " + "\n                           ".join(shown))
        return
    if a.by_line:
        ours = re.compile(r"\(([a-z_]+\.cpp):(\d+)\)")
        sums = {}
        for pp in d["pps"]:
            names = [frames[i] for i in pp["fs"]]
            if any("sqlite3" in n for n in names):
                key = "SQLite"
            else:
                hit = next((m for m in (ours.search(n) for n in names) if m), None)
                key = f"{hit.group(1)}:{hit.group(2)}" if hit else "asio/other"
            sums[key] = sums.get(key, 0) + pp["tbk"] / a.requests
        print(f"{sum(sums.values()):.1f} blocks/request in all")
        for key, per in sorted(sums.items(), key=lambda kv: -kv[1]):
            if per >= 0.3:
                print(f"{per:7.2f}  {key}")
        return
    rows = []
    for pp in d["pps"]:
        per = pp["tbk"] / a.requests
        if per >= 0.5:
            rows.append((per, pp["tb"] / a.requests, pp["fs"]))
    rows.sort(key=lambda r: -r[0])
    total = sum(r[0] for r in rows)
    print(f"sites with >= 0.5 blocks/request: {len(rows)}, {total:.1f} blocks/request in all")
    for per, bytes_per, fs in rows[: a.top]:
        names = [frames[i] for i in fs]
        shown = [n for n in names if not SKIP.search(n)][: a.frames]
        print(f"\n{per:6.2f}/req {bytes_per:8.0f} B/req")
        for n in shown:
            print("    " + n[:220])


if __name__ == "__main__":
    main()
