#!/usr/bin/env bash
# Soak: N minutes of mixed load against one gateway build, sampling RSS, open fds and the
# gauges every few seconds; appends a summary (and the samples) to bench/RESULTS.md.
# Not part of `make test`.
#
#   bench/soak.sh [--minutes N] [--build DIR] [--interval S] [--label NAME]
#     --build build       the release build (default), or build-asan for the ASan build
#
# Load, all at once, all on 127.0.0.1 against the bundled mock LLM:
#   - wrk: non-stream chat requests at 16 connections;
#   - streams: 8 loops of curl streams (40 tokens, 5 ms apart), every 4th one aborted halfway;
#   - injected upstream faults: loops of requests with x-mock-fault (status=500, reset, stall
#     with a 1 s client timeout, cut_after=3 on a stream);
#   - a hot reload (POST /api/v1/reload) every 10 s, a SIGHUP every 30 s;
#   - feedback and analysis reads through the API.
# Pass: RSS flat after warm-up (last sample within 10 % + 16 MiB of the one at 25 % of the run),
# in-flight, stream and buffered-bytes gauges back to 0, wrk with no socket errors and only
# injected faults as non-2xx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
minutes=30
build=build
interval=5
label=""
while (($#)); do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--build DIR] [--interval S] [--label NAME]" >&2; exit 2 ;;
  esac
done
label=${label:-$build}
bin=$root/$build/switchyard
mock=$root/$build/bench/mock-llm
[[ -x $mock ]] || mock=$(find "$root/$build" -name mock-llm -type f -perm -u+x | head -1)
for c in wrk curl awk; do command -v $c >/dev/null || { echo "soak: needs $c" >&2; exit 2; }; done
[[ -x $bin && -x $mock ]] || { echo "soak: build $build first (switchyard, mock-llm)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$mock" --port 0 --threads 1 >"$tmp/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qo 'port [0-9]*\|:[0-9]\+' "$tmp/mock.out" && break; sleep 0.05; done
mock_port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/mock.out" | head -1 | cut -d: -f2)
[[ -n $mock_port ]] || { echo "soak: mock did not start: $(cat "$tmp/mock.out")" >&2; exit 1; }

cat >"$tmp/soak.yaml" <<EOF
listen: 127.0.0.1:0
workers: 2
admin_token: soak-admin
data_dir: $tmp/data
stats_flush: 1s
log: { level: warn, access: $tmp/access.log, access_max_bytes: 4194304, max_files: 2 }
timeouts: { first_byte: 2s, stream_idle: 2s, drain: 5s, drain_grace: 0s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:$mock_port/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock, model: mock-model }
rate_limits:
  - { scope: api_key, requests_per_minute: 100000000 }
experiments:
  - name: soak
    match: { model: gpt-4o-mini }
    unit: header:x-user-id
    variants: [ { name: control }, { name: treatment, params: { temperature: 0.3 } } ]
EOF
"$bin" --config "$tmp/soak.yaml" 2>"$tmp/gw.err" &
gw=$!
pids+=($gw)
for _ in $(seq 200); do grep -q 'listening on' "$tmp/gw.err" && break; sleep 0.05; done
port=$(grep -o 'listening on [^ ]*' "$tmp/gw.err" | head -1 | awk -F: '{print $NF}')
[[ -n $port ]] || { echo "soak: gateway did not start: $(cat "$tmp/gw.err")" >&2; exit 1; }
url=http://127.0.0.1:$port
secs=$((minutes * 60))
end=$(($(date +%s) + secs))
chat='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
stream='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'

wrk -t1 -c16 -d"${secs}s" --timeout 10s -s "$here/chat.lua" "$url/v1/chat/completions" \
  >"$tmp/wrk.txt" 2>&1 &
pids+=($!)

count() { echo 1 >>"$tmp/$1.count"; }
stream_loop() {
  local i=0
  while (($(date +%s) < end)); do
    i=$((i + 1))
    if ((i % 4 == 0)); then  # aborted halfway (client leaves)
      curl -s -N --max-time 0.1 -H 'x-mock-tokens: 40' -H 'x-mock-inter-token-ms: 5' \
        -H "x-user-id: s$1-$i" \
        -H 'content-type: application/json' -d "$stream" "$url/v1/chat/completions" \
        >/dev/null 2>&1 || true
      count aborted
    else
      local rc=0
      out=$(curl -s -N --max-time 10 -H 'x-mock-tokens: 40' -H 'x-mock-inter-token-ms: 5' \
        -H "x-user-id: s$1-$i" -w '\nHTTP %{http_code} %{time_total}s' \
        -H 'content-type: application/json' -d "$stream" "$url/v1/chat/completions") || rc=$?
      if [[ $out == *'data: [DONE]'* ]]; then
        count streams_ok
      else
        count streams_lost
        # Evidence for the summary: curl's exit code (28 = the client's own 10 s timeout), the
        # status, and the stream's last line, so a loss is classified rather than guessed.
        printf 'curl_rc=%s %s last=%s\n' "$rc" "$(tail -1 <<<"$out")" \
          "$(grep '^data:' <<<"$out" | tail -1 | cut -c1-160)" >>"$tmp/lost.txt"
      fi
    fi
  done
}
fault_loop() {
  local faults=("status=500" "reset" "stall" "status=429;retry_after=0")
  local i=0
  while (($(date +%s) < end)); do
    local f=${faults[$((i % ${#faults[@]}))]}
    i=$((i + 1))
    curl -s -o /dev/null --max-time 3 -H "x-mock-fault: $f" -H 'content-type: application/json' \
      -d "$chat" "$url/v1/chat/completions" || true
    curl -s -N -o /dev/null --max-time 3 -H 'x-mock-fault: cut_after=3' -H 'x-mock-tokens: 20' \
      -H 'content-type: application/json' -d "$stream" "$url/v1/chat/completions" || true
    count faults
  done
}
admin_loop() {
  local i=0
  while (($(date +%s) < end)); do
    i=$((i + 1))
    curl -s -o /dev/null -H 'authorization: Bearer soak-admin' -X POST "$url/api/v1/reload" || true
    if ((i % 3 == 0)); then kill -HUP "$gw" 2>/dev/null || true; fi
    id=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -H "x-user-id: fb$i" \
      -d "$chat" "$url/v1/chat/completions" | awk -F': ' 'tolower($1)=="x-switchyard-feedback-id"{print $2}' | tr -d '\r')
    [[ -n $id ]] && curl -s -o /dev/null -H 'content-type: application/json' \
      -d "{\"request_id\":\"$id\",\"event\":\"success\"}" "$url/v1/feedback" || true
    curl -s -o /dev/null "$url/api/v1/experiments/soak" || true
    count admin
    sleep 10
  done
}
for s in $(seq 8); do stream_loop "$s" & pids+=($!); done
fault_loop & pids+=($!)
admin_loop & pids+=($!)

gauge() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%d", s}' "$tmp/m.txt"; }
samples=$tmp/samples.txt
echo "| t (s) | RSS (MiB) | fds | in flight | streams | buffered bytes | upstream conns |" >"$samples"
echo "| --- | --- | --- | --- | --- | --- | --- |" >>"$samples"
t0=$(date +%s)
while (($(date +%s) < end)); do
  sleep "$interval"
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$gw/status")
  fds=$(ls "/proc/$gw/fd" | wc -l)
  curl -s "$url/metrics" >"$tmp/m.txt" || true
  echo "| $(($(date +%s) - t0)) | $rss | $fds | $(gauge switchyard_inflight_requests) |" \
    "$(gauge switchyard_active_streams) | $(gauge switchyard_buffered_request_bytes) |" \
    "$(gauge switchyard_upstream_connections) |" >>"$samples"
done
wait "${pids[@]:2}" 2>/dev/null || true
sleep 3  # let aborted streams and stalls settle before the final sample
curl -s "$url/metrics" >"$tmp/m.txt"
final_rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$gw/status")
final_fds=$(ls "/proc/$gw/fd" | wc -l)
inflight=$(gauge switchyard_inflight_requests)
streams=$(gauge switchyard_active_streams)
buffered=$(gauge switchyard_buffered_request_bytes)
n=$(($(wc -l <"$samples") - 2))
warm_rss=$(awk -v k=$((n / 4 + 3)) 'NR == k {print $3}' FS='|' "$samples" | tr -d ' ')
# Every answer the gateway gave that was not 2xx, by status and error type, from its own counter
# (the access log rotates away during a long run).
non2xx=$(awk '/^switchyard_requests_total\{/ && !/status_class="2/ {
    s = $1; sub(/.*status_class="/, "", s); sub(/".*/, "", s)
    e = $1; sub(/.*error_type="/, "", e); sub(/".*/, "", e)
    n[s " " e] += $2 } END { for (k in n) printf "%s=%d ", k, n[k] }' "$tmp/m.txt")
result=$(grep RESULT "$tmp/wrk.txt" || echo "RESULT missing: $(tail -3 "$tmp/wrk.txt")")
c() { [[ -f $tmp/$1.count ]] && wc -l <"$tmp/$1.count" || echo 0; }
verdict=PASS
awk -v w="$warm_rss" -v f="$final_rss" 'BEGIN {exit !(f <= w * 1.10 + 16)}' || verdict="FAIL (RSS grew)"
((inflight == 0 && streams == 0 && buffered == 0)) || verdict="FAIL (gauges not back to 0)"
(($(c streams_lost) == 0)) || verdict="FAIL ($(c streams_lost) streams lost)"
[[ $result == *"err_connect=0 err_read=0 err_write=0"* ]] || verdict="FAIL (wrk socket errors)"

{
  echo
  echo "## Soak: $label, $minutes min ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Command: \`bench/soak.sh --minutes $minutes --build $build\`. Verdict: **$verdict**."
  echo
  echo "- wrk (non-stream, 16 connections): \`$result\`"
  echo "- streams completed: $(c streams_ok), lost: $(c streams_lost), aborted on purpose: $(c aborted)"
  echo "- fault rounds (500, reset, stall, 429, stream cut after 3 events): $(c faults)"
  echo "- admin rounds (reload, SIGHUP every 3rd, feedback, analysis read): $(c admin)"
  echo "- RSS at 25 %: ${warm_rss} MiB, at the end: ${final_rss} MiB; fds at the end: $final_fds"
  echo "- gauges at the end: in flight $inflight, streams $streams, buffered bytes $buffered"
  echo "- non-2xx answers by status and error type (all loops, injected faults included): ${non2xx:-none}"
  if [[ -f $tmp/lost.txt ]]; then
    echo "- lost streams by cause (curl exit code, status, last event):"
    echo
    cut -c1-200 "$tmp/lost.txt" | sed -E 's/ [0-9.]+s / /' | sort | uniq -c | sort -rn | head -10 |
      sed 's/^/    /'
  fi
  echo
  echo "<details><summary>samples every ${interval} s</summary>"
  echo
  cat "$samples"
  echo
  echo "</details>"
} | tee -a "$root/bench/RESULTS.md"
if [[ $verdict != PASS ]]; then
  # Keep the evidence (access log, gateway stderr, wrk output, lost streams) for a failed run.
  keep=$root/build/soak-last
  rm -rf "$keep" && mkdir -p "$keep"
  cp "$tmp"/*.txt "$tmp"/*.err "$tmp"/*.yaml "$tmp"/access.log* "$keep"/ 2>/dev/null || true
  echo "soak: evidence kept in $keep" >&2
fi
[[ $verdict == PASS ]]
