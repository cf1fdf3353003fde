#!/usr/bin/env bash
# Builds the local test servers into .cache, from source, at pinned versions:
#   minio            .cache/bin/minio            (go install; the Go proxy refuses RELEASE.* tags, so a pseudo-version)
#   fake-gcs-server  .cache/bin/fake-gcs-server  (go install)
#   moto             .cache/moto-venv            (python3 -m venv + pip install 'moto[server]')
#   toxiproxy        .cache/bin/toxiproxy-server (go install; network faults, as a container or a process)
#   python-opencrate .cache/python-opencrate-venv (Python OpenCrate for the interop tests; scripts/python-opencrate.sh)
# Usage: bash scripts/build-servers.sh [minio] [fake-gcs-server] [moto] [toxiproxy] [python-opencrate]   (no argument: all five)
# Idempotent: a server already built at its pinned version is skipped. The version check reads the artifact itself
# (`go version -m` for Go binaries, the installed distribution for moto) and a stamp file records the pin.
# Builds every requested server even when one fails, then exits 1 naming the failures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache"

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c" # HEAD 7aac2a2c5, 2026-02-11: has the conditional-write fixes
FAKE_GCS_MODULE="github.com/fsouza/fake-gcs-server"
FAKE_GCS_VERSION="v1.55.1" # >= 1.55.0 honours ifGenerationMatch on resumable uploads
MOTO_VERSION="5.2.5"       # >= 5.1.11 for If-None-Match on CompleteMultipartUpload
GO_MIN="1.25.8"            # fake-gcs-server's go.mod
# --- toxiproxy (network fault injection; docker/toxiproxy.Dockerfile packs this binary) ---
TOXIPROXY_MODULE="github.com/Shopify/toxiproxy/v2"
TOXIPROXY_VERSION="v2.5.0" # the newest the Go module proxy serves
# --- end toxiproxy ---

log() { printf 'build-servers: %s\n' "$*" >&2; }

elapsed() { # seconds since $1 (a $SECONDS value)
  echo "$((SECONDS - $1))s"
}

find_go() {
  if [ -n "${GO:-}" ]; then echo "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

go_bin=""
check_go() { # sets go_bin, or explains why Go cannot build the servers
  [ -n "$go_bin" ] && return 0
  local go version
  if ! go="$(find_go)"; then
    log "ERROR: no Go toolchain found (looked at \$GO, PATH and /usr/local/go/bin/go)."
    log "       MinIO and fake-gcs-server are built from source and need Go >= $GO_MIN."
    log "       Debian's golang-go is too old; install Go from https://go.dev/dl/ into /usr/local/go."
    return 1
  fi
  version="$("$go" env GOVERSION 2>/dev/null || true)"
  version="${version#go}"
  if [ -z "$version" ] || [ "$(printf '%s\n%s\n' "$GO_MIN" "$version" | sort -V | head -n1)" != "$GO_MIN" ]; then
    log "ERROR: $go is Go '${version:-unknown}'; building the test servers needs Go >= $GO_MIN."
    log "       Debian's golang-go is too old; install Go from https://go.dev/dl/ into /usr/local/go."
    return 1
  fi
  go_bin="$go"
}

go_env() {
  env GOPATH="$cache/gopath" GOCACHE="$cache/go-build" GOBIN="$cache/bin" \
    GOFLAGS="-modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0 "$@"
}

# go_install NAME MODULE VERSION [PACKAGE]: `go install PACKAGE@VERSION` (PACKAGE defaults to MODULE) into
# .cache/bin/NAME unless that exact build is there.
go_install() {
  local name="$1" module="$2" version="$3" package="${4:-$2}" bin="$cache/bin/$1" stamp="$cache/bin/.$1.version" start=$SECONDS
  check_go || return 1
  if [ -x "$bin" ] && go_env "$go_bin" version -m "$bin" 2>/dev/null |
    grep -qE "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
    echo "$module@$version" >"$stamp"
    log "$name: up to date ($version)"
    return 0
  fi
  log "$name: building $module@$version with $("$go_bin" env GOVERSION) (first build downloads modules; minutes)"
  mkdir -p "$cache/bin" "$cache/logs"
  local build_log="$cache/logs/build-$name.log"
  # go install names the binary after the package's last path element (toxiproxy's is "server"): install into a
  # scratch GOBIN, then move it to its name.
  local gobin="$cache/gobin.$name"
  rm -rf "$gobin"
  if ! go_env GOBIN="$gobin" "$go_bin" install "$package@$version" >"$build_log" 2>&1; then
    log "ERROR: $name build failed after $(elapsed "$start"); last lines of $build_log:"
    tail -n 30 "$build_log" >&2
    rm -rf "$gobin"
    return 1
  fi
  mv -f "$gobin/${package##*/}" "$bin"
  rm -rf "$gobin"
  echo "$module@$version" >"$stamp"
  log "$name: built in $(elapsed "$start")"
}

build_moto() {
  local venv="$cache/moto-venv" stamp="$cache/moto-venv/.moto.version" start=$SECONDS python installed
  if [ -x "$venv/bin/moto_server" ] &&
    installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" &&
    [ "$installed" = "$MOTO_VERSION" ]; then
    echo "moto==$MOTO_VERSION" >"$stamp"
    log "moto: up to date ($MOTO_VERSION)"
    return 0
  fi
  python="${PYTHON:-$(command -v python3 || true)}"
  if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    log "ERROR: moto needs Python >= 3.9 with venv (python3 -m venv); found '${python:-none}'."
    log "       On Debian: apt-get install -y python3 python3-venv"
    return 1
  fi
  log "moto: creating $venv with $("$python" --version 2>&1) and installing moto[server]==$MOTO_VERSION"
  mkdir -p "$cache/logs"
  local build_log="$cache/logs/build-moto.log"
  # A venv holds absolute paths, so it is built in place; a half-built one is removed first.
  rm -rf "$venv"
  if ! { "$python" -m venv "$venv" &&
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --no-input --quiet "moto[server]==$MOTO_VERSION"; } \
    >"$build_log" 2>&1; then
    log "ERROR: moto install failed after $(elapsed "$start"); last lines of $build_log:"
    tail -n 30 "$build_log" >&2
    rm -rf "$venv"
    return 1
  fi
  echo "moto==$MOTO_VERSION" >"$stamp"
  log "moto: installed in $(elapsed "$start")"
}

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(minio fake-gcs-server moto toxiproxy python-opencrate)

mkdir -p "$cache"
# Two concurrent runs (two terminals, or dev.sh and test.ts) would race on the same go install / venv.
exec 9>"$cache/build-servers.lock"
if ! flock -n 9; then
  log "another build-servers.sh is running; waiting for it"
  flock 9
fi

total_start=$SECONDS
failed=()
for target in "${targets[@]}"; do
  case "$target" in
    minio) go_install minio "$MINIO_MODULE" "$MINIO_VERSION" || failed+=(minio) ;;
    fake-gcs-server | gcs) go_install fake-gcs-server "$FAKE_GCS_MODULE" "$FAKE_GCS_VERSION" || failed+=(fake-gcs-server) ;;
    moto) build_moto || failed+=(moto) ;;
    toxiproxy) go_install toxiproxy-server "$TOXIPROXY_MODULE" "$TOXIPROXY_VERSION" "$TOXIPROXY_MODULE/cmd/server" || failed+=(toxiproxy) ;;
    python-opencrate) bash "$root/scripts/python-opencrate.sh" >/dev/null || failed+=(python-opencrate) ;;
    *) log "unknown server '$target' (expected minio, fake-gcs-server, moto, toxiproxy or python-opencrate)"; exit 2 ;;
  esac
done

if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]} (total $(elapsed "$total_start"))"
  exit 1
fi
log "all ready in $(elapsed "$total_start")"
