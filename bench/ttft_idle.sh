#!/usr/bin/env bash
# Time to first token and CPU per stream, direct to mock-llm and through the gateway (1 worker),
# all on one CPU: shows how much of run.sh c.'s figure is this VM's cost of waking from idle
# (bench/PROFILE.md, "Time to first token"). With INTER=10 the CPU idles 10 ms between a stream's
# tokens; with INTER=0 it never idles.
#
#   N=500 TOK=3 INTER=0 bench/ttft_idle.sh      (defaults: N=2000 TOK=1 INTER=0)
#
# Environment: BUILD_DIR, SWITCHYARD_BIN, CPU (1), EXTRA (a YAML line appended to the config).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=${SWITCHYARD_BIN:-$build/switchyard}
hold=$build/bench/stream-hold
cpu=${CPU:-1}
n=${N:-2000}
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
taskset -c "$cpu" "$build/bench/mock-llm" --port 0 --threads 1 >"$tmp/mock.out" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
for ((i = 0; i < 100; i++)); do grep -q listening "$tmp/mock.out" && break; sleep 0.1; done
mock=$(sed -n 's/.*listening on [^:]*:\([0-9]*\).*/\1/p' "$tmp/mock.out")
port=$(free_port)
cat >"$tmp/sy.yaml" <<Y
listen: 127.0.0.1:$port
workers: 1
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:$mock/v1", api_key: sk-bench }
models:
  - { name: gpt-4o-mini, upstream: mock, model: gpt-4o-mini }
log: { level: warn, access: off }
${EXTRA:-}
Y
taskset -c "$cpu" "$bin" --config "$tmp/sy.yaml" >"$tmp/sy.out" 2>&1 &
sy_pid=$!
pids+=("$sy_pid")
for ((i = 0; i < 300; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for t in direct switchyard; do
  p=$mock
  [[ $t == switchyard ]] && p=$port
  args=(ttft --port "$p" --tokens "${TOK:-1}" --inter-token-ms "${INTER:-0}" --ttft-ms 0)
  taskset -c "$cpu" "$hold" "${args[@]}" --requests 20 --warmup 5 >/dev/null
  g0=$(ticks "$sy_pid"); m0=$(ticks "$mock_pid")
  r=$(taskset -c "$cpu" "$hold" "${args[@]}" --requests "$n" --warmup 0 | grep '^RESULT')
  g=$(( ($(ticks "$sy_pid") - g0) * 1000000 / hz / n )); m=$(( ($(ticks "$mock_pid") - m0) * 1000000 / hz / n ))
  echo "$t: first token p50 $(sed 's/.*token_p50_ms=\([^ ]*\).*/\1/' <<<"$r") ms p99 $(sed 's/.*token_p99_ms=\([^ ]*\).*/\1/' <<<"$r") ms; CPU per stream: gateway $g us, mock $m us"
done
