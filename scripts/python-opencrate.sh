#!/usr/bin/env bash
# Installs the Python OpenCrate library (the one opencrate ports) into .cache/python-opencrate-venv, for the
# interop tests (test/interop). Idempotent and cheap the second time: a stamp records the pinned requirement set.
# Only what `import opencrate` and the artifact types the tests use need is installed: opencrate itself with
# --no-deps (its declared dependencies pull docker, typer, jupyter widgets, ...), then its import-time modules.
# torch is not installed: .pth checkpoints stay Python-only; the tests use the other artifact types.
# Prints the venv's python path on stdout when ready.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache"
venv="$cache/python-opencrate-venv"

OPENCRATE_VERSION="0.1.0rc3"
# What `import opencrate` imports at module load, plus soundfile (audio artifacts) and safetensors (read without
# torch through safetensors.numpy). matplotlib 3.11 breaks lovelyplots.
DEPS=(
  "loguru" "numpy" "pandas" "matplotlib<3.11" "opencv-python-headless" "pillow" "rich" "PyYAML" "requests"
  "imageio" "tqdm" "lovelyplots" "nvidia-ml-py" "memory_profiler" "pyinstrument" "soundfile" "safetensors"
)
pin="opencrate==$OPENCRATE_VERSION ${DEPS[*]}"
stamp="$venv/.python-opencrate.stamp"

log() { printf 'python-opencrate: %s\n' "$*" >&2; }

mkdir -p "$cache"
exec 8>"$cache/python-opencrate.lock"
flock 8

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pin" ]; then
  echo "$venv/bin/python"
  exit 0
fi

python="${PYTHON:-$(command -v python3 || true)}"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
  log "ERROR: needs Python >= 3.9 with venv (python3 -m venv); found '${python:-none}'."
  exit 1
fi
start=$SECONDS
log "creating $venv with $("$python" --version 2>&1): opencrate==$OPENCRATE_VERSION and its import-time modules"
mkdir -p "$cache/logs"
build_log="$cache/logs/python-opencrate.log"
# A venv holds absolute paths, so it is built in place; a half-built one is removed first.
rm -rf "$venv"
if ! {
  "$python" -m venv "$venv" &&
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --no-input --quiet --no-deps "opencrate==$OPENCRATE_VERSION" &&
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --no-input --quiet "${DEPS[@]}" &&
    MPLBACKEND=Agg "$venv/bin/python" -c 'import opencrate, soundfile, safetensors.numpy'
} >"$build_log" 2>&1; then
  log "ERROR: install failed after $((SECONDS - start))s; last lines of $build_log:"
  tail -n 30 "$build_log" >&2
  rm -rf "$venv"
  exit 1
fi
echo "$pin" >"$stamp"
log "installed in $((SECONDS - start))s"
echo "$venv/bin/python"
