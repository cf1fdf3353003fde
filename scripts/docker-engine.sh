#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, for the container test servers and the docker/ checks.
#   bash scripts/docker-engine.sh            use the engine if it answers, else start an installed dockerd
#   bash scripts/docker-engine.sh --install  also apt-get install docker.io, docker-compose, busybox-static (root)
# Exit 0: `docker info` answers. Exit 1: no engine (the reason and, if dockerd ran, its log tail on stderr).
#
# dockerd runs in the background with its log in .cache/logs/dockerd.log and is left running (a second run finds
# it). Start-up is tried up to three times, each with a fallback for what commonly breaks on CI machines and in
# nested containers: 1) defaults, 2) --iptables=false (published ports then go through docker-proxy, which is
# enough for 127.0.0.1), 3) also --storage-driver=vfs (slow, but needs no overlay support).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
logs="$root/.cache/logs"
dockerd_log="$logs/dockerd.log"
WAIT_SECONDS=60

log() { printf 'docker-engine: %s\n' "$*" >&2; }

answers() { timeout 20 docker info >/dev/null 2>&1; }

install=false
[ "${1:-}" = "--install" ] && install=true

missing() { # what --install would add: the engine, a compose, and the static busybox the images carry
  command -v dockerd >/dev/null 2>&1 || echo dockerd
  command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || echo compose
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || echo busybox-static
}

if ! { $install && [ -n "$(missing)" ]; } && command -v docker >/dev/null 2>&1 && answers; then
  log "engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [ -n "$(missing)" ]; then
  if ! $install; then
    command -v dockerd >/dev/null 2>&1 || { log "no dockerd on this machine (Debian: apt-get install docker.io)"; exit 1; }
  elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install docker.io here (needs root and apt-get)"
    exit 1
  else
    log "installing docker.io, docker-compose and busybox-static (apt-get)"
    for attempt in 1 2 3; do
      mkdir -p "$root/.cache"
      if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io docker-compose busybox-static; } >"$root/.cache/apt-docker.log" 2>&1; then
        break
      fi
      log "apt-get attempt $attempt failed; last lines:"
      tail -n 15 "$root/.cache/apt-docker.log" >&2
      [ "$attempt" = 3 ] && exit 1
      sleep 10
    done
  fi
fi

if [ "$(id -u)" != 0 ]; then
  log "dockerd is installed but not answering, and starting it needs root (or add yourself to the docker group)"
  exit 1
fi

if answers; then log "engine answers"; exit 0; fi

mkdir -p "$logs"
exec 9>"$root/.cache/docker-engine.lock"
flock 9
answers && { log "engine answers (started by another run)"; exit 0; }

pid_file=/var/run/docker.pid
stop_ours() { # the dockerd we started (its pid file), never another one
  local pid
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

for attempt in 1 2 3; do
  flags=()
  [ "$attempt" -ge 2 ] && flags+=(--iptables=false)
  [ "$attempt" -ge 3 ] && flags+=(--storage-driver=vfs)
  # A pid file left by a dockerd that died makes the next one refuse to start.
  if [ -f "$pid_file" ] && ! kill -0 "$(cat "$pid_file" 2>/dev/null || echo 0)" 2>/dev/null; then rm -f "$pid_file"; fi
  printf '\n==== %s: dockerd %s (attempt %s)\n' "$(date -u +%FT%TZ)" "${flags[*]:-}" "$attempt" >>"$dockerd_log"
  log "starting dockerd ${flags[*]:-} (attempt $attempt, log ${dockerd_log#"$root"/})"
  setsid dockerd "${flags[@]}" >>"$dockerd_log" 2>&1 </dev/null &
  started=$SECONDS
  while [ $((SECONDS - started)) -lt "$WAIT_SECONDS" ]; do
    if answers; then
      log "engine up in $((SECONDS - started))s ($(docker info --format '{{.ServerVersion}}, {{.Driver}}' 2>/dev/null))"
      exit 0
    fi
    kill -0 $! 2>/dev/null || break
    sleep 1
  done
  log "dockerd did not answer (attempt $attempt); last lines of its log:"
  tail -n 25 "$dockerd_log" | sed 's/^/  dockerd| /' >&2
  stop_ours
done
log "giving up: no Docker engine"
exit 1
