#!/usr/bin/env bash
# Checks the docker/ folder end to end on a running engine (scripts/docker-engine.sh), as CI does:
#   1. the server images (scripts/build-images.ts), a Node base (scripts/build-node-base.sh, unless
#      OPENCRATE_NODE_IMAGE names one, e.g. node:24-bookworm-slim where a registry is reachable) and the CLI
#      image from docker/Dockerfile, tagged opencrate-cli:local (Docker's layer cache makes a rerun quick);
#   2. docker/compose.yaml up: MinIO and fake-gcs-server healthy, the `buckets` service exits 0;
#   3. the snapshot guide (npm run demo) against s3://opencrate/guide and gs://opencrate/guide;
#   4. `opencrate pull s3://...` from the CLI image: into its own /work as the image's user, and through the compose
#      `cli` service, as the owner of the folder mounted there, compared with a pull made on the host;
#   5. `docker stop` of a `cat` that waits on a store that never answers: the CLI, PID 1 there, ends by SIGTERM (143).
# The compose project is removed at the end, also on failure or interruption.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$(bash scripts/ensure-node.sh):$PATH"
project="opencrate-checks"
bucket="opencrate"
logs="$root/.cache/logs"
mkdir -p "$logs"

step() { printf '\n== docker-checks: %s\n' "$*" >&2; }
took() { printf '== docker-checks: %s took %ss\n' "$1" "$(($SECONDS - $2))" >&2; }
# Waits up to 20 s for a command to succeed, else fails naming what did not happen.
wait_until() {
  local what="$1" i
  shift
  for i in $(seq 200); do "$@" && return 0; sleep 0.1; done
  echo "docker-checks: $what" >&2
  exit 1
}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

if ! timeout 20 docker info >/dev/null 2>&1; then
  echo "docker-checks: no container engine answers (bash scripts/docker-engine.sh starts one)" >&2
  exit 1
fi
compose=(docker-compose)
if docker compose version >/dev/null 2>&1; then compose=(docker compose); fi
command -v "${compose[0]}" >/dev/null 2>&1 || { echo "docker-checks: neither docker compose nor docker-compose" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund

export OPENCRATE_MINIO_PORT="$(free_port)" OPENCRATE_MINIO_CONSOLE_PORT="$(free_port)" OPENCRATE_GCS_PORT="$(free_port)"
pulled="$(mktemp -d "${TMPDIR:-/tmp}/opencrate-pulled-XXXXXX")"
# The cli service runs as OPENCRATE_UID:OPENCRATE_GID, which docker/compose.yaml says to set to the owner of the
# folder: as root, the folder is given to an unprivileged user of its own, so that the pull proves the same.
if [ "$(id -u)" = 0 ]; then chown 4242:4242 "$pulled"; fi
export OPENCRATE_PULL_DIR="$pulled" OPENCRATE_UID="$(stat -c %u "$pulled")" OPENCRATE_GID="$(stat -c %g "$pulled")"
silent_pid=""
dc() { "${compose[@]}" -p "$project" -f docker/compose.yaml "$@"; }
cleanup() {
  dc --profile cli down -v --remove-orphans >/dev/null 2>&1 || true
  docker rm -f opencrate-checks-stop >/dev/null 2>&1 || true
  if [ -n "$silent_pid" ]; then kill "$silent_pid" 2>/dev/null || true; fi
  rm -rf "$pulled"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start=$SECONDS

step "images"
t=$SECONDS
bash scripts/build-servers.sh minio fake-gcs-server
node scripts/build-images.ts minio gcs
if [ -z "${OPENCRATE_NODE_IMAGE:-}" ]; then OPENCRATE_NODE_IMAGE="$(bash scripts/build-node-base.sh)"; fi
export OPENCRATE_NODE_IMAGE
# The build stage runs npm ci: host networking, so it reaches the registry however this machine does.
if ! DOCKER_BUILDKIT=0 docker build --force-rm --network host --build-arg NODE_IMAGE="$OPENCRATE_NODE_IMAGE" \
  -f docker/Dockerfile -t opencrate-cli:local . >"$logs/build-image-cli.log" 2>&1; then
  tail -n 30 "$logs/build-image-cli.log" >&2
  exit 1
fi
docker run --rm opencrate-cli:local --version >/dev/null
echo "opencrate-cli:local on $OPENCRATE_NODE_IMAGE, $(docker image inspect --format '{{.Size}}' opencrate-cli:local | awk '{printf "%.0f MB", $1/1e6}')" >&2
took "images" "$t"

step "compose up (MinIO on $OPENCRATE_MINIO_PORT, fake-gcs-server on $OPENCRATE_GCS_PORT)"
t=$SECONDS
dc --profile cli down -v --remove-orphans >/dev/null 2>&1 || true
dc up -d
status="$(docker wait "$(dc ps -q buckets)")"
dc logs --no-color buckets >&2
if [ "$status" != 0 ]; then
  echo "docker-checks: the buckets service exited $status" >&2
  dc ps >&2
  exit 1
fi
for service in minio fake-gcs-server; do
  health="$(docker inspect --format '{{.State.Health.Status}}' "$(dc ps -q "$service")")"
  [ "$health" = healthy ] || { echo "docker-checks: $service is $health" >&2; exit 1; }
done
took "compose up" "$t"

step "the snapshot guide on s3:// and gs://"
t=$SECONDS
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$OPENCRATE_MINIO_PORT" AWS_ACCESS_KEY_ID=opencrate AWS_SECRET_ACCESS_KEY=opencrate-secret \
  AWS_REGION=us-east-1 npm run --silent demo -- --root "s3://$bucket/guide" >"$logs/compose-demo-s3.log" 2>&1 ||
  { tail -n 30 "$logs/compose-demo-s3.log" >&2; exit 1; }
tail -n 1 "$logs/compose-demo-s3.log" >&2
STORAGE_EMULATOR_HOST="http://127.0.0.1:$OPENCRATE_GCS_PORT" npm run --silent demo -- --root "gs://$bucket/guide" \
  >"$logs/compose-demo-gs.log" 2>&1 || { tail -n 30 "$logs/compose-demo-gs.log" >&2; exit 1; }
tail -n 1 "$logs/compose-demo-gs.log" >&2
took "the snapshot guide" "$t"

step "opencrate pull from the CLI image, into its own /work and into a mounted folder"
t=$SECONDS
snapshot="s3://$bucket/guide/snapshot_guide@latest"
s3=(-e AWS_ENDPOINT_URL_S3="http://127.0.0.1:$OPENCRATE_MINIO_PORT" -e AWS_ACCESS_KEY_ID=opencrate
  -e AWS_SECRET_ACCESS_KEY=opencrate-secret -e AWS_REGION=us-east-1)
# The default destination, ./snapshot_guide/<version> in /work, which the image's user must be able to create.
docker run --rm --network host "${s3[@]}" opencrate-cli:local pull --quiet "$snapshot"
dc --profile cli run --rm cli pull "$snapshot" /work/from-image
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$OPENCRATE_MINIO_PORT" AWS_ACCESS_KEY_ID=opencrate AWS_SECRET_ACCESS_KEY=opencrate-secret \
  AWS_REGION=us-east-1 node src/cli/main.ts pull "$snapshot" "$pulled/from-host" >/dev/null
# Each pull keeps its own record (.opencrate/pulled.json: inode numbers and change times of its files), never alike.
files="$(find "$pulled/from-image" -type f -not -path '*/.opencrate/*' | wc -l)"
if [ "$files" -lt 1 ] || ! diff -r -x .opencrate "$pulled/from-image" "$pulled/from-host" >&2; then
  echo "docker-checks: the image's pull ($files files) differs from the host's" >&2
  exit 1
fi
echo "pulled $files files from the image, identical to the host's pull" >&2
took "pull from the CLI image" "$t"

step "docker stop of a cat waiting on a store that never answers"
t=$SECONDS
silent_log="$(mktemp "${TMPDIR:-/tmp}/opencrate-silent-XXXXXX")"
node -e 'const s = require("net").createServer((c) => { c.on("error", () => {}); console.log("connected"); });
  s.listen(0, "127.0.0.1", () => console.log(s.address().port));' >"$silent_log" &
silent_pid=$!
wait_until "the silent store did not start" test -s "$silent_log"
silent_port="$(head -n 1 "$silent_log")"
docker run -d --name opencrate-checks-stop --network host -e AWS_ENDPOINT_URL_S3="http://127.0.0.1:$silent_port" \
  -e AWS_ACCESS_KEY_ID=opencrate -e AWS_SECRET_ACCESS_KEY=opencrate-secret -e AWS_REGION=us-east-1 \
  opencrate-cli:local cat "s3://$bucket/guide/snapshot_guide@latest/texts/notes.txt" >/dev/null
wait_until "the cat did not reach the silent store" grep -q connected "$silent_log"
stopped_at=$SECONDS
# Ignored, SIGTERM would leave the cat to end with its own time-out (exit 1), long before the 30 s given here.
docker stop -t 30 opencrate-checks-stop >/dev/null
code="$(docker inspect --format '{{.State.ExitCode}}' opencrate-checks-stop)"
docker rm opencrate-checks-stop >/dev/null
rm -f "$silent_log"
if [ "$code" != 143 ]; then
  echo "docker-checks: the stopped cat exited $code, not 143 (SIGTERM)" >&2
  exit 1
fi
echo "the stopped cat exited 143 after $((SECONDS - stopped_at))s" >&2
took "docker stop" "$t"
took "docker checks" "$start"
