#!/bin/sh
# `make bench`: submit-to-running, replacement, kill and memory figures of
# a real one-machine Borealis cluster (see docs/benchmarks.md).
#
#   BENCH_RUNS=3      how many times the whole measurement is repeated
#   BENCH_TASKS=200   instances of the benchmark job
#   BENCH_BIN=DIR     where borealis and borealis-executor are (default bin/)
#   BENCH_PEER=swarm  also run the optional Docker Swarm comparison
#                     (bench/swarm.sh; installs docker.io if missing)
#
# The measurement itself is bench/bench.py (Debian's /usr/bin/python3). It
# stops every daemon it starts by PID and removes its cgroups, also on
# errors; this wrapper is the last line of defence if the driver itself is
# killed: it stops the daemons the driver recorded and sweeps the
# borealis-bench cgroups.
set -u

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

if [ "$(id -u)" != 0 ]; then
    echo "bench: must run as root (the agent creates cgroups)" >&2
    exit 1
fi

BENCH_STATE=$(mktemp -d /tmp/borealis-bench-state.XXXXXX) || exit 1
export BENCH_STATE

cgroup_sweep() {
    for top in /sys/fs/cgroup/borealis-bench /sys/fs/cgroup/*/borealis-bench; do
        [ -d "$top" ] || continue
        # Processes left in our own cgroups only.
        find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
            kill -KILL "$p" 2>/dev/null
        done
        # Deepest first.
        find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
    done
}

# Stops what the driver recorded in $BENCH_STATE and is still running.
cleanup() {
    for f in "$BENCH_STATE"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
        borealis*) ;;
        *) continue ;;
        esac
        echo "bench: stopping leftover daemon pid $pid ($(basename "$f" .pid))" >&2
        kill -TERM "$pid" 2>/dev/null
        i=0
        while [ -d "/proc/$pid" ] && [ $i -lt 600 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$pid" 2>/dev/null
    done
    cgroup_sweep
    for f in "$BENCH_STATE"/*.tmpdir; do
        [ -f "$f" ] || continue
        d=$(cat "$f")
        case $d in
        /tmp/borealis-bench-*) rm -rf "$d" ;;
        esac
    done
    rm -rf "$BENCH_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

"$PYTHON" bench/bench.py
rc=$?

if [ "${BENCH_PEER:-}" = swarm ]; then
    echo
    sh bench/swarm.sh || echo "bench: the Docker Swarm comparison did not complete (exit $?)"
fi
exit $rc
