#!/usr/bin/env bash
# Heap allocations per request in bench/static.sh's scenario (full pipeline, static nginx
# upstream), two ways (bench/PROFILE.md, "Heap allocations per request"):
#
#   bench/alloc_static.sh count    allocations/request, whole process, from bench/alloc_count.cpp
#                                  (preloaded; two dumps around a c=$CONNS run of $SECS s, after a
#                                  warm-up run): the steady-state figure
#   bench/alloc_static.sh dhat     the sites: valgrind --tool=dhat over a warm-up plus a measured
#                                  run, then bench/alloc_sites.py (blocks/request of the measured
#                                  requests; one-time allocations fall below its 0.5 cut)
#
# Environment: BUILD_DIR, SWITCHYARD_BIN, ALLOC_LIB, CONNS (64 count / 4 dhat), SECS (10 / 20),
# CPU (0: gateway; the upstream and wrk on 1), OUT (the DHAT file, default $TMP/dhat.json),
# KEEP_TMP=1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
sy_bin=${SWITCHYARD_BIN:-$build/switchyard}
alloc_lib=${ALLOC_LIB:-$build/bench/liballoc_count.so}
mode=${1:-count}
cpu=${CPU:-0}
load_cpu=$((1 - cpu))
if [[ $mode == dhat ]]; then conns=${CONNS:-4}; secs=${SECS:-20}; else conns=${CONNS:-64}; secs=${SECS:-10}; fi
tmp=$(mktemp -d /tmp/switchyard-alloc.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "alloc_static.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port tries
  local i
  for ((i = 0; i < ${2:-200}; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
up_port=$(free_port)
mkdir -p "$tmp/upstream"
sed -e "/^#proxy-begin/,/^#proxy-end/d" -e "s|@DIR@|$tmp/upstream|g" -e "s|@PORT@|$up_port|g" \
  -e "s|@ROLE@|upstream|g" "$here/nginx-static.conf.in" >"$tmp/upstream/nginx.conf"
taskset -c "$load_cpu" nginx -p "$tmp/upstream" -e "$tmp/upstream/error.log" -c "$tmp/upstream/nginx.conf" &
pids+=("$!")
wait_port "$up_port"
port=$(free_port)
mkdir -p "$tmp/sy"
# The configuration of bench/static.sh (keep them in step).
cat >"$tmp/sy/switchyard.yaml" <<YAML
listen: 127.0.0.1:$port
workers: 1
data_dir: $tmp/sy/data
log: { level: warn, access: $tmp/sy/access.log }
upstreams:
  - { name: static, base_url: "http://127.0.0.1:$up_port/v1", api_key: sk-bench, max_connections: 1024 }
models:
  - { name: gpt-4o-mini, upstream: static, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
prompts:
  - name: assistant
    versions:
      - { version: v1, template: "You are a helpful assistant for {{audience}}." }
      - { version: v2, template: "Be concise.", mode: replace }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: treatment, prompt: assistant@v2, model: gpt-4o-mini, params: { temperature: 0.4 } }
rate_limits:
  - { scope: api_key, requests_per_minute: 1000000000, tokens_per_minute: 100000000000 }
YAML
url=http://127.0.0.1:$port/v1/chat/completions
kv() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
run_wrk() {  # secs out
  taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"${1}s" --timeout 30s -s "$here/static.lua" "$url" >"$2" 2>&1 || true
}
if [[ $mode == dhat ]]; then
  out=${OUT:-$tmp/dhat.json}
  taskset -c "$cpu" valgrind --tool=dhat --dhat-out-file="$out" "$sy_bin" --config "$tmp/sy/switchyard.yaml" \
    >"$tmp/sy/out" 2>"$tmp/sy/err" &
  sy=$!
  pids+=("$sy")
  wait_port "$port" 600 || { tail "$tmp/sy/err" >&2; exit 1; }
  run_wrk 5 "$tmp/warm.txt"
  run_wrk "$secs" "$tmp/run.txt"
  n=$(( $(kv "$tmp/warm.txt" requests) + $(kv "$tmp/run.txt" requests) ))
  kill -TERM "$sy"
  wait "$sy" || true
  echo "requests: warm-up $(kv "$tmp/warm.txt" requests), measured $(kv "$tmp/run.txt" requests); profile $out" >&2
  python3 "$here/alloc_sites.py" "$out" "$n" --by-line
  python3 "$here/alloc_sites.py" "$out" "$n" --top "${TOP:-60}" --frames "${FRAMES:-8}"
else
  SWITCHYARD_ALLOC_COUNT_FILE=$tmp/sy/allocs LD_PRELOAD=$alloc_lib taskset -c "$cpu" "$sy_bin" \
    --config "$tmp/sy/switchyard.yaml" >"$tmp/sy/out" 2>"$tmp/sy/err" &
  sy=$!
  pids+=("$sy")
  wait_port "$port" || { tail "$tmp/sy/err" >&2; exit 1; }
  dump() {  # out: the counts, then "comm tid=T" per thread
    rm -f "$tmp/sy/allocs"
    kill -s RTMIN+3 "$sy"
    local i t
    for ((i = 0; i < 100; i++)); do [[ -s $tmp/sy/allocs ]] && break; sleep 0.05; done
    cp "$tmp/sy/allocs" "$1"
    for t in /proc/"$sy"/task/*; do echo "comm tid=${t##*/} $(cat "$t/comm")" >>"$1"; done
  }
  run_wrk 3 "$tmp/warm.txt"
  dump "$tmp/a0"
  run_wrk "$secs" "$tmp/run.txt"
  dump "$tmp/a1"
  n=$(kv "$tmp/run.txt" requests)
  # Per thread as well: the worker's allocations are the request path's; the statistics flush
  # (SQLite, per unit and flush, not per request) and the log writer are off it.
  python3 - "$tmp/a0" "$tmp/a1" "$n" "$conns" <<'PY'
import re, sys
def read(path):
    total, threads, names = 0, {}, {}
    for line in open(path):
        m = re.match(r"total allocs=(\d+)", line)
        if m:
            total = int(m.group(1))
        m = re.match(r"thread tid=(\d+) allocs=(\d+)", line)
        if m:
            threads[m.group(1)] = int(m.group(2))
        m = re.match(r"comm tid=(\d+) (.*)", line)
        if m:
            names[m.group(1)] = m.group(2).strip()
    return total, threads, names
t0, th0, _ = read(sys.argv[1])
t1, th1, names = read(sys.argv[2])
n = int(sys.argv[3])
print(f"allocations per request: {(t1 - t0) / n:.2f} ({t1 - t0} over {n} requests, c={sys.argv[4]})")
for tid, a in sorted(th1.items(), key=lambda kv: -(kv[1] - th0.get(kv[0], 0))):
    d = a - th0.get(tid, 0)
    if d:
        print(f"  thread {tid:>8} {names.get(tid, '?'):16s} {d / n:8.2f} per request")
PY
fi
