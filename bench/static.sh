#!/usr/bin/env bash
# The static-upstream benchmark (issue 12): nginx `return 200` with a chat completion as the
# upstream — the cheapest possible upstream, so what is measured is the proxy's own cost — and,
# side by side in one run, one worker / one worker process each, in interleaved rounds:
#   direct      the upstream nginx itself
#   nginx       nginx as a plain reverse proxy (proxy_pass, keepalive 64, HTTP/1.1 upstream)
#   switchyard  the gateway with the full pipeline on: an experiment with a prompt (assigned,
#               rendered, rewritten), metrics, a rate limit (api_key scope) and the access log
#
# Reports, for nginx and switchyard: throughput at c=64 (wrk -t1 -c64), p50/p99 at c=1 and the
# latency added over direct, CPU µs per request (/proc/PID/stat utime+stime over the c=64 runs),
# syscalls per request (strace -c -f over a c=1 run of STRACE_SECS), heap allocations per
# request (bench/alloc_count.cpp preloaded into separate instances), and ratios vs nginx.
#
#   bench/static.sh [--quick] [--out FILE] [--update RESULTS.md]
#
# --update replaces (or appends) this benchmark's section in a RESULTS.md, after run.sh's "kept"
# marker so that a run.sh run keeps it. Environment: BUILD_DIR, SWITCHYARD_BIN, ROUNDS (3), TP_SECS (10),
# C1_SECS (5), STRACE_SECS (5), PROXY_CPU (0), LOAD_CPU (1), PIN=0, KEEP_TMP=1.
# SWITCHYARD_BIN_B=other/switchyard adds a second build as one more target in every round (an A/B
# under the same load; its figures against A's are logged per round); AB_ONLY=1 stops after that.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
out=/dev/stdout
update=""
quick=0
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --update) update=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "static.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  rounds=${ROUNDS:-1}; tp_secs=${TP_SECS:-3}; c1_secs=${C1_SECS:-2}; strace_secs=${STRACE_SECS:-3}
else
  rounds=${ROUNDS:-3}; tp_secs=${TP_SECS:-10}; c1_secs=${C1_SECS:-5}; strace_secs=${STRACE_SECS:-5}
fi
sy_bin=${SWITCHYARD_BIN:-$build/switchyard}
sy_bin_b=${SWITCHYARD_BIN_B:-}
alloc_lib=$build/bench/liballoc_count.so
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for f in "$sy_bin" "$alloc_lib" "$nginx_bin"; do
  [[ -x $f || -f $f ]] || { echo "static.sh: missing $f (cmake --build build --target switchyard alloc_count)" >&2; exit 1; }
done
for c in wrk strace taskset curl python3; do
  command -v "$c" >/dev/null || { echo "static.sh: missing $c" >&2; exit 1; }
done

pin=${PIN:-1}
(($(nproc) < 2)) && pin=0
proxy_cpu=${PROXY_CPU:-0}
load_cpu=${LOAD_CPU:-1}
on_cpu() {  # cpu cmd...: exec cmd pinned (or not)
  local cpu=$1; shift
  if ((pin)); then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

tmp=$(mktemp -d /tmp/switchyard-static.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "static.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A free port: bound by a probe socket, released, then taken by the server (a conflict in
# between shows up in wait_port, and the caller retries with another port).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # port pid
  local i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

declare -A port_of pid_of
# start_nginx name role cpu [upstream_port] [preload]
start_nginx() {
  local name=$1 role=$2 cpu=$3 up=${4:-0} preload=${5:-} attempt dir other
  [[ $role == upstream ]] && other=proxy || other=upstream
  for attempt in 1 2 3 4 5; do
    dir=$tmp/$name
    mkdir -p "$dir"
    port_of[$name]=$(free_port)
    sed -e "/^#$other-begin/,/^#$other-end/d" -e "s|@DIR@|$dir|g" -e "s|@PORT@|${port_of[$name]}|g" \
      -e "s|@UPSTREAM_PORT@|$up|g" -e "s|@ROLE@|$role|g" "$here/nginx-static.conf.in" >"$dir/nginx.conf"
    if [[ -n $preload ]]; then
      (SWITCHYARD_ALLOC_COUNT_FILE=$dir/allocs LD_PRELOAD=$alloc_lib \
        on_cpu "$cpu" "$nginx_bin" -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf") 2>"$dir/err" &
    else
      (on_cpu "$cpu" "$nginx_bin" -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf") 2>"$dir/err" &
    fi
    pid_of[$name]=$!
    pids+=("${pid_of[$name]}")
    wait_port "${port_of[$name]}" "${pid_of[$name]}" && return 0
    kill "${pid_of[$name]}" 2>/dev/null || true
    log "nginx $name did not start on ${port_of[$name]} (attempt $attempt): $(tail -1 "$dir/err" 2>/dev/null)"
  done
  exit 1
}
# start_switchyard name cpu upstream_port [preload [binary]]
start_switchyard() {
  local name=$1 cpu=$2 up=$3 preload=${4:-} bin=${5:-$sy_bin} attempt dir
  for attempt in 1 2 3 4 5; do
    dir=$tmp/$name
    mkdir -p "$dir"
    port_of[$name]=$(free_port)
    cat >"$dir/switchyard.yaml" <<EOF
listen: 127.0.0.1:${port_of[$name]}
workers: 1
data_dir: $dir/data
log: { level: warn, access: $dir/access.log }
upstreams:
  - { name: static, base_url: "http://127.0.0.1:$up/v1", api_key: sk-bench, max_connections: 1024 }
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
EOF
    if [[ -n $preload ]]; then
      (SWITCHYARD_ALLOC_COUNT_FILE=$dir/allocs LD_PRELOAD=$alloc_lib \
        on_cpu "$cpu" "$bin" --config "$dir/switchyard.yaml") >"$dir/out" 2>"$dir/err" &
    else
      (on_cpu "$cpu" "$bin" --config "$dir/switchyard.yaml") >"$dir/out" 2>"$dir/err" &
    fi
    pid_of[$name]=$!
    pids+=("${pid_of[$name]}")
    wait_port "${port_of[$name]}" "${pid_of[$name]}" && return 0
    kill "${pid_of[$name]}" 2>/dev/null || true
    log "switchyard $name did not start (attempt $attempt): $(tail -2 "$dir/err")"
  done
  exit 1
}

started_at=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_nginx upstream upstream "$load_cpu"
start_nginx nginx proxy "$proxy_cpu" "${port_of[upstream]}"
start_switchyard switchyard "$proxy_cpu" "${port_of[upstream]}"
targets=(direct nginx switchyard)
proxies=(nginx switchyard)
if [[ -n $sy_bin_b ]]; then
  # An A/B of two builds in one run: the B binary is one more target in every round, under the
  # same load as A; its throughput and c=1 figures are logged against A's (not in the report).
  start_switchyard switchyard_b "$proxy_cpu" "${port_of[upstream]}" "" "$sy_bin_b"
  targets+=(switchyard_b)
  proxies+=(switchyard_b)
fi
port_of[direct]=${port_of[upstream]}
pid_of[direct]=${pid_of[upstream]}

# Sanity: each target answers the benchmark's request with a chat completion.
body='{"model":"assistant","metadata":{"audience":"developers"},"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
for t in "${targets[@]}"; do
  code=$(curl -s -o "$tmp/check-$t.json" -w '%{http_code}' -X POST "http://127.0.0.1:${port_of[$t]}/v1/chat/completions" \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench-client' -H 'x-user-id: u1' -d "$body" || true)
  if [[ $code != 200 ]] || ! grep -q '"chat.completion"' "$tmp/check-$t.json"; then
    echo "static.sh: $t answered $code: $(head -c 300 "$tmp/check-$t.json")" >&2
    exit 1
  fi
done

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
kv() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
fmt() { awk -v v="$2" "BEGIN { printf \"$1\", v }"; }

wrk_cmd() {  # conns secs url -> the command line, for the report
  echo "wrk -t1 -c$1 -d${2}s --latency --timeout 10s -s bench/static.lua $3"
}
run_wrk() {  # target conns secs tag cpu
  local t=$1 c=$2 s=$3 tag=$4 cpu=$5 c0 c1 f=$tmp/wrk-$4.txt
  c0=$(cpu_ticks "${pid_of[$t]}")
  (on_cpu "$cpu" wrk -t1 -c"$c" -d"${s}s" --latency --timeout 10s -s "$here/static.lua" \
    "http://127.0.0.1:${port_of[$t]}/v1/chat/completions") >"$f" 2>&1 || true
  c1=$(cpu_ticks "${pid_of[$t]}")
  echo "CPU ticks=$((c1 - c0))" >>"$f"
}
proxy_pids() { local t; for t in "${proxies[@]}"; do echo "${pid_of[$t]}"; done; }
move() {  # cpu pid...: every thread of each pid to cpu
  ((pin)) || return 0
  local cpu=$1 p; shift
  for p in "$@"; do taskset -a -p -c "$cpu" "$p" >/dev/null; done
}

log "static upstream :${port_of[upstream]}  nginx :${port_of[nginx]}  switchyard :${port_of[switchyard]}; $rounds round(s)"
for t in "${targets[@]}"; do run_wrk "$t" 64 2 "warm-$t" "$load_cpu"; done
for ((r = 1; r <= rounds; r++)); do
  # c=64: the proxy under test on its CPU, wrk and the upstream on the other.
  move "$proxy_cpu" $(proxy_pids)
  for t in "${targets[@]}"; do
    run_wrk "$t" 64 "$tp_secs" "c64-$t-$r" "$load_cpu"
    log "round $r c=64 $t: $(kv "$tmp/wrk-c64-$t-$r.txt" rps) req/s"
  done
  # c=1: everything on one CPU (a c=1 request is a strict chain; this VM's cross-CPU wake-ups
  # would otherwise dominate both proxies' figures).
  move "$load_cpu" $(proxy_pids)
  for t in "${targets[@]}"; do
    run_wrk "$t" 1 "$c1_secs" "c1-$t-$r" "$load_cpu"
    log "round $r c=1 $t: p50 $(kv "$tmp/wrk-c1-$t-$r.txt" p50_us) p99 $(kv "$tmp/wrk-c1-$t-$r.txt" p99_us) us"
  done
done

if [[ -n $sy_bin_b ]]; then
  for ((r = 1; r <= rounds; r++)); do
    a=$tmp/wrk-c64-switchyard-$r.txt b=$tmp/wrk-c64-switchyard_b-$r.txt
    log "A/B round $r: c=64 B/A $(awk -v a="$(kv "$a" rps)" -v b="$(kv "$b" rps)" 'BEGIN { printf "%.3f", b / a }'); c=1 p50 A $(kv "$tmp/wrk-c1-switchyard-$r.txt" p50_us) B $(kv "$tmp/wrk-c1-switchyard_b-$r.txt" p50_us), p99 A $(kv "$tmp/wrk-c1-switchyard-$r.txt" p99_us) B $(kv "$tmp/wrk-c1-switchyard_b-$r.txt" p99_us) us"
  done
  [[ -n ${AB_ONLY:-} ]] && exit 0
fi

# Syscalls per request: strace -c on every thread of the target during a c=1 run; divided by the
# requests of that run (a fixed duration rather than a fixed count: wrk cannot end a run early,
# and idle seconds would add the gateway's idle timer ticks to the count).
declare -A sys_total sys_detail strace_n
for t in direct nginx switchyard; do
  f=$tmp/strace-$t.txt
  strace -c -f -q -p "${pid_of[$t]}" -o "$f" 2>/dev/null &
  spid=$!
  sleep 1  # attached (strace prints nothing when ready; a second is ample on this VM)
  (on_cpu "$load_cpu" wrk -t1 -c1 -d"${strace_secs}s" --timeout 10s -s "$here/static.lua" \
    "http://127.0.0.1:${port_of[$t]}/v1/chat/completions") >"$tmp/wrk-strace-$t.txt" 2>&1 || true
  sleep 0.2
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
  n=$(kv "$tmp/wrk-strace-$t.txt" requests)
  strace_n[$t]=$n
  # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall; the calls are field 4.
  sys_total[$t]=$(awk -v n="$n" '$NF == "total" { printf "%.1f", $4 / n }' "$f")
  sys_detail[$t]=$(awk '/^-+/ { rows = !rows; next } rows && $NF != "total" { print $NF, $4 }' "$f" |
    sort -k2 -g -r | head -6 | awk -v n="$n" '{ printf "%s%s %.1f", (NR > 1 ? ", " : ""), $1, $2 / n }')
  log "strace $t: ${sys_total[$t]} syscalls/request over $n requests (${sys_detail[$t]})"
done

# Heap allocations per request: separate instances with the counter preloaded (so that the
# timed runs above pay nothing for it), warmed up, then two dumps around a c=64 run.
start_nginx nginx_alloc proxy "$proxy_cpu" "${port_of[upstream]}" preload
start_switchyard switchyard_alloc "$proxy_cpu" "${port_of[upstream]}" preload
declare -A allocs_per_req
alloc_total() { sed -n 's/^total allocs=\([0-9]*\).*/\1/p' "$1"; }
dump_allocs() {  # pid file
  rm -f "$2"
  kill -s RTMIN+3 "$1"
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $2 ]] && return 0; sleep 0.05; done
  return 1
}
for t in nginx_alloc switchyard_alloc; do
  run_wrk "$t" 64 2 "alloc-warm-$t" "$load_cpu"
  a=$tmp/$t/allocs
  dump_allocs "${pid_of[$t]}" "$a" && cp "$a" "$tmp/$t.allocs0"
  run_wrk "$t" 64 "$tp_secs" "alloc-$t" "$load_cpu"
  dump_allocs "${pid_of[$t]}" "$a" && cp "$a" "$tmp/$t.allocs1"
  n=$(kv "$tmp/wrk-alloc-$t.txt" requests)
  if [[ -s $tmp/$t.allocs0 && -s $tmp/$t.allocs1 ]]; then
    allocs_per_req[${t%_alloc}]=$(calc "($(alloc_total "$tmp/$t.allocs1") - $(alloc_total "$tmp/$t.allocs0")) / $n")
  else
    allocs_per_req[${t%_alloc}]=n/a
    log "allocations $t: no counts (did the process keep the counter's signal handler?)"
  fi
  log "allocations $t: ${allocs_per_req[${t%_alloc}]} per request over $n requests"
done

# --- figures -------------------------------------------------------------------------------------
collect() {  # prefix target key
  local vals=() r
  for ((r = 1; r <= rounds; r++)); do vals+=("$(kv "$tmp/wrk-$1-$2-$r.txt" "$3")"); done
  median "${vals[@]}"
}
declare -A rps p50 p99 cpu_us
for t in "${targets[@]}"; do
  rps[$t]=$(collect c64 "$t" rps)
  p50[$t]=$(collect c1 "$t" p50_us)
  p99[$t]=$(collect c1 "$t" p99_us)
  vals=()
  for ((r = 1; r <= rounds; r++)); do
    f=$tmp/wrk-c64-$t-$r.txt
    vals+=("$(calc "$(sed -n 's/^CPU ticks=//p' "$f") * 1e6 / $hz / $(kv "$f" requests)")")
  done
  cpu_us[$t]=$(median "${vals[@]}")
done
non2xx=0
for f in "$tmp"/wrk-*.txt; do n=$(kv "$f" non2xx); non2xx=$((non2xx + ${n:-0})); done
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
add_p50_ng=$(calc "${p50[nginx]} - ${p50[direct]}"); add_p50_sy=$(calc "${p50[switchyard]} - ${p50[direct]}")
add_p99_ng=$(calc "${p99[nginx]} - ${p99[direct]}"); add_p99_sy=$(calc "${p99[switchyard]} - ${p99[direct]}")
round_tp=""; round_p50=""
for ((r = 1; r <= rounds; r++)); do
  round_tp+="${round_tp:+ / }$(ratio "$(kv "$tmp/wrk-c64-switchyard-$r.txt" rps)" "$(kv "$tmp/wrk-c64-nginx-$r.txt" rps)")"
  d=$(kv "$tmp/wrk-c1-direct-$r.txt" p50_us)
  round_p50+="${round_p50:+ / }$(ratio "$(calc "$(kv "$tmp/wrk-c1-switchyard-$r.txt" p50_us) - $d")" "$(calc "$(kv "$tmp/wrk-c1-nginx-$r.txt" p50_us) - $d")")"
done
git_rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
us() { fmt '%.0f' "$1"; }

section=$(cat <<EOF
<!-- static.sh begin -->
## i. Static upstream: the proxy's own cost, side by side with nginx (bench/static.sh)

Generated by \`bench/static.sh$( ((quick)) && echo " --quick")\` on $started_at (git $git_rev, $rounds interleaved round(s); load
average at start $load_start). **The machine is shared** (2 CPUs; other helpers' builds ran at the same
time), so absolute figures move from run to run: compare the rows of this one run, medians and ratios.
Upstream: nginx \`return 200\` with a 720-byte chat completion, one worker process. nginx proxy: one
worker, \`proxy_pass\` to an \`upstream\` block with \`keepalive 64\`, \`proxy_http_version 1.1\`.
Switchyard: \`workers: 1\`, the full pipeline — experiment \`tone\` (2 variants, prompt rendered, body
rewritten, unit from \`x-user-id\` over 1,000 users), metrics, an \`api_key\` rate limit, the access
log to a file. Placement: c=64 with the proxy on CPU $proxy_cpu and wrk + upstream on CPU $load_cpu; c=1 all on CPU $load_cpu.

| | direct | nginx | switchyard | switchyard / nginx |
|---|---|---|---|---|
| throughput, c=64 (req/s) | $(us "${rps[direct]}") | $(us "${rps[nginx]}") | $(us "${rps[switchyard]}") | **$(ratio "${rps[switchyard]}" "${rps[nginx]}")** (rounds: $round_tp) |
| c=1 p50 (µs) | $(us "${p50[direct]}") | $(us "${p50[nginx]}") | $(us "${p50[switchyard]}") | |
| c=1 p99 (µs) | $(us "${p99[direct]}") | $(us "${p99[nginx]}") | $(us "${p99[switchyard]}") | |
| added p50 over direct (µs) | — | $(us "$add_p50_ng") | $(us "$add_p50_sy") | **$(ratio "$add_p50_sy" "$add_p50_ng")** (rounds: $round_p50) |
| added p99 over direct (µs) | — | $(us "$add_p99_ng") | $(us "$add_p99_sy") | **$(ratio "$add_p99_sy" "$add_p99_ng")** |
| CPU per request, c=64 (µs) | $(fmt '%.1f' "${cpu_us[direct]}") | $(fmt '%.1f' "${cpu_us[nginx]}") | $(fmt '%.1f' "${cpu_us[switchyard]}") | **$(ratio "${cpu_us[switchyard]}" "${cpu_us[nginx]}")** |
| syscalls per request, c=1 | ${sys_total[direct]} | ${sys_total[nginx]} | ${sys_total[switchyard]} | **$(ratio "${sys_total[switchyard]}" "${sys_total[nginx]}")** |
| heap allocations per request, c=64 | — | $(fmt '%.1f' "${allocs_per_req[nginx]}") | $(fmt '%.1f' "${allocs_per_req[switchyard]}") | **$(ratio "${allocs_per_req[switchyard]}" "${allocs_per_req[nginx]}")** |

- Syscalls per request (strace -c -f over a ${strace_secs} s c=1 run: ${strace_n[nginx]} requests through nginx, ${strace_n[switchyard]} through switchyard), top ones: nginx ${sys_detail[nginx]};
  switchyard ${sys_detail[switchyard]}; direct ${sys_detail[direct]}.
- Heap allocations: malloc/calloc/realloc/memalign calls of the whole process (every thread: the
  worker, the access-log writer, the admin executor) between two dumps of \`bench/alloc_count.cpp\`
  around a ${tp_secs} s c=64 run, divided by its requests; measured on separate instances with the counter
  preloaded, so the timed rows above do not pay for it.
- Non-2xx responses over all runs: $non2xx.

Commands (ports and temp dirs vary):

\`\`\`sh
taskset -c $load_cpu nginx -p \$TMP/upstream -c \$TMP/upstream/nginx.conf    # bench/nginx-static.conf.in, upstream block
taskset -c $proxy_cpu nginx -p \$TMP/nginx -c \$TMP/nginx/nginx.conf          # the proxy block
taskset -c $proxy_cpu build/switchyard --config \$TMP/switchyard/switchyard.yaml   # written by static.sh
taskset -c $load_cpu $(wrk_cmd 64 "$tp_secs" 'http://127.0.0.1:$PORT/v1/chat/completions')   # c=64, per target, $rounds rounds
taskset -c $load_cpu $(wrk_cmd 1 "$c1_secs" 'http://127.0.0.1:$PORT/v1/chat/completions')    # c=1 (proxies moved: taskset -a -p -c $load_cpu PID)
strace -c -f -q -p \$PID -o strace.txt &  wrk -t1 -c1 -d${strace_secs}s -s bench/static.lua URL   # then kill -INT the strace
SWITCHYARD_ALLOC_COUNT_FILE=\$TMP/allocs LD_PRELOAD=build/bench/liballoc_count.so build/switchyard --config ...
kill -s RTMIN+3 \$PID   # before and after the c=64 run: (allocs after - allocs before) / requests
\`\`\`
<!-- static.sh end -->
EOF
)

if [[ -n $update ]]; then
  if [[ -f $update ]] && grep -q '^<!-- static.sh begin' "$update"; then
    printf '%s\n' "$section" >"$tmp/section.md"
    awk -v f="$tmp/section.md" '/^<!-- static.sh begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
      /^<!-- static.sh end/ { skip = 0; next } !skip' "$update" >"$tmp/updated.md"
    cp "$tmp/updated.md" "$update"
  else
    printf '\n%s\n' "$section" >>"$update"
  fi
  log "updated $update"
fi
printf '%s\n' "$section" >"$out"
