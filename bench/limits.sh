#!/usr/bin/env bash
# Per-request cost of shared rate limits (issue 14, docs/replica-limits.md): the same gateway and
# the same static nginx upstream as bench/static.sh, side by side in interleaved rounds:
#   none     no rate_limits at all
# Every target uses the same `store: {type: redis}` (so the experiment store's own background
# work is the same for all); only `rate_limits[].mode` differs.
#   local    one api_key limit, mode: local (the in-process GCRA table)
#   leased   the same limit, mode: leased, through a local redis-server (admissions from the
#            leased slice; renewals in the background)
#   exact    the same limit, mode: exact (one Lua script round trip per admission)
# The limit is generous (1e9/min) so that nothing is refused: what is measured is the cost of
# checking it. Reports p50/p99 at c=1 and throughput at c=16 (wrk -t1), medians over the rounds,
# CPU per request (the gateway's utime+stime over the c=16 runs), and ratios against `local`.
#
#   bench/limits.sh [--quick] [--out FILE]
#
# Environment: BUILD_DIR, SWITCHYARD_BIN, ROUNDS (3), TP_SECS (5), C1_SECS (5), KEEP_TMP=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
out=/dev/stdout
quick=0
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "limits.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  rounds=${ROUNDS:-2}; tp_secs=${TP_SECS:-3}; c1_secs=${C1_SECS:-3}
else
  rounds=${ROUNDS:-3}; tp_secs=${TP_SECS:-5}; c1_secs=${C1_SECS:-5}
fi
sy_bin=${SWITCHYARD_BIN:-$build/switchyard}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
redis_bin=$(command -v redis-server || echo /usr/bin/redis-server)
for f in "$sy_bin" "$nginx_bin" "$redis_bin"; do
  [[ -x $f ]] || { echo "limits.sh: missing $f" >&2; exit 1; }
done
for c in wrk curl python3; do
  command -v "$c" >/dev/null || { echo "limits.sh: missing $c" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/switchyard-limits.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "limits.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # port pid: bounded (10 s)
  local i
  for i in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || return 1
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

declare -A port_of pid_of

# The static upstream (bench/nginx-static.conf.in, upstream block).
dir=$tmp/upstream
mkdir -p "$dir"
port_of[upstream]=$(free_port)
sed -e "/^#proxy-begin/,/^#proxy-end/d" -e "s|@DIR@|$dir|g" -e "s|@PORT@|${port_of[upstream]}|g" \
  -e "s|@ROLE@|upstream|g" "$here/nginx-static.conf.in" >"$dir/nginx.conf"
"$nginx_bin" -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf" 2>"$dir/err" &
pid_of[upstream]=$!
pids+=("${pid_of[upstream]}")
wait_port "${port_of[upstream]}" "${pid_of[upstream]}" || { echo "limits.sh: nginx did not start" >&2; exit 1; }

# redis-server without persistence.
port_of[redis]=$(free_port)
mkdir -p "$tmp/redis"
"$redis_bin" --port "${port_of[redis]}" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$tmp/redis" >"$tmp/redis/out" 2>&1 &
pid_of[redis]=$!
pids+=("${pid_of[redis]}")
wait_port "${port_of[redis]}" "${pid_of[redis]}" || { echo "limits.sh: redis did not start" >&2; exit 1; }

start_switchyard() {  # name mode (none: no limit)
  local name=$1 mode=$2 dir=$tmp/$1 store="" limits=""
  mkdir -p "$dir/data"  # a redis store still keeps the feedback key there
  port_of[$name]=$(free_port)
  if [[ $mode != none ]]; then
    limits="rate_limits:
  - { scope: api_key, requests_per_minute: 1000000000, mode: $mode }"
  fi
  # Every target on the same Redis store (its statistics flush and control sync cost the same
  # everywhere): only the limit's mode differs.
  store="store: { type: redis, url: \"redis://127.0.0.1:${port_of[redis]}/0\", key_prefix: \"$name:\", timeout: 1s }"
  cat >"$dir/switchyard.yaml" <<EOF
listen: 127.0.0.1:${port_of[$name]}
workers: 1
data_dir: $dir/data
log: { level: warn, access: off }
upstreams:
  - { name: static, base_url: "http://127.0.0.1:${port_of[upstream]}/v1", api_key: sk-bench, max_connections: 1024 }
models:
  - { name: gpt-4o-mini, upstream: static }
$store
$limits
EOF
  "$sy_bin" --config "$dir/switchyard.yaml" >"$dir/out" 2>"$dir/err" &
  pid_of[$name]=$!
  pids+=("${pid_of[$name]}")
  wait_port "${port_of[$name]}" "${pid_of[$name]}" || {
    echo "limits.sh: switchyard $name did not start: $(tail -3 "$dir/err")" >&2
    exit 1
  }
}

started_at=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
targets=(none local leased exact)
for t in "${targets[@]}"; do
  start_switchyard "$t" "$t"
done

cat >"$tmp/chat.lua" <<'EOF'
local body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}'
request = function()
  return wrk.format("POST", "/v1/chat/completions", {
    ["Content-Type"] = "application/json", ["Authorization"] = "Bearer sk-bench-client" }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
EOF

for t in "${targets[@]}"; do
  code=$(curl -s -o "$tmp/check-$t.json" -w '%{http_code}' -X POST \
    "http://127.0.0.1:${port_of[$t]}/v1/chat/completions" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer sk-bench-client' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}' || true)
  [[ $code == 200 ]] || { echo "limits.sh: $t answered $code" >&2; exit 1; }
done

kv() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
url() { echo "http://127.0.0.1:${port_of[$1]}/v1/chat/completions"; }

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for r in $(seq 1 "$rounds"); do
  # Each round starts with another target, so that a co-tenant's burst does not always land on
  # the same one.
  order=("${targets[@]:$(((r - 1) % 4))}" "${targets[@]:0:$(((r - 1) % 4))}")
  for t in "${order[@]}"; do
    log "round $r: $t"
    wrk -t1 -c1 -d"${c1_secs}s" --timeout 10s -s "$tmp/chat.lua" "$(url "$t")" >"$tmp/c1-$t-$r.txt"
    before=$(cpu_ticks "${pid_of[$t]}")
    wrk -t1 -c16 -d"${tp_secs}s" --timeout 10s -s "$tmp/chat.lua" "$(url "$t")" >"$tmp/c16-$t-$r.txt"
    echo "CPU ticks=$(($(cpu_ticks "${pid_of[$t]}") - before))" >>"$tmp/c16-$t-$r.txt"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A p50 p99 rps cpu bad
for t in "${targets[@]}"; do
  a=() b=() c=() d=()
  n=0
  for r in $(seq 1 "$rounds"); do
    a+=("$(kv "$tmp/c1-$t-$r.txt" p50_us)")
    b+=("$(kv "$tmp/c1-$t-$r.txt" p99_us)")
    c+=("$(kv "$tmp/c16-$t-$r.txt" rps)")
    requests=$(python3 -c "print(round($(kv "$tmp/c16-$t-$r.txt" rps) * $tp_secs))")
    d+=("$(python3 -c "print(round($(sed -n 's/^CPU ticks=//p' "$tmp/c16-$t-$r.txt") * 1e6 / $hz / max($requests, 1), 1))")")
    n=$((n + $(kv "$tmp/c1-$t-$r.txt" non2xx) + $(kv "$tmp/c16-$t-$r.txt" non2xx)))
    n=$((n + $(kv "$tmp/c1-$t-$r.txt" errors) + $(kv "$tmp/c16-$t-$r.txt" errors)))
  done
  p50[$t]=$(median "${a[@]}")
  p99[$t]=$(median "${b[@]}")
  rps[$t]=$(median "${c[@]}")
  cpu[$t]=$(median "${d[@]}")
  bad[$t]=$n
done
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

{
  echo "Generated by \`bench/limits.sh\` on $started_at (git $(git -C "$root" describe --always --dirty 2>/dev/null || echo ?), $rounds interleaved round(s), wrk c=1 ${c1_secs} s and c=16 ${tp_secs} s each; load average $load_start at start, $load_end at the end)."
  echo
  echo "| | none | local | leased | exact | leased / local | exact / local |"
  echo "|---|---|---|---|---|---|---|"
  echo "| c=1 p50 (µs) | ${p50[none]} | ${p50[local]} | ${p50[leased]} | ${p50[exact]} | $(ratio "${p50[leased]}" "${p50[local]}") | $(ratio "${p50[exact]}" "${p50[local]}") |"
  echo "| c=1 p99 (µs) | ${p99[none]} | ${p99[local]} | ${p99[leased]} | ${p99[exact]} | $(ratio "${p99[leased]}" "${p99[local]}") | $(ratio "${p99[exact]}" "${p99[local]}") |"
  echo "| c=16 throughput (req/s) | ${rps[none]} | ${rps[local]} | ${rps[leased]} | ${rps[exact]} | $(ratio "${rps[leased]}" "${rps[local]}") | $(ratio "${rps[exact]}" "${rps[local]}") |"
  echo "| CPU per request, c=16 (µs) | ${cpu[none]} | ${cpu[local]} | ${cpu[leased]} | ${cpu[exact]} | $(ratio "${cpu[leased]}" "${cpu[local]}") | $(ratio "${cpu[exact]}" "${cpu[local]}") |"
  echo "| non-2xx + socket errors | ${bad[none]} | ${bad[local]} | ${bad[leased]} | ${bad[exact]} | | |"
} >"$out"
