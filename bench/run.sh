#!/bin/sh
# `make bench`: submit-to-running, replacement, kill and memory figures of
# a real one-machine Borealis cluster (see docs/benchmarks.md).
#
#   BENCH_RUNS=3      how many times the whole measurement is repeated
#   BENCH_TASKS=200   instances of the benchmark job
#   BENCH_BIN=DIR     where borealis and borealis-executor are (default bin/)
#   BENCH_PEER=swarm  Docker Swarm side by side instead (`make bench-swarm`):
#                     Borealis with container tasks from a cached image,
#                     a rolling update of BENCH_UPDATE_TASKS=50 instances,
#                     then bench/swarm.sh (installs docker.io if missing),
#                     then bench/compare.py's table of both
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

if [ "${BENCH_PEER:-}" != swarm ]; then
    "$PYTHON" bench/bench.py
    exit $?
fi

# BENCH_PEER=swarm (`make bench-swarm`): like for like with Docker Swarm in
# one run. Borealis's tasks are containers from a cached image
# (BENCH_IMAGE=1); the rolling update is timed on a job of
# BENCH_UPDATE_TASKS (50) instances, as Swarm's on a service of as many
# replicas; then bench/swarm.sh, then both side by side.
export BENCH_UPDATE_TASKS=${BENCH_UPDATE_TASKS:-50}
BENCH_IMAGE=1 BENCH_JSON=$BENCH_STATE/borealis.json "$PYTHON" bench/bench.py
rc=$?
echo
echo "Borealis: rolling update of $BENCH_UPDATE_TASKS instances (a job of that size)"
BENCH_IMAGE=1 BENCH_JSON=$BENCH_STATE/borealis-update.json BENCH_TASKS=$BENCH_UPDATE_TASKS \
    "$PYTHON" bench/bench.py
[ $? = 0 ] || rc=1
echo
BENCH_SWARM_OUT=$BENCH_STATE/swarm.kv sh bench/swarm.sh ||
    echo "bench: the Docker Swarm comparison did not complete (exit $?)"
"$PYTHON" bench/compare.py "$BENCH_STATE/borealis.json" "$BENCH_STATE/borealis-update.json" \
    "$BENCH_STATE/swarm.kv"
exit $rc
