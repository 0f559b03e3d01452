#!/usr/bin/env bash
# `make run`: the gateway on config/switchyard.yaml. With OPENAI_API_KEY set it proxies to
# OpenAI; without one it starts the bundled mock LLM and points the same config at it.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."

if [[ -z "${OPENAI_API_KEY:-}" ]]; then
  mock_out=$(mktemp)
  "$build/bench/mock-llm" --port 0 --tokens 24 --inter-token-ms 20 >"$mock_out" &
  mock_pid=$!
  trap 'kill "$mock_pid" 2>/dev/null || true; rm -f "$mock_out"' EXIT
  for _ in $(seq 1 100); do
    grep -q "listening on" "$mock_out" && break
    if ! kill -0 "$mock_pid" 2>/dev/null; then
      echo "run: the mock LLM failed to start" >&2
      exit 1
    fi
    read -r -t 0.05 <> <(:) || true  # wait 50 ms without sleep(1)'s one-second granularity
  done
  mock_addr=$(sed -n 's/^listening on //p' "$mock_out")
  [[ -n "$mock_addr" ]] || { echo "run: the mock LLM did not report its port" >&2; exit 1; }
  export OPENAI_BASE_URL="http://$mock_addr/v1"
  echo "run: OPENAI_API_KEY is not set; serving from the mock LLM at $mock_addr" >&2
fi
"$build/switchyard" --config config/switchyard.yaml &
gw_pid=$!
# Forward Ctrl-C / SIGTERM to the gateway so it drains, then wait for it.
trap 'kill -TERM "$gw_pid" 2>/dev/null || true' INT TERM
wait "$gw_pid" || wait "$gw_pid"
