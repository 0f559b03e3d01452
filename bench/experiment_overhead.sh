#!/usr/bin/env bash
# What an experiment adds end to end: the same mock upstream behind two gateways with the same
# config; one gets `gpt-4o-mini` (no experiment), the other `assistant`, which goes through a
# two-variant experiment (assignment, prompt rendering, model and params rewrite, re-parse,
# signed feedback id, statistics shard). Same wrk script, same body otherwise.
# Interleaved rounds; medians of throughput, latency and gateway CPU per request.
# Usage: [BENCH_USERS=N] bench/experiment_overhead.sh [build-dir] [rounds] [seconds]
# (loopback only). BENCH_USERS cycles the x-user-id over N users; unset, every request is a new
# user, the worst case for the store (one new unit row per request).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../build}
rounds=${2:-3}
secs=${3:-10}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_line() {  # file regex: bounded wait for a line, prints the match
  for _ in $(seq 1 100); do
    if grep -Eo "$2" "$1" 2>/dev/null | head -1; then return 0; fi
    sleep 0.1
  done
  echo "experiment_overhead.sh: no line matching $2 in $1" >&2
  cat "$1" >&2
  exit 1
}

"$build/bench/mock-llm" --host 127.0.0.1 --port 0 --threads 1 >"$tmp/mock.out" 2>&1 &
pids+=($!)
mock_port=$(wait_line "$tmp/mock.out" 'listening on [0-9.]+:[0-9]+' | sed 's/.*://')

config() {  # name
  cat >"$tmp/$1.yaml" <<YAML
listen: 127.0.0.1:0
workers: 1
data_dir: $tmp/data-$1
log: { level: warn, access: off }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:$mock_port/v1", api_key: sk-bench, max_connections: 1024 }
models:
  - { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
  - { name: gpt-4o, upstream: mock, price: { input_per_mtok: 2.5, output_per_mtok: 10 } }
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
      - { name: treatment, prompt: assistant@v2, model: gpt-4o, params: { temperature: 0.4 } }
YAML
}
declare -A port pid
for g in plain experiment; do
  config "$g"
  "$build/switchyard" --config "$tmp/$g.yaml" >/dev/null 2>"$tmp/$g.err" &
  pid[$g]=$!
  pids+=($!)
  port[$g]=$(wait_line "$tmp/$g.err" 'listening on [0-9.]+:[0-9]+' | sed 's/.*://')
done

cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
run() {  # gateway round conns
  local g=$1 r=$2 c=$3 model=assistant
  [[ $g == plain ]] && model=gpt-4o-mini
  local c0 c1
  c0=$(cpu "${pid[$g]}")
  BENCH_MODEL=$model wrk -t1 -c"$c" -d"${secs}s" --latency -s "$here/experiment.lua" \
    "http://127.0.0.1:${port[$g]}/v1/chat/completions" >"$tmp/$g-$c-$r.txt" 2>&1
  c1=$(cpu "${pid[$g]}")
  echo "CPU cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" >>"$tmp/$g-$c-$r.txt"
}
kv() { grep -o "$2=[0-9.]*" "$1" | head -1 | cut -d= -f2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for c in 32 1; do
  for ((r = 1; r <= rounds; r++)); do
    for g in plain experiment; do run "$g" "$r" "$c"; done
  done
done

echo "| load | gateway | req/s | p50 µs | p99 µs | gateway CPU µs/request | non-2xx |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in 32 1; do
  for g in plain experiment; do
    rps=() p50=() p99=() cpr=() bad=0
    for ((r = 1; r <= rounds; r++)); do
      f=$tmp/$g-$c-$r.txt
      rps+=("$(kv "$f" rps)"); p50+=("$(kv "$f" p50_us)"); p99+=("$(kv "$f" p99_us)")
      n=$(kv "$f" requests); s=$(kv "$f" cpu_s)
      cpr+=("$(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? s * 1e6 / n : 0) }')")
      bad=$((bad + $(kv "$f" non2xx)))
    done
    echo "| c=$c | $g | $(median "${rps[@]}") | $(median "${p50[@]}") | $(median "${p99[@]}") | $(median "${cpr[@]}") | $bad |"
  done
done
