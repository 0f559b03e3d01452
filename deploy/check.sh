#!/usr/bin/env bash
# Validates everything under deploy/: the alerting rules and their unit tests, the example
# Prometheus config, and the Grafana dashboard (JSON structure and every PromQL expression).
# Exit 0 = all good, 1 = a check failed, 77 = promtool is not installed (ctest SKIP).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not found (Debian package prometheus)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "FAIL: python3 is needed to check the dashboard"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()

# check NAME -- command...: runs it, shows its output indented, records a failure.
check() {
  local name=$1
  shift 2
  echo "== $name"
  if "$@" >"$tmp/out" 2>&1; then
    sed 's/^/   /' "$tmp/out"
    echo "   ok"
  else
    sed 's/^/   /' "$tmp/out"
    echo "   FAILED: $*"
    failed+=("$name")
  fi
}

prom=$here/prometheus
dash=$here/grafana/switchyard-dashboard.json
checker=$here/grafana/check_dashboard.py

check "alerting rules parse" -- promtool check rules "$prom/switchyard-alerts.yml"
check "alerting rules unit tests" -- promtool test rules "$prom/switchyard-alerts.test.yml"
check "alerting rules use contract metric names" -- \
  python3 "$checker" names "$prom/switchyard-alerts.yml" "$prom/switchyard-alerts.test.yml"
check "example Prometheus config (and the rule files it loads)" -- \
  promtool check config "$prom/prometheus.example.yml"
check "dashboard is well-formed JSON" -- python3 -m json.tool "$dash" /dev/null
check "dashboard structure, variables, metric names" -- python3 "$checker" lint "$dash"
# promtool has no "check expression": each expression becomes a recording rule instead.
dashboard_exprs_parse() {
  python3 "$checker" rules "$dash" "$tmp/dashboard-rules.yml" &&
    promtool check rules "$tmp/dashboard-rules.yml"
}
check "dashboard PromQL expressions parse" -- dashboard_exprs_parse

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all deploy/ checks passed"
