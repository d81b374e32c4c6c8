#!/usr/bin/env bash
# Builds the image from the Dockerfile with podman, on a machine without a Docker daemon or a
# registry (this one): usage  scripts/container-image.sh [TAG]   (default localhost/routereflector:test)
# The base comes from scripts/container-base.sh. Nothing here starts a container: the tests run
# the image's root filesystem (podman image mount; test/helpers/image.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TAG="${1:-localhost/routereflector:test}"
export CONTAINERS_CONF="$ROOT/scripts/containers.conf"
bash "$ROOT/scripts/container-base.sh" >/dev/null

bash "$ROOT/scripts/podman-build.sh" "$TAG" "$ROOT"
