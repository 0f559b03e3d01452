#!/usr/bin/env bash
# Installs what building, testing and benchmarking Switchyard needs, from Debian 12 packages only.
# Idempotent: packages already present are not touched, so a second run costs one dpkg query.
set -euo pipefail

build_pkgs=(
  g++ cmake make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsimdjson-dev zlib1g-dev libssl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libsqlite3-dev
  libhiredis-dev
  ca-certificates
)
test_pkgs=(libgtest-dev libgmock-dev libbenchmark-dev curl python3 openssl prometheus redis-server chromium)
bench_pkgs=(nginx-light wrk)
fuzz_pkgs=(clang libclang-rt-14-dev)  # libFuzzer and the sanitizer runtimes for clang
test_pkgs+=(yamllint python3-yaml iproute2)  # tests/deploy: lint, PyYAML, `ip` in its namespaces

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|fuzz]" >&2; exit 2 ;;
esac
# Node.js runs the end-to-end tests with the official openai SDK; any Node >= 18 will do,
# so a machine that already has one (from Debian or NodeSource) keeps it.
# The build needs them too: the dashboard (ui/) is embedded through npm ci + node.
if ! command -v npm >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
