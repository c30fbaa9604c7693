#!/bin/sh
# OPTIONAL peer run: Docker Swarm on this machine, the same shape of job as
# bench/bench.py (N replicas of a sleeping process), following
# the project brief's machine reference (machine-and-peers.md). Run only when asked:
#
#   make bench-swarm  or  BENCH_PEER=swarm make bench   (or: sh bench/swarm.sh)
#
# Installs Debian's docker.io if dockerd is missing (only here). Starts its
# own dockerd (own data root, exec root and socket in a temp dir,
# --iptables=false --bridge=none), imports a busybox-static root file
# system as an image, and measures: N replicas to N/N running (and each
# task's running timestamp after the service's creation: p50, p99),
# replacement after one task's process is killed (restart delay 0 s), the
# RSS of dockerd, containerd and the shims, and a rolling update of a
# service of BENCH_UPDATE_TASKS (50) replicas, parallelism
# BENCH_UPDATE_BATCH (5), delay 0 s, monitor 1 ms. Its containers go under
# the cgroup /borealis-swarm-bench (dockerd --cgroup-parent), not /docker.
# Everything it starts is stopped by PID and the temp dir (with any mount
# under it) is removed, also on errors.
#
#   BENCH_SWARM_OUT=FILE  also write the figures as key=value lines (read by
#                         bench/compare.py)
set -eu

N=${BENCH_TASKS:-200}
NU=${BENCH_UPDATE_TASKS:-50}
BATCH=${BENCH_UPDATE_BATCH:-5}
CGROUP=borealis-swarm-bench
OUT=${BENCH_SWARM_OUT:-/dev/null}
DOCKERD=/usr/sbin/dockerd
DOCKER=/usr/bin/docker   # Debian's client, not another one earlier in PATH

if [ "$(id -u)" != 0 ]; then
    echo "swarm: must run as root" >&2
    exit 1
fi
if [ ! -x "$DOCKERD" ] || [ ! -x "$DOCKER" ]; then
    echo "swarm: installing docker.io (Debian package) for the peer run"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >/dev/null
fi
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || { echo "swarm: busybox-static is missing" >&2; exit 1; }

D=$(mktemp -d /tmp/borealis-swarm.XXXXXX)
DPID=

# PIDs of the containerd and shims of OUR dockerd (their command lines name $D).
our_pids() {
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = "$$" ] && continue
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$D/"; then
            echo "$pid"
        fi
    done
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
comm() { cat "/proc/$1/comm" 2>/dev/null || true; }
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.3f", $1 - $2}'; }

# `swarm init` makes the docker_gwbridge interface, which outlives the
# swarm and its dockerd: removed at the end unless it was there before.
GWBRIDGE_BEFORE=$(ip link show docker_gwbridge >/dev/null 2>&1 && echo yes || true)

cleanup() {
    set +e
    if [ -n "$DPID" ] && [ -d "/proc/$DPID" ]; then
        DOCKER_HOST=unix://$D/docker.sock timeout 60 "$DOCKER" service rm bench bench-upd >/dev/null 2>&1
        DOCKER_HOST=unix://$D/docker.sock timeout 60 "$DOCKER" swarm leave --force >/dev/null 2>&1
        kill -TERM "$DPID"
        i=0
        while [ -d "/proc/$DPID" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        [ -d "/proc/$DPID" ] && kill -KILL "$DPID"
    fi
    # containerd / shims / containers' processes still running for our root.
    for pid in $(our_pids); do
        case $(comm "$pid") in containerd*|dockerd) ;; *) continue ;; esac
        echo "swarm: stopping leftover $(comm "$pid") pid $pid" >&2
        kill -KILL "$pid" 2>/dev/null
    done
    # Mounts under our temp dir, deepest first.
    awk -v d="$D/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    # Our containers' cgroups (our own name, see --cgroup-parent).
    for top in /sys/fs/cgroup/*/$CGROUP /sys/fs/cgroup/$CGROUP; do
        [ -d "$top" ] || continue
        find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
            kill -KILL "$p" 2>/dev/null
        done
        sleep 0.2
        find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    [ -z "$GWBRIDGE_BEFORE" ] && ip link delete docker_gwbridge 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Waits until service $1 shows $2/$2 replicas running (600 s at most).
wait_replicas() {
    deadline=$(( $(date +%s) + 600 ))
    while :; do
        r=$("$DOCKER" service ls --filter "name=$1" --format '{{.Replicas}}')
        [ "$r" = "$2/$2" ] && return 0
        if [ "$(date +%s)" -gt $deadline ]; then
            echo "swarm: $1 not all running after 600 s ($r)" >&2
            exit 1
        fi
        sleep 0.05
    done
}

export DOCKER_HOST=unix://$D/docker.sock
mkdir -p "$D/rootfs/bin"
cp "$BUSYBOX" "$D/rootfs/bin/busybox"
for l in sh sleep true echo; do ln -s busybox "$D/rootfs/bin/$l"; done

"$DOCKERD" --host "unix://$D/docker.sock" --data-root "$D/data" --exec-root "$D/exec" \
    --pidfile "$D/dockerd.pid" --iptables=false --bridge=none --cgroup-parent "/$CGROUP" \
    >"$D/dockerd.log" 2>&1 &
DPID=$!
i=0
until "$DOCKER" version >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 300 ] || [ ! -d "/proc/$DPID" ]; then
        echo "swarm: dockerd did not start; its log:" >&2
        tail -20 "$D/dockerd.log" >&2
        exit 1
    fi
    sleep 0.1
done
CPID=$(our_pids | while read -r p; do [ "$(comm "$p")" = containerd ] && echo "$p"; done | head -1)

tar -C "$D/rootfs" -cf "$D/rootfs.tar" .
"$DOCKER" import "$D/rootfs.tar" bb:1 >/dev/null
IMG=$("$DOCKER" image inspect bb:1 --format '{{.Id}}')
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DOCKER" swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$SPORT" >/dev/null
sleep 1
D_IDLE=$(rss_kib "$DPID")
C_IDLE=$(rss_kib "${CPID:-0}")

LOAD1=$(cut -d' ' -f1 /proc/loadavg)
echo "Docker Swarm peer run (bench/swarm.sh): $("$DOCKERD" --version)"
echo "  $N replicas of busybox sleep 100000, --restart-delay 0s --stop-grace-period 0s, image by id;"
echo "  load1 at the start $LOAD1"

t0=$(now)
"$DOCKER" service create --detach --no-resolve-image --replicas "$N" --restart-delay 0s \
    --stop-grace-period 0s --name bench "$IMG" /bin/busybox sleep 100000 >/dev/null
wait_replicas bench "$N"
T_RUN=$(since "$t0")

# Per task: when its status became running, after the service was created
# (Swarm's own clock, as Borealis's p50/p99 use the scheduler's events).
CREATED=$("$DOCKER" service inspect --format '{{json .CreatedAt}}' bench)
# shellcheck disable=SC2046
LAT=$("$DOCKER" inspect --type task --format '{{.Status.State}} {{json .Status.Timestamp}}' \
    $("$DOCKER" service ps -q --filter desired-state=running bench) | python3 -c '
import re, sys
from datetime import datetime, timezone
def t(s):
    m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s)
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + tz).timestamp() + float("0." + (m.group(2) or "0"))
c = t(sys.argv[1])
lat = sorted(t(l.split(None, 1)[1]) - c for l in sys.stdin if l.startswith("running "))
k = lambda p: lat[max(0, min(len(lat) - 1, -(-p * len(lat) // 100) - 1))]
print("%.3f %.3f %d" % (k(50), k(99), len(lat)) if lat else "- - 0")
' "$CREATED")
P50=$(echo "$LAT" | cut -d' ' -f1)
P99=$(echo "$LAT" | cut -d' ' -f2)
sleep 1

D_RUN=$(rss_kib "$DPID")
C_RUN=$(rss_kib "${CPID:-0}")
SHIMS=$(our_pids | while read -r p; do case $(comm "$p") in containerd-shim*) echo "$p $(rss_kib "$p")" ;; esac; done)
NSHIM=$(echo "$SHIMS" | grep -c . || true)
SHIM_MED=$(echo "$SHIMS" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}')
SHIM_TOT=$(echo "$SHIMS" | awk '{s+=$2} END {print s+0}')
# PSS: the shims' shared pages (one binary) counted once overall.
SHIM_PSS=$(echo "$SHIMS" | while read -r p _; do
    awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null; done | awk '{s+=$1} END {print s+0}')

# Replacement: kill -9 one task's process, wait for a new task Running.
before=$("$DOCKER" service ps -q --filter desired-state=running bench | sort)
cid=$("$DOCKER" ps -q --filter label=com.docker.swarm.service.name=bench | head -1)
pid=$("$DOCKER" inspect --format '{{.State.Pid}}' "$cid")
t0=$(now)
kill -KILL "$pid"
T_REPL=-
deadline=$(( $(date +%s) + 120 ))
while [ "$(date +%s)" -le $deadline ]; do
    new=$("$DOCKER" service ps --filter desired-state=running --format '{{.ID}} {{.CurrentState}}' bench |
        awk '$2 == "Running" {print $1}' | sort)
    fresh=$(echo "$new" | grep -v -x -F "$before" || true)
    if [ -n "$fresh" ] && [ "$(echo "$new" | grep -c .)" -eq "$N" ]; then
        T_REPL=$(since "$t0")
        break
    fi
    sleep 0.05
done

t0=$(now)
"$DOCKER" service rm bench >/dev/null
while [ -n "$("$DOCKER" ps -q --filter label=com.docker.swarm.service.name=bench)" ]; do sleep 0.1; done
T_RM=$(since "$t0")

# Rolling update: a service of NU replicas, all running, then a new
# command line BATCH at a time, no delay between batches, until Swarm says
# the update completed (Borealis: batch_size BATCH, watch_secs 0). The
# monitoring period cannot be 0 through Docker's API (a zero is omitted and
# becomes swarmkit's 5 s default, spent once before "completed"): 1 ms is
# the nearest.
"$DOCKER" service create --detach --no-resolve-image --replicas "$NU" --restart-delay 0s \
    --stop-grace-period 0s --name bench-upd "$IMG" /bin/busybox sleep 100000 >/dev/null
wait_replicas bench-upd "$NU"
sleep 1
t0=$(now)
"$DOCKER" service update --detach --update-parallelism "$BATCH" --update-delay 0s --update-monitor 1ms \
    --args "/bin/busybox sleep 100001" bench-upd >/dev/null
T_UPD=-
deadline=$(( $(date +%s) + 900 ))
while [ "$(date +%s)" -le $deadline ]; do
    st=$("$DOCKER" service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' bench-upd)
    case $st in
    completed) T_UPD=$(since "$t0"); break ;;
    paused|rollback_*) echo "swarm: the update ended $st" >&2; break ;;
    esac
    sleep 0.05
done
# What Swarm was asked to do (the zero delays really are in the spec).
UPD_SPEC=$("$DOCKER" service inspect --format \
    'update {{json .Spec.UpdateConfig}}; stop grace {{json .Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}; restart {{json .Spec.TaskTemplate.RestartPolicy}}' \
    bench-upd)
"$DOCKER" service rm bench-upd >/dev/null

{
    echo "version=$("$DOCKERD" --version | sed 's/,.*//')"
    echo "load1=$LOAD1"
    echo "n=$N"
    echo "run_s=$T_RUN"
    echo "p50_s=$P50"
    echo "p99_s=$P99"
    echo "replace_s=$T_REPL"
    echo "rm_s=$T_RM"
    echo "update_n=$NU"
    echo "update_batch=$BATCH"
    echo "update_s=$T_UPD"
    echo "dockerd_idle_kib=$D_IDLE"
    echo "dockerd_run_kib=$D_RUN"
    echo "containerd_idle_kib=$C_IDLE"
    echo "containerd_run_kib=$C_RUN"
    echo "shim_n=$NSHIM"
    echo "shim_med_kib=$SHIM_MED"
    echo "shim_total_kib=$SHIM_TOT"
    echo "shim_pss_total_kib=$SHIM_PSS"
} >"$OUT"

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
printf '  %-44s %s s\n' "create -> $N/$N running" "$T_RUN"
printf '  %-44s %s s / %s s\n' "per task: running after create, p50 / p99" "$P50" "$P99"
printf '  %-44s %s s\n' "replacement after kill -9 of one task" "$T_REPL"
printf '  %-44s %s s\n' "service rm -> all containers gone" "$T_RM"
printf '  %-44s %s s\n' "rolling update of $NU, parallelism $BATCH" "$T_UPD"
echo "    (service spec: $UPD_SPEC)"
printf '  %-44s %s MiB idle, %s MiB with %s tasks\n' "dockerd RSS" "$(mb "$D_IDLE")" "$(mb "$D_RUN")" "$N"
printf '  %-44s %s MiB idle, %s MiB with %s tasks\n' "containerd RSS" "$(mb "$C_IDLE")" "$(mb "$C_RUN")" "$N"
printf '  %-44s %s shims, median %s MiB, total %s MiB (PSS %s MiB)\n' "containerd-shim RSS" "$NSHIM" \
    "$(mb "$SHIM_MED")" "$(mb "$SHIM_TOT")" "$(mb "$SHIM_PSS")"
