#!/usr/bin/env bash
# The deploy tests (ctest label `deploy`): the Kubernetes manifests of deploy/kubernetes and the
# Containerfile, checked offline, and the gateway run the way they run it.
#
#   run.sh manifests   kustomize renders every overlay; yamllint; every object validated against
#                      the Kubernetes and Prometheus Operator schemas (npm kubernetes-models,
#                      strict fields); cross-checks with the gateway (check_manifests.py); the
#                      PrometheusRule = deploy/prometheus's rules, `promtool check rules` passes;
#                      the monitoring copies are in sync.
#   run.sh gateway     each overlay's gateway container run as the kubelet would (podsim.py):
#                      its ConfigMap config passes --check-config, probes answer, the alerts'
#                      metrics are exported, SIGTERM drains within terminationGracePeriodSeconds.
#   run.sh image       the Containerfile checked statically (check_image.py) and the binary run as
#                      the image runs it (podsim.py image).
#
# Env (gateway, image): SWITCHYARD_BIN, MOCK_LLM_BIN. Exit 0 = pass, 1 = fail, 77 = skipped
# (the namespaces need root). Tools: kubectl (kustomize ≥ 4), node + npm, yamllint, promtool,
# python3 with PyYAML — `scripts/install-deps.sh test` installs them (kubectl aside: see below).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
kube=$root/deploy/kubernetes
overlays=(deployment sidecar)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3) || { echo "FAIL: python3 is required"; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# kubectl kustomize of whatever kubectl is installed; these manifests use kustomize 4+ syntax
# (`labels:`, directories in `resources:`), which Debian 12's kubernetes-client 1.20
# (kustomize v2.0.3) cannot read: then the test says so rather than render something else.
kustomize() {
  command -v kubectl >/dev/null 2>&1 ||
    fail "kubectl is not installed (kubectl ≥ 1.21 renders kustomize; Debian's 1.20 is too old)"
  local version
  version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\{0,1\}//p')
  if [[ -z $version || ${version%%.*} -lt 4 ]]; then
    fail "kubectl $(kubectl version --client 2>/dev/null | head -n 1) bundles kustomize" \
      "${version:-v2 or older}; these manifests need kustomize ≥ 4 (kubectl ≥ 1.21)"
  fi
  kubectl kustomize "$1"
}

render() {
  local o
  for o in "${overlays[@]}"; do
    kustomize "$kube/$o" >"$tmp/$o.yaml" || fail "kubectl kustomize deploy/kubernetes/$o failed"
  done
}

npm_ci() {
  command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/install-deps.sh test)"
  # ctest may run several deploy tests at once: one installs, the others wait.
  exec 9>"$here/.npm-install.lock"
  flock 9
  if [[ ! -d $here/node_modules || $here/package-lock.json -nt $here/node_modules ]]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
    touch "$here/node_modules"
  fi
  flock -u 9
}

manifests() {
  local o tool
  for tool in yamllint promtool node; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (scripts/install-deps.sh test)"
  done
  "$py" -c 'import yaml' 2>/dev/null || fail "PyYAML is missing (Debian python3-yaml)"
  npm_ci

  step "monitoring copies in sync with deploy/prometheus and deploy/grafana"
  "$py" "$kube/sync_monitoring.py" --check || fail "run deploy/kubernetes/sync_monitoring.py"

  step "yamllint of the sources"
  yamllint -c "$here/.yamllint" -f parsable "$kube" "$root/deploy/container" ||
    fail "yamllint found problems in deploy/kubernetes or deploy/container"

  step "kubectl kustomize: ${overlays[*]} ($(kubectl version --client 2>/dev/null | tail -n 1))"
  render
  # Rendered streams: generated lines (the dashboard JSON, the config) may be long.
  for o in "${overlays[@]}"; do
    yamllint -d "{extends: $here/.yamllint, rules: {line-length: disable}}" -f parsable \
      "$tmp/$o.yaml" || fail "yamllint: the rendered $o overlay"
    echo "   $o: $(grep -c '^kind: ' "$tmp/$o.yaml") objects"
  done

  step "schemas (kubernetes-models, @kubernetes-models/prometheus-operator; strict fields)"
  node "$here/validate.mjs" --self-test || fail "validate.mjs self-test"
  local files=()
  for o in "${overlays[@]}"; do files+=("$tmp/$o.yaml"); done
  node "$here/validate.mjs" "${files[@]}" >"$tmp/validate.out" 2>&1 || {
    sed "s|$tmp/||" "$tmp/validate.out"
    fail "schema validation of the rendered objects"
  }
  sed "s|$tmp/|   |" "$tmp/validate.out"

  step "what the manifests name exists in the gateway"
  "$py" "$here/check_manifests.py" --self-test >/dev/null || fail "check_manifests.py self-test"
  for o in "${overlays[@]}"; do
    "$py" "$here/check_manifests.py" "$o" "$tmp/$o.yaml" "$tmp/$o.plan.json" "$tmp/$o.rules.yml" ||
      fail "deploy/kubernetes/$o: see above"
    promtool check rules "$tmp/$o.rules.yml" | sed 's/^/   /' ||
      fail "promtool check rules: the PrometheusRule of $o"
  done
  echo "PASS: deploy manifests (${overlays[*]})"
}

need_bins() {
  : "${SWITCHYARD_BIN:?set SWITCHYARD_BIN to the switchyard binary}"
  : "${MOCK_LLM_BIN:?set MOCK_LLM_BIN to the mock-llm binary}"
  [[ -x $SWITCHYARD_BIN && -x $MOCK_LLM_BIN ]] || fail "SWITCHYARD_BIN / MOCK_LLM_BIN not executable"
}

gateway() {
  need_bins
  command -v redis-server >/dev/null 2>&1 || fail "redis-server is not installed (Debian redis-server)"
  "$py" "$here/check_image.py" "$SWITCHYARD_BIN" --json "$tmp/image.json" >"$tmp/image.out" ||
    { cat "$tmp/image.out"; fail "Containerfile (needed for the ENTRYPOINT and USER)"; }
  render
  local o rc=0
  for o in "${overlays[@]}"; do
    "$py" "$here/check_manifests.py" "$o" "$tmp/$o.yaml" "$tmp/$o.plan.json" "$tmp/$o.rules.yml" \
      >"$tmp/$o.check" || { cat "$tmp/$o.check"; fail "deploy/kubernetes/$o: static checks"; }
    "$py" "$here/podsim.py" overlay "$tmp/$o.plan.json" "$tmp/image.json" || rc=$?
    ((rc == 0)) || break
  done
  ((rc == 0)) && echo "PASS: each overlay's gateway container runs as the kubelet would run it"
  return "$rc"
}

image() {
  need_bins
  step "Containerfile, statically"
  "$py" "$here/check_image.py" "$SWITCHYARD_BIN" --json "$tmp/image.json" || fail "Containerfile"
  local rc=0
  "$py" "$here/podsim.py" image "$tmp/image.json" || rc=$?
  ((rc == 0)) && echo "PASS: the binary runs as the image runs it"
  return "$rc"
}

case "${1:-}" in
  manifests) manifests ;;
  gateway) gateway ;;
  image) image ;;
  *) echo "usage: $0 manifests|gateway|image" >&2; exit 2 ;;
esac
