#!/usr/bin/env bash
# `switchyard eval` as CI runs it (docs/evaluations.md): the built binary against the mock LLM,
# checking the exit status of the --min-pass-rate gate, the distinct status of usage, config and
# dataset errors (with line numbers), the output formats, the stored results, and that the sample
# dataset in docs/examples/evals is valid.
set -uo pipefail
bin=${1:?usage: eval_cli_test.sh SWITCHYARD_BIN MOCK_LLM_BIN}
mock=${2:?usage: eval_cli_test.sh SWITCHYARD_BIN MOCK_LLM_BIN}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
mock_pid=
cleanup() {
  if [[ -n $mock_pid ]]; then kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
expect() {  # expect NAME EXIT_CODE PATTERN -- command...
  local name=$1 code=$2 pattern=$3
  shift 4
  local out
  out=$("$@" 2>&1)
  local got=$?
  if [[ $got -ne $code ]] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $got (want $code, output with \"$pattern\"); output:"
    echo "$out" | head -40
    fail=1
  else
    echo "ok   $name"
  fi
}

"$mock" --port 0 >"$tmp/mock.log" 2>&1 &
mock_pid=$!
port=
for _ in $(seq 100); do  # up to 10 s for the mock to print its port
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/mock.log")
  [[ -n $port ]] && break
  sleep 0.1
done
if [[ -z $port ]]; then echo "FAIL mock-llm did not start"; cat "$tmp/mock.log"; exit 1; fi

cat >"$tmp/eval.yaml" <<YAML
listen: 0.0.0.0:8080
workers: 1
data_dir: $tmp/data
log: { level: warn }
upstreams: [ { name: mock, base_url: "http://127.0.0.1:$port/v1", api_key: sk-mock } ]
models:
  - { name: small, upstream: mock, price: { input_per_mtok: 1, output_per_mtok: 2 } }
  - { name: large, upstream: mock }
  - { name: embed, upstream: mock }
prompts:
  - name: triage
    versions:
      - { version: v1, template: "Triage: {{ticket}}" }
      - { version: v2, template: "Triage carefully: {{ticket}}" }
experiments:
  - name: tone
    match: { model: assistant }
    allow_override: false
    variants:
      - { name: control, model: small }
      - { name: treatment, model: large, params: { temperature: 0.2 } }
  - name: triage
    match: { model: triage }
    variants:
      - { name: control, prompt: triage@v1, model: small }
      - { name: strict, prompt: triage@v2, model: large }
YAML

# 50 cases the mock always passes (its answers are "tok…" tokens), then 45 of 50.
for i in $(seq 50); do
  echo "{\"id\":\"c$i\",\"messages\":[{\"role\":\"user\",\"content\":\"q$i\"}],\"assert\":[{\"type\":\"icontains\",\"value\":\"TOK\"},{\"type\":\"finish-reason\",\"value\":\"stop\"}]}"
done >"$tmp/pass.jsonl"
{ head -45 "$tmp/pass.jsonl"
  for i in $(seq 46 50); do
    echo "{\"id\":\"c$i\",\"messages\":[{\"role\":\"user\",\"content\":\"q$i\"}],\"assert\":[{\"type\":\"contains\",\"value\":\"zebra\"}]}"
  done; } >"$tmp/ninety.jsonl"

run=("$bin" eval --config "$tmp/eval.yaml" --experiment tone)
expect gate-passes 0 "gate: every variant's pass rate ≥ 95.0%: passed" -- "${run[@]}" --dataset "$tmp/pass.jsonl" --min-pass-rate 0.95 --concurrency 4
expect gate-fails 1 "90.0%" -- "${run[@]}" --dataset "$tmp/ninety.jsonl" --min-pass-rate 0.95
expect gate-lower 0 "45/50" -- "${run[@]}" --dataset "$tmp/ninety.jsonl" --min-pass-rate 0.85
expect no-gate 0 "paired differences" -- "${run[@]}" --dataset "$tmp/ninety.jsonl"
expect one-variant 0 "treatment" -- "${run[@]}" --dataset "$tmp/pass.jsonl" --variants treatment --format csv
expect json-format 0 '"only_a_passed":0' -- "${run[@]}" --dataset "$tmp/ninety.jsonl" --format json
"${run[@]}" --dataset "$tmp/ninety.jsonl" --format junit --output "$tmp/junit.xml" >/dev/null 2>&1
expect junit-file 0 '<testsuite name="tone.control" tests="50" failures="5" errors="0">' -- cat "$tmp/junit.xml"
expect stored 0 "evals.db" -- ls "$tmp/data"

# Usage, configuration and dataset errors: exit 2, before anything runs.
printf '%s\n' '{"messages":[{"role":"user","content":"x"}],"expected":"y"}' 'not json' \
  '{"messages":[{"role":"user","content":"x"}],"assert":[{"type":"contains-some","value":"x"}]}' >"$tmp/bad.jsonl"
expect bad-line 2 "line 2: not valid JSON" -- "${run[@]}" --dataset "$tmp/bad.jsonl"
expect bad-type 2 "line 3: assert[0].type: unknown assertion type \`contains-some\`" -- "${run[@]}" --dataset "$tmp/bad.jsonl"
echo '{"vars":{"other":"x"},"expected":"y"}' >"$tmp/novars.jsonl"
expect missing-var 2 "line 1: vars.ticket: variant \`control\` (prompt triage@v1) needs this variable" -- \
  "$bin" eval --config "$tmp/eval.yaml" --experiment triage --dataset "$tmp/novars.jsonl"
expect unknown-experiment 2 "experiment \`nope\` is not configured" -- "$bin" eval --config "$tmp/eval.yaml" --experiment nope --dataset "$tmp/pass.jsonl"
expect unknown-variant 2 "has no variant \`zzz\`" -- "${run[@]}" --dataset "$tmp/pass.jsonl" --variants zzz
expect missing-dataset 2 "cannot open the dataset" -- "${run[@]}" --dataset "$tmp/none.jsonl"
expect bad-rate 2 "--min-pass-rate must be a number in [0, 1]" -- "${run[@]}" --dataset "$tmp/pass.jsonl" --min-pass-rate 2
expect bad-format 2 "--format must be" -- "${run[@]}" --dataset "$tmp/pass.jsonl" --format yaml
expect missing-flags 2 "are required" -- "$bin" eval --config "$tmp/eval.yaml"
expect bad-config 2 "invalid configuration" -- "$bin" eval --config "$tmp/none.yaml" --experiment tone --dataset "$tmp/pass.jsonl"

# The sample dataset is valid against its prompt's variables (the mock's answers fail it; the
# judge's "tok…" answers are errors, not passes).
expect sample-dataset 0 "on tickets.jsonl (50 cases)" -- \
  "$bin" eval --config "$tmp/eval.yaml" --experiment triage --dataset "$root/docs/examples/evals/tickets.jsonl" \
  --judge-model large --embedding-model embed
# …and every one of its requests reached the model (vars-only cases need a user message).
sample=$("$bin" eval --config "$tmp/eval.yaml" --experiment triage --format csv \
  --dataset "$root/docs/examples/evals/tickets.jsonl" --judge-model large --embedding-model embed 2>&1)
if [[ $(grep -c . <<<"$sample") -ne 101 ]] || grep -q 'HTTP [45][0-9][0-9]' <<<"$sample"; then
  echo "FAIL sample-requests:"; head -5 <<<"$sample"; fail=1
else
  echo "ok   sample-requests"
fi
exit $fail
