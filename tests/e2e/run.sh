#!/usr/bin/env bash
# Runs end-to-end test files (default: all of them) with node's test runner.
# Env: SWITCHYARD_BIN, MOCK_LLM_BIN (see harness.mjs); OPENAI_OPENAPI_SPEC (third_party.test.mjs).
# Usage: run.sh [file.test.mjs ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Install the pinned clients and servers from the lock file when node_modules is missing or
# older than it. ctest may start several e2e tests at once: one installs, the others wait.
exec 9>.npm-install.lock
flock 9
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund
  touch node_modules
fi
flock -u 9

# No telemetry or tracing from the clients under test (LangChain/LangSmith, AI SDK).
export LANGCHAIN_TRACING_V2=false LANGSMITH_TRACING=false LANGCHAIN_CALLBACKS_BACKGROUND=false
export NO_COLOR=1

if [[ $# -eq 0 ]]; then
  set -- openai_sdk.test.mjs resilience.test.mjs fixtures.test.mjs wire_replay.test.mjs wire_http.test.mjs \
    differential.test.mjs third_party.test.mjs
fi
exec node --test --test-concurrency=1 --test-timeout=280000 "$@"
