#!/usr/bin/env bash
# RSS per idle stream (issue 12 target: ≤ 32 KiB with 10,000 concurrent streams on one worker):
# the gateway (1 worker, the configuration of bench/run.sh's section d.) between stream-hold and
# mock-llm, N streams opened and held (one event a second each), then
# (RSS with all open − RSS idle) / N, as run.sh d. computes it.
#
#   bench/stream_rss.sh [N]          default 2000 streams (the descriptor limit allowing)
#   DHAT=1 bench/stream_rss.sh 500   the gateway under valgrind DHAT: heap bytes live at the
#                                    peak by site (bench/alloc_sites.py --peak), what a stream holds
#
# Environment: BUILD_DIR, TOKENS (events per stream, default 8), KEEP_TMP=1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
n=${1:-2000}
tokens=${TOKENS:-8}
tmp=$(mktemp -d /tmp/switchyard-rss.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "stream_rss.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  local i
  for ((i = 0; i < ${2:-300}; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
"$build/bench/mock-llm" --port 0 --threads 1 >"$tmp/mock.out" 2>&1 &
pids+=("$!")
for ((i = 0; i < 100; i++)); do grep -q listening "$tmp/mock.out" && break; sleep 0.1; done
mock_port=$(sed -n 's/.*listening on [^:]*:\([0-9]*\).*/\1/p' "$tmp/mock.out")
port=$(free_port)
cat >"$tmp/switchyard.yaml" <<EOF
listen: 127.0.0.1:$port
workers: 1
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:$mock_port/v1", api_key: sk-bench, max_connections: $((n + 1024)) }
models:
  - { name: gpt-4o-mini, upstream: mock, model: gpt-4o-mini }
log: { level: warn, access: off }
EOF
if [[ ${DHAT:-0} == 1 ]]; then
  valgrind --tool=dhat --dhat-out-file="$tmp/dhat.json" "$build/switchyard" --config "$tmp/switchyard.yaml" \
    >"$tmp/sy.out" 2>"$tmp/sy.err" &
else
  "$build/switchyard" --config "$tmp/switchyard.yaml" >"$tmp/sy.out" 2>"$tmp/sy.err" &
fi
sy=$!
pids+=("$sy")
wait_port "$port" 600 || { tail "$tmp/sy.err" >&2; exit 1; }
# One request first: the idle figure then includes what any first request sets up (the pool,
# the per-thread lists' first blocks), as it does in run.sh d.
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' || true
rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$sy/status")
"$build/bench/stream-hold" hold --port "$port" -n "$n" --tokens "$tokens" --inter-token-ms 1000 \
  --open-concurrency 256 --rss-pid "$sy" >"$tmp/hold.txt" 2>&1 || true
grep '^hold:' "$tmp/hold.txt" | tail -3 >&2 || true
open_kb=$(sed -n 's/^RESULT.* rss_all_open_kb=\([0-9]*\).*/\1/p' "$tmp/hold.txt" | tail -1)
echo "streams $n: RSS idle ${rss_idle} KiB, all open ${open_kb:-?} KiB, per stream $(python3 -c "print(f'{(${open_kb:-0} - $rss_idle) / $n:.1f}')") KiB"
if [[ ${DHAT:-0} == 1 ]]; then
  kill -TERM "$sy"
  wait "$sy" || true
  cp "$tmp/dhat.json" "${OUT:-/tmp/stream-dhat.json}"
  echo "DHAT profile: ${OUT:-/tmp/stream-dhat.json} (heap at the peak: bench/alloc_sites.py FILE $n --peak)"
fi
