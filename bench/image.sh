#!/bin/sh
# Per-task cost of container root filesystems from a cached image (part of
# `make bench`): builds a busybox OCI image (tests/integration/imagelib.py),
# imports it into a scratch store and times 200 overlay prepares and
# releases (bench/bench_rootfs.c). Prints figures; never fails on timing.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${BENCH_TASKS:-200}
PYTHON=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d /tmp/borealis-bench-image.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$PYTHON" - "$dir/image.tar" <<'PY'
import sys
sys.path.insert(0, "tests/integration")
from imagelib import Image, busybox_layers
open(sys.argv[1], "wb").write(Image(busybox_layers("bench")).oci_layout_tar("bench:1"))
PY
digest=$(./bin/borealis image import "$dir/image.tar" --data-dir "$dir/data" | awk '{print $2}')
echo "image rootfs: $N tasks from a cached image ($digest)"
"$BUILD/bench/bench_rootfs" "$dir/data" "localhost/bench@$digest" "$N"
