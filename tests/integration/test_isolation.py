"""Every task runs in a container (OCI runtime): probes run from inside a
task try each attack a task once could do, write what happened into the
sandbox, and the test reads the results from the host."""
import json
import os
import shutil
import signal
import tempfile

import pytest

from conftest import Cluster, cgroups_left, pid_alive, wait_for

PROBE = r"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    task:
      resources: {{cpu: 0.2, ram: 64MiB, disk: 16MiB}}
      processes:
        - name: probe
          cmdline: |
            r() {{ echo "$1=$2" >> probes.txt; }}
            r uid "$(id -u)"
            r capeff "$(grep CapEff /proc/self/status | cut -f2)"
            r nnp "$(grep NoNewPrivs /proc/self/status | cut -f2)"
            r pids "$(ls /proc | grep -c '^[0-9]*$')"
            r init "$(tr '\0' ' ' < /proc/1/cmdline)"
            cat /etc/shadow >/dev/null 2>&1 && r shadow readable || r shadow denied
            r agent_dir "$(ls -A {agent_dir} 2>&1 | tr '\n' ' ')"
            cat {sched_dir}/* >/dev/null 2>&1 && r sched readable || r sched denied
            cat {other}/.logs/*/stdout >/dev/null 2>&1 && r other readable || r other denied
            kill -9 {agent_pid} 2>/dev/null && r kill_agent sent || r kill_agent failed
            before="$(cat /proc/self/cgroup)"
            echo $$ > /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null && r cg_escape yes || r cg_escape no
            echo $$ > /sys/fs/cgroup/unified/cgroup.procs 2>/dev/null && r cg2_escape yes || r cg2_escape no
            echo $$ > /sys/fs/cgroup/cgroup.procs 2>/dev/null
            [ "$before" = "$(cat /proc/self/cgroup)" ] && r cg_same yes || r cg_same no
            echo '{{"task_id":"x","state":"FINISHED"}}' > .borealis/status.json 2>/dev/null && r forge yes || r forge no
            mv .borealis gone 2>/dev/null && r forge_mv yes || r forge_mv no
            touch /etc/probe 2>/dev/null && r host_write yes || r host_write no
            touch /tmp/probe && r tmp_write yes || r tmp_write no
            unshare -U true 2>/dev/null && r userns yes || r userns no
            r done 1
            exec sleep 100000
"""

OTHER = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: other
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 16MiB}
      processes:
        - name: secret
          cmdline: "echo secret; exec sleep 100000"
"""


@pytest.fixture
def visible_cluster():
    """A cluster whose data dirs lie where tasks could see them (not under
    /tmp, which every task has its own of), readable on the host."""
    root = tempfile.mkdtemp(prefix="borealis-iso-", dir="/var/tmp")
    os.chmod(root, 0o755)
    c = Cluster(root)
    try:
        yield c
    finally:
        rc_agent = c.stop(c.agent)
        c.stop(c.sched)
        left = c.cgroups_left()
        assert rc_agent in (0, None)
        assert not left, f"cgroups left behind: {left}"
        shutil.rmtree(root, ignore_errors=True)


def read_probes(sandbox):
    path = os.path.join(sandbox, "probes.txt")
    if not os.path.exists(path):
        return None
    res = dict(line.split("=", 1) for line in open(path).read().splitlines() if "=" in line)
    return res if "done" in res else None


def sandbox_of(c, task):
    return os.path.join(c.root, "agent", "sandboxes", task["id"])


def test_a_task_cannot_escape_its_container(visible_cluster):
    c = visible_cluster
    c.start_scheduler()
    c.start_agent()
    assert c.cli("job", "create", "local/www-data/devel/other", c.job_file(OTHER, "o.yaml"),
                 "--wait-until", "RUNNING").rc == 0
    other = c.wait_running("local/www-data/devel/other", 1)[0]
    wait_for("other's output", lambda: os.path.exists(
        os.path.join(sandbox_of(c, other), ".logs", "secret", "stdout")))
    job = PROBE.format(name="probe", agent_dir=os.path.join(c.root, "agent"),
                       sched_dir=os.path.join(c.root, "scheduler"), other=sandbox_of(c, other),
                       agent_pid=c.agent.pid)
    r = c.cli("job", "create", "local/www-data/devel/probe", c.job_file(job), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    task = c.wait_running("local/www-data/devel/probe", 1)[0]
    p = wait_for("probe results", lambda: read_probes(sandbox_of(c, task)))
    assert int(p["uid"]) == 33, p                    # www-data, the role's user
    assert int(p["capeff"], 16) == 0, p              # no capabilities
    assert p["nnp"] == "1", p
    assert int(p["pids"]) < 8, p                     # its own pid namespace
    assert "borealis-executor" in p["init"], p       # the executor is its init
    assert p["shadow"] == "denied", p
    # Masked by an empty tmpfs that the task cannot even list.
    assert "agent.db" not in p["agent_dir"] and "sandboxes" not in p["agent_dir"], p
    assert p["sched"] == "denied", p
    assert p["other"] == "denied", p
    assert p["cg_escape"] == "no" and p["cg2_escape"] == "no" and p["cg_same"] == "yes", p
    assert p["forge"] == "no" and p["forge_mv"] == "no", p
    assert p["host_write"] == "no" and p["tmp_write"] == "yes", p
    assert p["userns"] == "no", p
    # The agent lives, and the task is still RUNNING as the agent saw it.
    assert c.agent.poll() is None and pid_alive(c.agent.pid)
    st = json.load(open(os.path.join(sandbox_of(c, task), ".borealis", "status.json")))
    assert st["state"] == "RUNNING"
    assert c.tasks("local/www-data/devel/probe")[0]["state"] == "RUNNING"
    # On the host, its processes are in its own cgroup still.
    pid = task["processes"][0]["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        assert task["id"] in f.read()
    # Killed: no container, bundle or runtime state is left.
    assert c.cli("job", "killall", "local/www-data/devel/probe").rc == 0
    assert c.cli("job", "killall", "local/www-data/devel/other").rc == 0
    agent = os.path.join(c.root, "agent")
    wait_for("bundles removed", lambda: not os.listdir(os.path.join(agent, "containers")))
    wait_for("runtime state removed",
             lambda: [n for n in os.listdir(os.path.join(agent, "runtime")) if n != "empty"] == [])
    wait_for("task cgroups removed", lambda: all(
        not os.path.exists(os.path.join(d, task["id"])) for d in cgroups_left(c.cgroup_root)))


def test_a_role_without_a_user_fails_to_launch(running):
    c = running
    job = OTHER.replace("role: www-data", "role: nosuchuser").replace("name: other", "name: nouser")
    key = "local/nosuchuser/devel/nouser"
    assert c.cli("job", "create", key, c.job_file(job)).rc == 0
    t = wait_for("FAILED", lambda: [t for t in c.all_tasks() if t["state"] == "FAILED"])
    assert "role `nosuchuser` has no Unix user on this machine" in t[0]["message"], t


def test_root_role_is_refused_unless_allowed(running):
    c = running
    job = OTHER.replace("role: www-data", "role: root").replace("name: other", "name: r")
    assert c.cli("job", "create", "local/root/devel/r", c.job_file(job)).rc == 0
    t = wait_for("FAILED", lambda: [t for t in c.all_tasks() if t["state"] == "FAILED"])
    assert "--allow-root-role" in t[0]["message"], t


def test_pids_limit_contains_a_fork_bomb(cluster):
    c = cluster
    c.agent_args = ["--pids-max", "32"]
    c.start_scheduler()
    c.start_agent()
    job = OTHER.replace("name: other", "name: bomb").replace(
        'cmdline: "echo secret; exec sleep 100000"',
        'cmdline: "(i=0; while [ $i -lt 100 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; '
        'set -- /proc/[0-9]*; echo procs=$# > forks.txt; exec sleep 100000"')
    assert c.cli("job", "create", "local/www-data/devel/bomb", c.job_file(job)).rc == 0
    task = c.wait_running("local/www-data/devel/bomb", 1)[0]
    path = os.path.join(sandbox_of(c, task), "forks.txt")
    text = wait_for("fork count", lambda: os.path.exists(path) and open(path).read())
    assert int(text.strip().split("=")[1]) < 32, text


# Runs its arguments chrooted into a directory that is not a mount point
# (as on a machine set up with debootstrap + chroot), in a mount namespace
# of its own so that nothing it mounts is seen outside: the root is a
# directory on a tmpfs, holding a recursive bind of each of the host's
# top-level directories (symlinks recreated).
CHROOT = r"""
set -e
t="$1"; shift
mount -t tmpfs chroot-test "$t"
mkdir "$t/root"
for d in /*; do
  if [ -L "$d" ]; then ln -s "$(readlink "$d")" "$t/root$d"
  elif [ -d "$d" ]; then mkdir "$t/root$d"; mount --rbind "$d" "$t/root$d"
  fi
done
exec chroot "$t/root" "$@"
"""


def test_an_agent_in_a_chroot_runs_containers(cluster):
    """Found by fresh-machine: in a chroot `/` is not a mount point, and
    every container start failed ("cannot make a private mount namespace":
    EINVAL)."""
    c = cluster
    with open("/proc/self/mountinfo") as f:
        in_a_chroot = not any(line.split()[4] == "/" for line in f)
    if not in_a_chroot:  # else the agent is in one already (and unshare could not make `/` private)
        where = os.path.join(c.root, "chroot")
        os.mkdir(where)
        c.agent_prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", CHROOT, "chroot", where]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/devel/other"
    assert c.cli("job", "create", key, c.job_file(OTHER)).rc == 0
    task = c.wait_running(key, 1)[0]
    out = os.path.join(sandbox_of(c, task), ".logs")
    wait_for("the task's output", lambda: any(
        "secret" in open(os.path.join(root, f)).read()
        for root, _, files in os.walk(out) for f in files if f == "stdout"))
    # `task run` enters the container (setns lands at its namespace's root,
    # which must be the container's even though the agent is chrooted).
    r = c.cli("task", "run", key + "/0", "pwd; test -d /sandbox/.logs && echo in-container")
    assert r.rc == 0 and "0 | /sandbox" in r.out and "0 | in-container" in r.out, r
    assert c.cli("job", "killall", key).rc == 0
    wait_for("KILLED", lambda: c.tasks(key)[0]["state"] == "KILLED")
    assert "`/` is not a mount point" in c.log("agent.log")
