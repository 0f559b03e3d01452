#!/usr/bin/env bash
# Runs the openai-SDK end-to-end tests. Env: SWITCHYARD_BIN, MOCK_LLM_BIN (see harness.mjs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Install the pinned SDK when node_modules is missing or older than the lock file.
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund
  touch node_modules
fi

exec node --test --test-timeout=60000 openai_sdk.test.mjs resilience.test.mjs
