#!/usr/bin/env bash
# podman build of CONTEXT (its Dockerfile, or FILE) as TAG, the way this machine allows
# (--isolation chroot, no registry: --pull=never); the image TAG had before is removed.
#   usage: scripts/podman-build.sh TAG CONTEXT [FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CONTAINERS_CONF="$ROOT/scripts/containers.conf"
TAG=$1
CONTEXT=$2
FILE=${3:-$CONTEXT/Dockerfile}
old=$(podman image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
podman build --quiet --format docker --isolation chroot --pull=never -t "$TAG" -f "$FILE" "$CONTEXT" >/dev/null
new=$(podman image inspect --format '{{.Id}}' "$TAG")
# the image this tag had before, now untagged: ours to remove (kept when something still uses it)
[[ -n $old && $old != "$new" ]] && podman rmi "$old" >/dev/null 2>&1 || true
echo "$TAG"
