#!/usr/bin/env bash
# Checks the docker/ folder end to end on a running engine (scripts/docker-engine.sh), as CI does:
#   1. the server images (scripts/build-images.ts), a Node base (scripts/build-node-base.sh, unless
#      OPENCRATE_NODE_IMAGE names one, e.g. node:24-bookworm-slim where a registry is reachable) and the CLI
#      image from docker/Dockerfile, tagged opencrate-cli:local (Docker's layer cache makes a rerun quick);
#   2. docker/compose.yaml up: MinIO and fake-gcs-server healthy, the `buckets` service exits 0;
#   3. the snapshot guide (npm run demo) against s3://opencrate/guide and gs://opencrate/guide;
#   4. `opencrate pull s3://...` from the CLI image into a mounted folder, compared with a pull made on the host.
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
chmod 777 "$pulled" # the CLI image runs as uid 1000
export OPENCRATE_PULL_DIR="$pulled"
dc() { "${compose[@]}" -p "$project" -f docker/compose.yaml "$@"; }
cleanup() {
  dc --profile cli down -v --remove-orphans >/dev/null 2>&1 || true
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

step "opencrate pull from the CLI image into a mounted folder"
t=$SECONDS
snapshot="s3://$bucket/guide/snapshot_guide@latest"
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
took "docker checks" "$start"
