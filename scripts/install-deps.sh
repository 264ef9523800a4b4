#!/usr/bin/env bash
# Install what govcloud needs on Debian 12 with apt-get, only what is missing.
#   scripts/install-deps.sh            build and test packages
#   scripts/install-deps.sh --fuzz     also clang and its fuzzer runtime
# Run as root (or through sudo).
set -euo pipefail

packages=(
        # build
        meson ninja-build pkg-config gcc python3
        libcjson-dev libssl-dev openssl
        libvirt-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
        libcurl4-openssl-dev libsqlite3-dev libevent-dev libnftables-dev
        # tests
        libcmocka-dev curl
        # the system suite: a real libvirtd with qemu (TCG) guests
        libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils tini
        # the system suite: VPCs between hosts in network namespaces (nft, ip, bridge, ping)
        nftables iproute2 iputils-ping
        # the system suite: operations tunnels carry a real ssh session and raw bytes
        # (sshd runs only inside the test's namespaces, on its own configuration)
        openssh-server openssh-client socat
        # printable sheets rendered to PDF and PNG in the tests (Chinese fonts, pdftotext)
        chromium poppler-utils fonts-noto-cjk
)
for arg in "$@"; do
        case $arg in
        --fuzz) packages+=(clang libclang-rt-14-dev) ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
        esac
done

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
        exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No service is started by a package's scripts (openssh-server would start
# the machine's own sshd): a policy-rc.d that denies every start, for the
# time of the install, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ -z "$own_policy" ] || rm -f "$policy"
