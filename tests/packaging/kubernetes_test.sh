#!/usr/bin/env bash
# The Kubernetes manifests: `kubectl kustomize` renders every overlay, and the rendered objects
# pass the Kubernetes API schema (kubernetes-models validators) and the checks of
# packaging/kubernetes/test/validate.mjs (hardening, probes, volumes, annotations, egress).
#   kubernetes_test.sh WORK_DIR
# The validators are installed with `npm ci` into WORK_DIR (the build directory's
# packaging/kubernetes-test), from packaging/kubernetes/test/package-lock.json; the first run
# needs the npm registry, later runs reuse the install while the lock file is unchanged.
# With CI=true a missing kubectl, node or npm fails the test; elsewhere it skips (exit 77).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/../.." && pwd)
k8s="$source_dir/packaging/kubernetes"
work=${1:?usage: kubernetes_test.sh WORK_DIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
missing() {
  if [ "${CI:-}" = true ]; then fail "$1 (with CI=true this fails instead of skipping)"; fi
  echo "SKIPPED: $1; run with CI=true to make this a failure" >&2
  exit 77
}
have() { command -v "$1" >/dev/null; }

have kubectl || missing "kubectl is missing (it renders the overlays with 'kubectl kustomize')"

overlays=()
for dir in "$k8s"/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  kubectl kustomize "$dir" >"$work/$name.yaml" 2>"$work/$name.err" || {
    cat "$work/$name.err" >&2
    fail "kubectl kustomize overlays/$name"
  }
  echo "ok: kubectl kustomize overlays/$name ($(grep -c '^kind:' "$work/$name.yaml") objects)"
done
[ ${#overlays[@]} -ge 2 ] || fail "expected the plain and eks overlays, found: ${overlays[*]}"

have node || missing "node is missing (the kubernetes-models validators run on Node.js 20)"
have npm || missing "npm is missing (it installs the kubernetes-models validators)"

# Install (again) when the lock file changed since the last install.
for f in package.json package-lock.json validate.mjs; do cp "$k8s/test/$f" "$work/$f.new"; done
lock="$work/package-lock.json"
if [ ! -d "$work/node_modules" ] || ! cmp -s "$lock.new" "$lock"; then
  rm -rf "$work/node_modules"
  cp "$work/package.json.new" "$work/package.json"
  cp "$work/package-lock.json.new" "$work/package-lock.json"
  (cd "$work" && npm ci --no-audit --no-fund --prefer-offline) >"$work/npm.log" 2>&1 || {
    cat "$work/npm.log" >&2
    fail "npm ci in $work (needs the npm registry the first time)"
  }
  echo "ok: npm ci in $work"
fi
cp "$work/validate.mjs.new" "$work/validate.mjs"
rm -f "$work"/*.new

(cd "$work" && node validate.mjs "${overlays[@]/%/.yaml}") || fail "validate.mjs"
echo "ok: every overlay's objects validate"
