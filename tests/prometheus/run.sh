#!/usr/bin/env bash
# Real-Prometheus integration test: mock LLM + gateway with an A/B experiment, traffic through
# both variants, `promtool check metrics` on a scrape taken while a stream is open, then a real
# Prometheus scraping the gateway every second, asked for per-variant counts, latency quantiles,
# tokens and cost (checked against the usage the mock reported), every dashboard expression and
# the health of every alerting rule.
#
# Env: SWITCHYARD_BIN, MOCK_LLM_BIN (built binaries). Exit 0 = pass, 1 = fail, 77 = promtool or
# prometheus not installed (ctest SKIP). Every wait is a bounded poll; no fixed sleeps.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "SKIP: promtool/prometheus not installed (Debian package prometheus)"
  exit 77
fi
command -v curl >/dev/null 2>&1 || { echo "FAIL: curl is required"; exit 1; }
# The system interpreter: only the standard library is used, and a version-manager shim (pyenv)
# can cost a second per start on a busy machine.
py=${PYTHON:-/usr/bin/python3}
[[ -x $py ]] || py=$(command -v python3) || { echo "FAIL: python3 is required"; exit 1; }
: "${SWITCHYARD_BIN:?set SWITCHYARD_BIN to the switchyard binary}"
: "${MOCK_LLM_BIN:?set MOCK_LLM_BIN to the mock-llm binary}"
for bin in "$SWITCHYARD_BIN" "$MOCK_LLM_BIN"; do
  [[ -x $bin ]] || { echo "FAIL: $bin is missing or not executable"; exit 1; }
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
pids=()

# SIGTERM, a bounded wait, then SIGKILL: a stuck child must not outlive the test.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    stop_pid "$pid"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # the EXIT trap still runs

tail_of() {  # tail_of LABEL FILE
  [[ -s $2 ]] || return 0
  echo "--- $1 (last 30 lines) ---"
  tail -n 30 "$2"
}
# fail MESSAGE: prints it and the diagnostics to stderr (also from inside $(...)), exits 1.
fail() {
  exec >&2
  echo "FAIL: $*"
  if compgen -G "$tmp/answers/*.json" >/dev/null; then
    echo "--- last Prometheus answers ---"
    for f in "$tmp"/answers/*.json; do
      echo "$(basename "$f" .json): $(head -c 1500 "$f")"
    done
  fi
  tail_of "gateway stderr" "$tmp/gateway.err"
  tail_of "gateway stdout" "$tmp/gateway.out"
  tail_of "mock-llm output" "$tmp/mock.out"
  tail_of "prometheus log" "$tmp/prometheus.log"
  exit 1
}

# wait_for_port NAME PID FILE REGEX: waits (up to 20 s) for REGEX in FILE, whose first group is
# the port; prints the port. Woken by inotify as FILE grows and fails at once if PID exits
# (tests/support/ready.py): no polling.
wait_for_port() {
  "$py" "$here/../support/ready.py" line "$3" "$4" 20 "$2" || fail "$1 printed no 'listening' line"
}

mkdir -p "$tmp/answers" "$tmp/responses" "$tmp/data"
"$py" "$here/verify.py" --self-test >/dev/null || fail "tests/prometheus/verify.py is broken"
verify() { "$py" "$here/verify.py" "$@"; }

# ---- mock LLM and gateway ------------------------------------------------------------------
"$MOCK_LLM_BIN" --host 127.0.0.1 --port 0 >"$tmp/mock.out" 2>&1 &
pids+=($!)
mock_port=$(wait_for_port mock-llm "${pids[-1]}" "$tmp/mock.out" 'listening on [^ :]+:([0-9]+)')

cat >"$tmp/switchyard.yaml" <<YAML
listen: 127.0.0.1:0
workers: 1
data_dir: $tmp/data
admin_token: test-admin
timeouts: { drain_grace: 0s }  # exit at once on SIGTERM (stop_pid waits 5 s)
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:$mock_port/v1" }
models:
  - { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 0.15, output_per_mtok: 0.60 } }
  - { name: gpt-4o, upstream: mock, price: { input_per_mtok: 2.50, output_per_mtok: 10.00 } }
prompts:
  - name: assistant
    versions:
      - { version: v1, template: "You are helpful." }
      - { version: v2, template: "You are concise and helpful." }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, weight: 0.5, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: treatment, weight: 0.5, prompt: assistant@v2, model: gpt-4o }
log: { level: warn, access: off }
YAML
"$SWITCHYARD_BIN" --config "$tmp/switchyard.yaml" >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
pids+=($!)
gateway_pid=${pids[-1]}
gw_port=$(wait_for_port switchyard "$gateway_pid" "$tmp/gateway.err" \
  'listening on [^ :]+:([0-9]+) with [0-9]+ workers')
gw=http://127.0.0.1:$gw_port
echo "mock-llm on port $mock_port, switchyard on port $gw_port"

# ---- traffic ---------------------------------------------------------------------------------
# request VARIANT N [TOKENS [INTER_TOKEN_MS]]: one chat completion of model "assistant" (the
# experiment "tone"), forced into VARIANT by the QA override header; every third one streams.
# VARIANT "plain" sends model gpt-4o-mini instead, outside any experiment. The mock's usage
# (prompt tokens = body bytes / 4, completion tokens = TOKENS) comes back in the response, from
# which verify.py computes the expected tokens and cost.
request() {
  local variant=$1 n=$2 tokens=${3:-5} inter_token_ms=${4:-0} stream=false
  local model=assistant override=(-H "x-switchyard-variant: tone=$variant")
  ((n % 3 == 0)) && stream=true
  [[ $variant == plain ]] && model=gpt-4o-mini override=()
  local body="{\"model\":\"$model\","
  body+="\"messages\":[{\"role\":\"user\",\"content\":\"Say hello, number $n\"}]"
  if [[ $stream == true ]]; then
    body+=',"stream":true,"stream_options":{"include_usage":true}'
  fi
  body+='}'
  local out=$tmp/responses/$variant.$n code
  [[ $variant == plain ]] && out=$tmp/plain.$n
  code=$(curl -sS --max-time 15 -o "$out" -w '%{http_code}' \
    -H 'content-type: application/json' "${override[@]}" -H "x-user-id: user-$n" \
    -H "x-mock-tokens: $tokens" \
    -H "x-mock-inter-token-ms: $inter_token_ms" -d "$body" "$gw/v1/chat/completions") ||
    fail "request $variant #$n: curl failed"
  [[ $code == 200 ]] || fail "request $variant #$n: HTTP $code: $(head -c 500 "$out")"
}
burst() {  # burst VARIANT FIRST LAST [INTER_TOKEN_MS]
  local n
  for ((n = $2; n <= $3; n++)); do
    request "$1" "$n" 5 "${4:-0}"
  done
}
scrape() {  # scrape FILE
  curl -sS -f --max-time 5 -H 'authorization: Bearer test-admin' "$gw/metrics" >"$1" ||
    fail "GET /metrics failed"
}

# active_streams FILE: the value of the (label-less) switchyard_active_streams gauge, or -1.
active_streams() {
  awk '$1 == "switchyard_active_streams" { v = $2 } END { print (v == "" ? -1 : v) }' "$1"
}

n_control=30 n_treatment=20
# Burst 1 starts with a slow stream (8 tokens, 500 ms apart), so that a scrape sees it open.
request control 3 8 500 &
slow_pid=$!
pids+=("$slow_pid")
seen_stream=0
for ((i = 0; i < 30; i++)); do
  scrape "$tmp/scrape-under-traffic.txt"
  if awk -v v="$(active_streams "$tmp/scrape-under-traffic.txt")" 'BEGIN { exit !(v >= 1) }'; then
    seen_stream=1
    break
  fi
  sleep 0.1
done
((seen_stream)) || fail "no scrape showed switchyard_active_streams >= 1 while a stream was" \
  "open (last value: $(active_streams "$tmp/scrape-under-traffic.txt"))"
if ! promtool check metrics <"$tmp/scrape-under-traffic.txt" >"$tmp/promtool.out" 2>&1; then
  cat "$tmp/promtool.out"
  fail "promtool check metrics found problems in the gateway's /metrics"
fi
echo "ok   promtool check metrics on a scrape with a stream open"
burst control 1 2
burst control 4 15
burst treatment 1 10
request plain 1
wait "$slow_pid" || fail "the slow stream failed"
scrape "$tmp/scrape-after-burst1.txt"
verify text-counts "$tmp/scrape-after-burst1.txt" control=15 treatment=10 ||
  fail "/metrics after burst 1: switchyard_requests_total{experiment=\"tone\"} is not 15/10"
echo "ok   burst 1 (15 control, 10 treatment) counted on /metrics"
verify text-sum "$tmp/scrape-after-burst1.txt" switchyard_requests_total 1 model=gpt-4o-mini \
  experiment=none variant=none prompt_version=none ||
  fail "/metrics: the request outside experiments is not counted with experiment/variant/" \
    "prompt_version=\"none\""
echo "ok   a request outside experiments is counted as experiment=variant=prompt_version=none"

# ---- Prometheus ------------------------------------------------------------------------------
cat >"$tmp/prometheus.yml" <<YAML
global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }
rule_files: ["$root/deploy/prometheus/switchyard-alerts.yml"]
scrape_configs:
  - job_name: switchyard
    authorization: { credentials: test-admin }
    static_configs: [ { targets: ["127.0.0.1:$gw_port"] } ]
YAML
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()'
}
# start_prometheus: true once a Prometheus of ours logs that it is ready (its "Server is ready to
# receive web requests." line, waited for as above) and answers /-/ready; false if it exited (the
# port was taken between free_port and its bind) or was not ready within 20 s.
start_prometheus() {
  prom_port=$(free_port)
  prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >>"$tmp/prometheus.log" 2>&1 &
  prom_pid=$!
  pids+=("$prom_pid")
  if "$py" "$here/../support/ready.py" line "$tmp/prometheus.log" \
    "Server is ready to receive web requests" 20 "$prom_pid" >/dev/null &&
    curl -sf --max-time 2 "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 &&
    kill -0 "$prom_pid" 2>/dev/null; then  # ours, not someone else's server on that port
    return 0
  fi
  stop_pid "$prom_pid"
  return 1
}
started=0
for attempt in 1 2 3; do
  if start_prometheus; then
    started=1
    break
  fi
  echo "prometheus attempt $attempt on port $prom_port failed; retrying on another port"
done
((started)) || fail "prometheus did not start"
prom=http://127.0.0.1:$prom_port
echo "prometheus on port $prom_port"

q() {  # q NAME EXPR: instant query, answer saved as $tmp/answers/NAME.json
  curl -sS -G --max-time 5 --data-urlencode "query=$2" "$prom/api/v1/query" \
    >"$tmp/answers/$1.json" 2>&1 || true
}

# Polls (0.1 s apart, at most 30 s) inside one python process; answers land in $tmp/answers.
verify wait-counts "$prom" "$tmp/answers" 0 control=15 treatment=10 ||
  fail "Prometheus never saw burst 1 (control=15, treatment=10)"
echo "ok   Prometheus scraped burst 1"

# Burst 2 after Prometheus holds burst 1: rate() over [1m] then has samples before and after.
# Tokens 3 ms apart: with none, a busy machine may read a whole stream at once, leaving no
# inter-token gap to record and the inter-token panels without data.
burst control 16 30 3
burst treatment 11 20 3
t_end=$(date +%s.%N)
verify usage "$tmp/responses" "$tmp/expected.json" || fail "could not read usage from responses"

# A scrape that started after the last response, and the exact totals.
verify wait-counts "$prom" "$tmp/answers" "$t_end" control=$n_control treatment=$n_treatment ||
  fail "requests by variant never reached control=$n_control treatment=$n_treatment"
echo "ok   tone requests by variant in Prometheus: control=$n_control treatment=$n_treatment"

q p95 'histogram_quantile(0.95, sum by (le, variant) (
  rate(switchyard_request_duration_seconds_bucket{experiment="tone"}[1m])))'
verify finite-positive "$tmp/answers/p95.json" variant control treatment ||
  fail "p95 request duration per variant is not finite and positive"
echo "ok   p95 latency per variant: $(verify show "$tmp/answers/p95.json" variant)"

q tokens 'sum by (variant, type) (switchyard_tokens_total{experiment="tone", source="reported"})'
verify tokens "$tmp/answers/tokens.json" "$tmp/expected.json" ||
  fail "reported tokens per variant differ from the usage the mock returned"
echo "ok   reported tokens per variant and type match the mock's usage"

q cost 'sum by (variant) (switchyard_cost_usd_total{experiment="tone"})'
verify cost "$tmp/answers/cost.json" "$tmp/expected.json" ||
  fail "cost per variant differs from tokens x price"
echo "ok   cost per variant = tokens x price: $(verify show "$tmp/answers/cost.json" variant)"

# Every dashboard expression must evaluate; panels fed by this traffic must show data.
"$py" "$root/deploy/grafana/check_dashboard.py" exprs --range 5m --rate-interval 1m \
  "$root/deploy/grafana/switchyard-dashboard.json" >"$tmp/dashboard-exprs.jsonl" ||
  fail "could not extract the dashboard's expressions"
verify dashboard "$prom" "$tmp/dashboard-exprs.jsonl" ||
  fail "dashboard expressions failed against real data"
echo "ok   every dashboard expression evaluates; panels fed by the traffic have data"

verify wait-rules "$prom" || fail "alerting rules not all evaluated with health ok"
verify no-alerts "$prom" || fail "alerts are pending or firing on healthy traffic"
echo "ok   alerting rules evaluate cleanly on real metrics; none pending or firing"

kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway died during the test"
echo "PASS: real Prometheus test (control=$n_control, treatment=$n_treatment requests)"
