#!/bin/sh
# OPTIONAL peer run: Docker Swarm on this machine, the same shape of job as
# bench/bench.py (N replicas of a sleeping process), following
# the project brief's machine reference (machine-and-peers.md). Run only when asked:
#
#   BENCH_PEER=swarm make bench        (or: sh bench/swarm.sh)
#
# Installs Debian's docker.io if dockerd is missing (only here). Starts its
# own dockerd (own data root, exec root and socket in a temp dir,
# --iptables=false --bridge=none), imports a busybox-static root file
# system as an image, and measures: N replicas to N/N running, replacement
# after one task's process is killed (restart delay 0 s), and the RSS of
# dockerd, containerd and the shims. Everything it starts is stopped by
# PID and the temp dir (with any mount under it) is removed, also on errors.
set -eu

N=${BENCH_TASKS:-200}
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
CGROUPS_BEFORE=$(ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker 2>/dev/null || true)

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

cleanup() {
    set +e
    if [ -n "$DPID" ] && [ -d "/proc/$DPID" ]; then
        DOCKER_HOST=unix://$D/docker.sock timeout 60 "$DOCKER" service rm bench >/dev/null 2>&1
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
    # cgroups docker created (only if there was no docker cgroup before).
    if [ -z "$CGROUPS_BEFORE" ]; then
        for top in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do
            [ -d "$top" ] || continue
            find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
                kill -KILL "$p" 2>/dev/null
            done
            sleep 0.2
            find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    fi
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

export DOCKER_HOST=unix://$D/docker.sock
mkdir -p "$D/rootfs/bin"
cp "$BUSYBOX" "$D/rootfs/bin/busybox"
for l in sh sleep true echo; do ln -s busybox "$D/rootfs/bin/$l"; done

"$DOCKERD" --host "unix://$D/docker.sock" --data-root "$D/data" --exec-root "$D/exec" \
    --pidfile "$D/dockerd.pid" --iptables=false --bridge=none >"$D/dockerd.log" 2>&1 &
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

echo "Docker Swarm peer run (bench/swarm.sh): $("$DOCKERD" --version)"
echo "  $N replicas of busybox sleep 100000, --restart-delay 0s --stop-grace-period 0s, image by id"

t0=$(now)
"$DOCKER" service create --detach --no-resolve-image --replicas "$N" --restart-delay 0s \
    --stop-grace-period 0s --name bench "$IMG" /bin/busybox sleep 100000 >/dev/null
deadline=$(( $(date +%s) + 600 ))
while :; do
    r=$("$DOCKER" service ls --filter name=bench --format '{{.Replicas}}')
    [ "$r" = "$N/$N" ] && break
    if [ "$(date +%s)" -gt $deadline ]; then
        echo "swarm: not all running after 600 s ($r)" >&2
        exit 1
    fi
    sleep 0.05
done
T_RUN=$(since "$t0")
sleep 1

D_RUN=$(rss_kib "$DPID")
C_RUN=$(rss_kib "${CPID:-0}")
SHIMS=$(our_pids | while read -r p; do case $(comm "$p") in containerd-shim*) echo "$p $(rss_kib "$p")" ;; esac; done)
NSHIM=$(echo "$SHIMS" | grep -c . || true)
SHIM_MED=$(echo "$SHIMS" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}')
SHIM_TOT=$(echo "$SHIMS" | awk '{s+=$2} END {print s+0}')

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

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
printf '  %-44s %s s\n' "create -> $N/$N running" "$T_RUN"
printf '  %-44s %s s\n' "replacement after kill -9 of one task" "$T_REPL"
printf '  %-44s %s s\n' "service rm -> all containers gone" "$T_RM"
printf '  %-44s %s MiB idle, %s MiB with %s tasks\n' "dockerd RSS" "$(mb "$D_IDLE")" "$(mb "$D_RUN")" "$N"
printf '  %-44s %s MiB idle, %s MiB with %s tasks\n' "containerd RSS" "$(mb "$C_IDLE")" "$(mb "$C_RUN")" "$N"
printf '  %-44s %s shims, median %s MiB, total %s MiB\n' "containerd-shim RSS" "$NSHIM" "$(mb "$SHIM_MED")" "$(mb "$SHIM_TOT")"
