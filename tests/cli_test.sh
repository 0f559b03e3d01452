#!/usr/bin/env bash
# The command line as a user meets it: --version, --check-config on good and bad files.
set -uo pipefail
bin=${1:?usage: cli_test.sh SWITCHYARD_BIN}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # expect NAME EXIT_CODE PATTERN -- command...
  local name=$1 code=$2 pattern=$3
  shift 4
  local out
  out=$("$@" 2>&1)
  local got=$?
  if [[ $got -ne $code ]] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $got (want $code); output:"
    echo "$out"
    fail=1
  else
    echo "ok   $name"
  fi
}

expect version 0 "switchyard 0." -- "$bin" --version
expect default-config 0 "configuration is valid" -- env -u OPENAI_API_KEY "$bin" --check-config "$root/config/switchyard.yaml"

cat >"$tmp/bad.yaml" <<'YAML'
listen: 0.0.0.0:8080
upstreams:
  - name: up
    base_url: http://127.0.0.1:9/v1
    max_connections: 0
models:
  - { name: m, upstream: nowhere }
timeouts: { connect: 5 }
YAML
expect bad-config 2 "upstreams[0].max_connections: must be an integer in [1, 100000] (line 5)" -- "$bin" --check-config "$tmp/bad.yaml"
expect bad-config-all-errors 2 "models[0].upstream: no upstream named nowhere (line 7)" -- "$bin" --check-config "$tmp/bad.yaml"
expect bad-config-duration 2 "timeouts.connect: must be a positive duration" -- "$bin" --check-config "$tmp/bad.yaml"

cat >"$tmp/env.yaml" <<'YAML'
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1", api_key: "${SWITCHYARD_TEST_UNSET_KEY}" } ]
models: [ { name: m, upstream: up } ]
YAML
expect unset-env 2 "upstreams[0].api_key: environment variable SWITCHYARD_TEST_UNSET_KEY is not set" -- env -u SWITCHYARD_TEST_UNSET_KEY "$bin" --check-config "$tmp/env.yaml"
expect set-env 0 "configuration is valid" -- env SWITCHYARD_TEST_UNSET_KEY=sk-1 "$bin" --check-config "$tmp/env.yaml"
expect missing-file 2 "cannot open" -- "$bin" --check-config "$tmp/nope.yaml"
expect bad-arg 2 "usage:" -- "$bin" --frobnicate

# Upstream types: a valid file with each, then the errors a user meets when moving to Azure.
cat >"$tmp/types.yaml" <<'YAML'
upstreams:
  - { name: openai, type: openai, base_url: https://api.openai.com/v1, api_key: sk-1 }
  - { name: azure, type: azure, resource: my-resource, api_version: 2024-10-21, api_key: k }
  - { name: azure-v1, type: azure, base_url: https://my-resource.openai.azure.com/openai/v1, auth: entra, api_key: t }
  - { name: claude, type: anthropic, base_url: https://api.anthropic.com/v1, api_key: sk-ant }
models:
  - { name: gpt-4o, upstream: azure, model: gpt4o-deployment }
  - { name: claude-sonnet, upstream: claude, model: claude-sonnet-4-5 }
YAML
expect upstream-types 0 "configuration is valid" -- "$bin" --check-config "$tmp/types.yaml"
cat >"$tmp/azure-bad.yaml" <<'YAML'
upstreams:
  - { name: azure, type: azure, base_url: "https://r.openai.azure.com/openai?api-version=2024-10-21" }
  - { name: azure2, type: azure, resource: my-res }
  - { name: local, base_url: "http://127.0.0.1:8080/v1", apis: [chat, messages] }
models: [ { name: m, upstream: azure } ]
YAML
expect azure-query 2 "upstreams[0].base_url: must not have a query: write the API version as api_version: 2024-10-21" -- "$bin" --check-config "$tmp/azure-bad.yaml"
expect azure-no-version 2 "upstreams[1].api_version: is required for type azure" -- "$bin" --check-config "$tmp/azure-bad.yaml"
expect apis-refused 2 "upstreams[2].apis[1]: messages: messages is Anthropic's API" -- "$bin" --check-config "$tmp/azure-bad.yaml"

# SIGHUP reloads through the same contract as POST /api/v1/reload: a boot key is refused by its
# path, a hot key (the feedback signing key) applies. Every wait is a bounded poll of the log.
hup_config() {  # hup_config WORKERS SIGNING_KEY
  cat >"$tmp/hup.yaml" <<YAML
listen: 127.0.0.1:0
workers: $1
data_dir: $tmp
log: { level: info, access: off }
timeouts: { drain: 1s, drain_grace: 0s }
feedback: { signing_key: "$2" }
upstreams: [ { name: up, base_url: "http://127.0.0.1:9/v1" } ]
models: [ { name: m, upstream: up } ]
YAML
}
wait_log() {  # wait_log NAME PATTERN: up to 10 s
  for _ in $(seq 100); do
    if grep -qF -- "$2" "$tmp/hup.log"; then echo "ok   $1"; return; fi
    sleep 0.1
  done
  echo "FAIL $1: no \"$2\" in the log:"; cat "$tmp/hup.log"; fail=1
}
hup_config 1 key-a-0123456789abcdef
"$bin" --config "$tmp/hup.yaml" 2>"$tmp/hup.log" &
pid=$!
wait_log sighup-started "listening on 127.0.0.1:"
hup_config 2 key-b-0123456789abcdef
kill -HUP $pid
wait_log sighup-boot-key-refused '`workers` changed: that needs a restart'
hup_config 1 key-b-0123456789abcdef
kill -HUP $pid
wait_log sighup-hot-key-applied "configuration reloaded"
kill -TERM $pid
wait $pid || { echo "FAIL sighup-exit: exit $?"; fail=1; }
exit $fail
