#!/usr/bin/env bash
# The dashboard's browser tests (node's test runner, playwright-core, Debian's chromium).
# Env: SWITCHYARD_BIN, MOCK_LLM_BIN (tests/e2e/harness.mjs), UI_SCREENSHOTS (where the
# screenshots go), CHROMIUM_BIN (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec 9>.npm-install.lock
flock 9
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  touch node_modules
fi
flock -u 9
exec node --test --test-concurrency=1 --test-timeout=240000 dashboard.test.mjs evals_flags.test.mjs
