#!/usr/bin/env bash
# Installs Debian's Chromium for the viewer's browser tests (test/ui), which drive it with playwright-core: no
# browser is downloaded from anywhere but the distribution's apt repositories. Skips when Chromium is already there
# (or OPENCRATE_CHROMIUM names one). Needs root (CI runs as root); without it, says how and fails.
# Usage: bash scripts/ensure-chromium.sh   (idempotent)
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if [ -n "${OPENCRATE_CHROMIUM:-}" ] && [ -x "$OPENCRATE_CHROMIUM" ]; then
  log "using $OPENCRATE_CHROMIUM"
  exit 0
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ]; then
    log "found $candidate ($("$candidate" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here: install Chromium yourself and set OPENCRATE_CHROMIUM to its path."
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    log "installing Chromium needs root: run 'sudo apt-get update && sudo apt-get install -y chromium'."
    exit 1
  fi
fi
log "installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
