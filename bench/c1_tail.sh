#!/usr/bin/env bash
# The c=1 latency tail (bench/PROFILE.md, "the c=1 p99 tail"): one static nginx upstream, the
# nginx proxy and switchyard with the static.sh pipeline, everything on one CPU as static.sh's
# c=1 rounds, and wrk -c1 in interleaved rounds, printing p50/p90/p99/p99.9 per target. Variants
# of the gateway's config are compared in the same run:
#
#   bench/c1_tail.sh [variant...]      variants: full (default), nolog (log.access: off),
#                                      nolimit (no rate_limits), noexp (no experiments),
#                                      noflush (stats_flush: 1h: no statistics flush in the run),
#                                      nonice (full, every thread reniced to 0; for a build
#                                      whose background threads lower their priority)
#
# With PERF_SCHED=1, `perf sched timehist -i $TMP/sched.data --cpu $CPU > th.txt` and
# bench/sched_blame.py th.txt say what the worker waited for when it waited for the CPU.
# CLIENT=py times each exchange with bench/c1_client.py instead of wrk (and joins the gateway's
# slowest 1 % to its access log). Environment: BUILD_DIR, SWITCHYARD_BIN, ROUNDS (3), SECS (5), CPU (1), THREADS=1 (CPU time per
# gateway thread and run, from /proc/PID/task/*/schedstat), RT=1 (see below), PERF_SCHED=1 (records
# `perf sched` over the last switchyard round into $TMP/sched.data, kept), KEEP_TMP=1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
sy_bin=${SWITCHYARD_BIN:-$build/switchyard}
rounds=${ROUNDS:-3}
secs=${SECS:-5}
cpu=${CPU:-1}
variants=("$@")
# RT=1: every process of the benchmark under SCHED_FIFO (chrt -f 10), so that other work on a
# shared machine (compilers) cannot preempt it and what remains is the benchmark's own threads
# interleaving; the gateway's threads all inherit it, so their nice values do not apply.
rt=""
[[ ${RT:-0} == 1 ]] && rt="chrt -f 10"
((${#variants[@]})) || variants=(full)
tmp=$(mktemp -d /tmp/switchyard-tail.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 || ${PERF_SCHED:-0} == 1 ]]; then echo "c1_tail.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  local i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
declare -A port_of pid_of
start_nginx() {  # name role [upstream_port]
  local dir=$tmp/$1 other
  [[ $2 == upstream ]] && other=proxy || other=upstream
  mkdir -p "$dir"
  port_of[$1]=$(free_port)
  sed -e "/^#$other-begin/,/^#$other-end/d" -e "s|@DIR@|$dir|g" -e "s|@PORT@|${port_of[$1]}|g" \
    -e "s|@UPSTREAM_PORT@|${3:-0}|g" -e "s|@ROLE@|$2|g" "$here/nginx-static.conf.in" >"$dir/nginx.conf"
  $rt taskset -c "$cpu" nginx -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf" 2>"$dir/err" &
  pid_of[$1]=$!
  pids+=("$!")
  wait_port "${port_of[$1]}"
}
start_switchyard() {  # variant
  local v=$1 dir=$tmp/$1 access limits exps extra_model="" flush=""
  mkdir -p "$dir"
  port_of[$v]=$(free_port)
  access=$dir/access.log
  limits='rate_limits:
  - { scope: api_key, requests_per_minute: 1000000000, tokens_per_minute: 100000000000 }'
  exps='experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: treatment, prompt: assistant@v2, model: gpt-4o-mini, params: { temperature: 0.4 } }'
  case $v in
    nolog) access=off ;;
    nolimit) limits="" ;;
    noflush) flush="stats_flush: 1h" ;;
    noexp) exps="" extra_model='  - { name: assistant, upstream: static }' ;;
  esac
  cat >"$dir/switchyard.yaml" <<YAML
listen: 127.0.0.1:${port_of[$v]}
workers: 1
data_dir: $dir/data
$flush
log: { level: warn, access: $access }
upstreams:
  - { name: static, base_url: "http://127.0.0.1:${port_of[upstream]}/v1", api_key: sk-bench, max_connections: 1024 }
models:
  - { name: gpt-4o-mini, upstream: static, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
$extra_model
prompts:
  - name: assistant
    versions:
      - { version: v1, template: "You are a helpful assistant for {{audience}}." }
      - { version: v2, template: "Be concise.", mode: replace }
$exps
$limits
YAML
  $rt taskset -c "$cpu" "$sy_bin" --config "$dir/switchyard.yaml" >"$dir/out" 2>"$dir/err" &
  pid_of[$v]=$!
  pids+=("$!")
  wait_port "${port_of[$v]}" || { cat "$dir/err" >&2; exit 1; }
  if [[ $v == nonice ]]; then
    local t
    for t in /proc/"${pid_of[$v]}"/task/*; do renice -n 0 -p "${t##*/}" >/dev/null; done
  fi
}
start_nginx upstream upstream
start_nginx nginx proxy "${port_of[upstream]}"
for v in "${variants[@]}"; do start_switchyard "$v"; done
targets=(direct nginx "${variants[@]}")
port_of[direct]=${port_of[upstream]}
kv() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
run() {  # target secs out
  if [[ ${CLIENT:-wrk} == py ]]; then
    # bench/c1_client.py: its own per-request clock; for a gateway target it also joins its
    # slowest 1 % to the access log (the gateway's window vs the time outside it).
    local log=()
    [[ -f $tmp/$1/access.log ]] && log=(--access-log "$tmp/$1/access.log")
    $rt taskset -c "$cpu" python3 "$here/c1_client.py" "${port_of[$1]}" "$2" "${log[@]}" >"$3" 2>&1 || true
    grep '^SLOWEST1PCT' "$3" | sed "s/^/    $1: /" >&2 || true
    return
  fi
  $rt taskset -c "$cpu" wrk -t1 -c1 -d"${2}s" --latency --timeout 10s -s "$here/static.lua" \
    "http://127.0.0.1:${port_of[$1]}/v1/chat/completions" >"$3" 2>&1 || true
}
# CPU time and run slices per gateway thread over a run (/proc/PID/task/TID/schedstat: ns on CPU,
# ns waiting for a CPU, slices), named (comm): what else than the worker runs, and how long.
schedstat() {  # pid -> "tid comm run_ns wait_ns slices" per thread
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(cat "$t/comm") $(cat "$t/schedstat")"
  done
}
thread_report() {  # before after requests
  awk -v n="$3" 'NR == FNR { run[$1] = $3; wait[$1] = $4; sl[$1] = $5; next }
    { d = $3 - run[$1]; if (d > 0) printf "    %-16s cpu %8.1f ms  %6.2f us/request  slices %7d  waited %8.1f ms\n", $2, d / 1e6, d / 1e3 / n, $5 - sl[$1], ($4 - wait[$1]) / 1e6 }' "$1" "$2"
}
for t in "${targets[@]}"; do run "$t" 1 "$tmp/warm-$t.txt"; done
printf '%-10s %5s %8s %6s %6s %6s %7s %7s\n' target round requests p50 p90 p99 p99.9 max
for ((r = 1; r <= rounds; r++)); do
  for t in "${targets[@]}"; do
    f=$tmp/c1-$t-$r.txt
    if [[ ${PERF_SCHED:-0} == 1 && $r == "$rounds" && $t == "${variants[0]}" ]]; then
      perf sched record -o "$tmp/sched.data" -- sleep "$((secs + 1))" >/dev/null 2>&1 &
      sp=$!
      sleep 0.5
      schedstat "${pid_of[$t]}" >"$tmp/ss0"
      run "$t" "$secs" "$f"
      schedstat "${pid_of[$t]}" >"$tmp/ss1"
      wait "$sp" || true
    elif [[ ${THREADS:-0} == 1 && $t != direct && $t != nginx ]]; then
      schedstat "${pid_of[$t]}" >"$tmp/ss0"
      run "$t" "$secs" "$f"
      schedstat "${pid_of[$t]}" >"$tmp/ss1"
    else
      run "$t" "$secs" "$f"
    fi
    printf '%-10s %5s %8s %6s %6s %6s %7s %7s\n' "$t" "$r" "$(kv "$f" requests)" "$(kv "$f" p50_us)" \
      "$(kv "$f" p90_us)" "$(kv "$f" p99_us)" "$(kv "$f" p999_us)" "$(kv "$f" max_us)"
    if [[ ${THREADS:-0} == 1 && $t != direct && $t != nginx ]]; then
      thread_report "$tmp/ss0" "$tmp/ss1" "$(kv "$f" requests)"
    fi
  done
done
