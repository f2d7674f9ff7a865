#!/usr/bin/env bash
# The README's two commands:
#   quickstart.sh run   [preset]   install what is missing, build, run sre-agent on configs/sre-agent.yaml
#   quickstart.sh test  [preset]   install what is missing, build, run every test (ctest)
set -euo pipefail

cd "$(dirname "$0")/.."
mode="${1:-}"
preset="${2:-release}"

case "$mode" in
  run) bash scripts/setup.sh build ;;
  test) bash scripts/setup.sh test ;;
  *) echo "usage: $0 run|test [release|debug|asan-ubsan|tsan]" >&2; exit 3 ;;
esac

# Paths relative to the checkout, so another clone (CI's) reuses the same ccache entries.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# Configure every time (a second or two): `test` may have just installed what `run` lacked.
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"

if [ "$mode" = run ]; then
  echo "Starting sre-agent with configs/sre-agent.yaml: page http://localhost:8944/ and metrics http://localhost:8944/metrics (Ctrl-C stops it)"
  exec "build/$preset/bin/sre-agent" --config.file=configs/sre-agent.yaml
fi
ctest --preset "$preset"
