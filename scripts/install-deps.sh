#!/bin/sh
# Installs the Debian packages Borealis needs to build, run and test.
# Idempotent: only missing packages are fetched. Must run as root (or be a
# no-op because everything is already present).
set -eu

PACKAGES="
build-essential pkg-config
libjansson-dev libyaml-dev libsqlite3-dev libmicrohttpd-dev
libcurl4-openssl-dev uthash-dev libgnutls28-dev libarchive-dev libssl-dev python3-cryptography
clang libclang-rt-14-dev
python3 python3-pytest
busybox-static procps iproute2 docker-registry
crun runc
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
