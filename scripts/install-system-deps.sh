#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (real BGP speakers, etcd, tshark, ...)
# when they are missing. Idempotent; the daemons' own services are never started, and the
# host's are never stopped or disabled.
set -euo pipefail
# podman and debootstrap build the container image (scripts/container-image.sh); systemd-nspawn
# boots the reflector host that runs the systemd unit (test/interop/systemd.test.ts)
PKGS=(bird2 gobgpd frr exabgp etcd-server etcd-client tshark openssl iproute2 python3 kubernetes-client
  podman debootstrap systemd-container)
# kubectl may come from another package (e.g. Kubernetes' own repository); either is enough.
command -v kubectl >/dev/null 2>&1 && PKGS=("${PKGS[@]/kubernetes-client}")
missing=()
for p in "${PKGS[@]}"; do
  [[ -z "$p" ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# BIRD 1.6, the base of calico/node's BIRD fork, conflicts with bird2 under dpkg: its package is
# unpacked into .cache/bird1 instead of installed (the tests run .cache/bird1/usr/sbin/bird).
BIRD1="$(cd "$(dirname "$0")/.." && pwd)/.cache/bird1"
if [[ ! -x $BIRD1/usr/sbin/bird ]]; then
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download -q bird >&2) || { apt-get update -q >&2 && (cd "$dl" && apt-get download -q bird >&2); }
  mkdir -p "$BIRD1"
  dpkg-deb -x "$dl"/bird_*.deb "$BIRD1"
  rm -rf "$dl"
fi
((${#missing[@]})) || exit 0
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-system-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
# The new packages' daemons must not start (they would take *:179 and 127.0.0.1:2379), and nothing
# of the host's is stopped or disabled: Debian's policy-rc.d, only while we install and only when
# the host has none, tells the packages not to start their services.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# routereflector install-system-deps: no service starts while it installs\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
