#!/usr/bin/env bash
# Runs every libFuzzer target of a clang build (the asan-ubsan preset) for a while each and prints
# a table: executions, exec/s, final coverage/features, corpus size, and any crash file.
#
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET]     # defaults: build/asan-ubsan 300
#   JOBS=2 tests/fuzz/run.sh build/asan-ubsan 60            # two targets at a time (at most 2)
#   SCRATCH=/tmp/my-fuzz tests/fuzz/run.sh ...              # where new inputs and logs go
#
# New inputs go to $SCRATCH/<target>/corpus (default: a new mktemp directory, kept and printed),
# never into the checked-in corpora under tests/fuzz/corpus, which are only read. Crash, leak,
# timeout and OOM reproducers go to $SCRATCH/<target>/. Exits 1 if any target found one.
set -euo pipefail

build=${1:-build/asan-ubsan}
seconds=${2:-300}
jobs=${JOBS:-1}
if ((jobs < 1)); then jobs=1; fi
if ((jobs > 2)); then jobs=2; fi  # the machine has 2 cores; never more fuzzers than that
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fuzz_bin="$build/tests/fuzz"
scratch=${SCRATCH:-$(mktemp -d /tmp/sre-fuzz-XXXXXX)}
mkdir -p "$scratch"

if [[ ! -d $fuzz_bin ]]; then
  echo "run.sh: $fuzz_bin does not exist; build the asan-ubsan preset first" >&2
  exit 2
fi

targets=()
for bin in "$fuzz_bin"/*_fuzz; do
  [[ -x $bin ]] || continue
  # A g++ build links the replay driver instead of libFuzzer; it cannot fuzz for a time.
  if ! grep -aq "INFO: Seed:" "$bin"; then
    echo "run.sh: $bin is not a libFuzzer binary (a g++ build?); use the asan-ubsan preset" >&2
    exit 2
  fi
  targets+=("$(basename "$bin")")
done
if ((${#targets[@]} == 0)); then
  echo "run.sh: no *_fuzz binaries in $fuzz_bin" >&2
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: fuzz from the checked-in seeds (read only) into its scratch corpus. Called by xargs.
# shellcheck disable=SC2317
run_one() {
  local name=$1 dir="$scratch/$1"
  mkdir -p "$dir/corpus"
  "$fuzz_bin/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/" \
    "$dir/corpus" "$source_dir/corpus/${name%_fuzz}" >"$dir/log" 2>&1 || true
}
export -f run_one
export fuzz_bin scratch seconds source_dir

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time; scratch: $scratch"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}

status=0
printf '%-24s %6s %12s %8s %7s %7s %8s  %s\n' target seeds executions exec/s cov ft corpus crash
for name in "${targets[@]}"; do
  dir="$scratch/$name"
  log="$dir/log"
  seeds=$(find "$source_dir/corpus/${name%_fuzz}" -type f 2>/dev/null | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
  crash=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'slow-unit-*' \) | head -1)
  if [[ -n $crash ]] || ! grep -q '^stat::number_of_executed_units' "$log"; then
    status=1
    crash=${crash:-"no final stats; see $log"}
  fi
  printf '%-24s %6s %12s %8s %7s %7s %8s  %s\n' "$name" "$seeds" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "${crash:--}"
done
echo "logs and new inputs: $scratch"
exit $status
