#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 30)
# from its committed seed corpus. New inputs go to build-fuzz/corpus/<name>/, never into the
# repository; a crash leaves its input in build-fuzz/artifacts/ and fails the run.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSWITCHYARD_FUZZ=ON -DSWITCHYARD_TESTS=OFF -DSWITCHYARD_BENCH=OFF \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} \
  >/dev/null
start=$(date +%s)
cmake --build "$build" -j"$jobs" --target fuzz_all
echo "fuzz: build took $(($(date +%s) - start)) s"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
mkdir -p "$build/artifacts" "$build/status"
rm -f "$build/status/"*

# One target: its verdict goes to $build/status/<target> (0 or 1), read after all have run.
run_one() {
  local t=$1
  mkdir -p "$build/corpus/$t" "fuzz/corpus/$t"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    "$build/corpus/$t" "fuzz/corpus/$t" 2>"$build/$t.log"; then
    { echo "fuzz: $t FAILED; see $build/$t.log and $build/artifacts/"; tail -40 "$build/$t.log"; } >&2
    echo 1 >"$build/status/$t"
  else
    echo "fuzz: $t: $(grep -E "stat::number_of_executed_units|stat::new_units_added" \
      "$build/$t.log" | tr -s ' \n' ' ')"
    echo 0 >"$build/status/$t"
  fi
}

# JOBS targets at a time (each libFuzzer process uses one core): on 2 cores the 13 targets take
# half the wall time of running them one after another.
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
done
wait

status=0
for t in "${targets[@]}"; do
  [[ $(cat "$build/status/$t" 2>/dev/null) == 0 ]] || { echo "fuzz: $t did not pass" >&2; status=1; }
done
exit $status
