#!/usr/bin/env bash
# One entry point from a fresh clone: bash scripts/dev.sh demo | test | bench | <any npm script> [args...]
# Puts Node.js >= 22 on PATH (installing Node 24 into .cache/node if needed), runs `npm ci` when node_modules is
# missing or older than package-lock.json, builds the test servers for test/bench, builds the package, then runs
# the npm script with the remaining arguments (e.g. `bash scripts/dev.sh test test/backends/s3-minio.test.ts`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ $# -eq 0 ]; then
  echo "usage: bash scripts/dev.sh demo|test|bench|<npm script> [args...]" >&2
  exit 2
fi
script="$1"
shift

step() { printf '\n== dev.sh: %s\n' "$*" >&2; }
took() { printf '== dev.sh: %s took %ss\n' "$1" "$((SECONDS - $2))" >&2; }

start=$SECONDS
node_bin="$(bash scripts/ensure-node.sh)"
export PATH="$node_bin:$PATH"
step "node $(node -v), npm $(npm -v) from $node_bin"

# npm ci writes node_modules/.package-lock.json; a lock file newer than it means the install is stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  t=$SECONDS
  npm ci --no-audit --no-fund
  took "npm ci" "$t"
fi

case "$script" in
  test | bench)
    # --- container engine: MinIO and fake-gcs-server run as containers when one answers; without it
    # scripts/test-servers.ts says so in one loud line and runs them as local processes ---
    if [ "${OPENCRATE_TEST_RUNNER:-auto}" != processes ]; then
      step "container engine (scripts/docker-engine.sh)"
      bash scripts/docker-engine.sh || echo "dev.sh: no container engine; the test servers will run as processes" >&2
    fi
    # --- end container engine ---
    step "building the test servers (scripts/build-servers.sh)"
    t=$SECONDS
    if ! bash scripts/build-servers.sh; then
      if [ "${CI:-}" = "true" ]; then
        echo "dev.sh: CI=true and the test servers could not be built" >&2
        exit 1
      fi
      echo "dev.sh: !!! some test servers could not be built; their suites will be skipped" >&2
    fi
    export OPENCRATE_SERVERS_BUILT=1 # tells scripts/test-servers.ts not to try again
    took "building the test servers" "$t"
    if [ "$script" = "test" ]; then
      step "Chromium for the viewer's browser tests (scripts/ensure-chromium.sh)"
      t=$SECONDS
      if ! bash scripts/ensure-chromium.sh && [ "${CI:-}" = "true" ]; then
        echo "dev.sh: CI=true and Chromium could not be installed" >&2
        exit 1
      fi
      took "Chromium" "$t"
    fi
    ;;
esac

step "npm run build"
t=$SECONDS
npm run --silent build
took "npm run build" "$t"

step "npm run $script $*"
t=$SECONDS
status=0
npm run --silent "$script" -- "$@" || status=$?
took "npm run $script" "$t"
took "everything" "$start"
exit "$status"
