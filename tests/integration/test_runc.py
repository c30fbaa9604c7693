"""runc, the runtime supported beside crun (`--runtime`): the same task,
isolated the same way, from the host's filesystem and from an image, and
nothing left behind once it is killed (bundle, runtime state, overlay,
cgroups, mounts)."""
import os
import shutil
import subprocess

import pytest

from conftest import BOREALIS, cgroups_left, wait_for
from imagelib import Image, busybox_layers
from test_isolation import OTHER, PROBE, read_probes, sandbox_of, visible_cluster  # noqa: F401 (fixture)

RUNC = shutil.which("runc") or "/usr/sbin/runc"
pytestmark = pytest.mark.skipif(not os.access(RUNC, os.X_OK),
                                reason="runc is not installed (scripts/install-deps.sh installs Debian's runc)")

IMAGE_JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: img
    task:
      image: {image}
      resources: {{cpu: 0.1, ram: 32MiB, disk: 16MiB}}
      processes:
        - name: main
          cmdline: |
            echo "uid=$(id -u)" > /sandbox/out.txt
            cat /etc/marker /etc/top >> /sandbox/out.txt
            test -e /etc/gone && echo whiteout-broken >> /sandbox/out.txt || echo whiteout-ok >> /sandbox/out.txt
            echo hi > /data/written && echo write-ok >> /sandbox/out.txt
            echo done >> /sandbox/out.txt
            exec sleep 100000
"""


def mounts_naming(text):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if text in line]


def nothing_left(c, task_id):
    agent = os.path.join(c.root, "agent")
    wait_for("bundle removed", lambda: not os.path.exists(os.path.join(agent, "containers", task_id)))
    wait_for("runtime state removed", lambda: not os.path.exists(os.path.join(agent, "runtime", task_id)))
    wait_for("task cgroups removed", lambda: all(
        not os.path.exists(os.path.join(d, task_id)) for d in cgroups_left(c.cgroup_root)))
    assert not mounts_naming(task_id)


def test_runc_runs_an_isolated_task_and_leaves_nothing_after_kill(visible_cluster):
    c = visible_cluster
    c.agent_args = ["--runtime", RUNC]
    c.start_scheduler()
    c.start_agent()
    assert "runc" in c.log("agent.log")
    assert c.cli("job", "create", "local/www-data/devel/other", c.job_file(OTHER, "o.yaml"),
                 "--wait-until", "RUNNING").rc == 0
    other = c.wait_running("local/www-data/devel/other", 1)[0]
    job = PROBE.format(name="probe", agent_dir=os.path.join(c.root, "agent"),
                       sched_dir=os.path.join(c.root, "scheduler"), other=sandbox_of(c, other),
                       agent_pid=c.agent.pid)
    assert c.cli("job", "create", "local/www-data/devel/probe", c.job_file(job), "--wait-until", "RUNNING").rc == 0
    task = c.wait_running("local/www-data/devel/probe", 1)[0]
    p = wait_for("probe results", lambda: read_probes(sandbox_of(c, task)))
    assert int(p["uid"]) == 33, p
    assert int(p["capeff"], 16) == 0 and p["nnp"] == "1", p
    assert int(p["pids"]) < 8 and "borealis-executor" in p["init"], p
    assert p["shadow"] == "denied" and p["sched"] == "denied" and p["other"] == "denied", p
    assert "agent.db" not in p["agent_dir"], p
    assert p["kill_agent"] == "failed" and c.agent.poll() is None, p
    assert p["cg_escape"] == "no" and p["cg2_escape"] == "no" and p["cg_same"] == "yes", p
    assert p["forge"] == "no" and p["forge_mv"] == "no", p
    assert p["host_write"] == "no" and p["tmp_write"] == "yes" and p["userns"] == "no", p
    # `task run` is `runc exec` in the container, as the task's user.
    r = c.cli("task", "run", "local/www-data/devel/probe/0", "id -u; pwd")
    assert r.rc == 0 and "0 | 33" in r.out and "0 | /sandbox" in r.out, r
    assert c.cli("job", "killall", "local/www-data/devel/probe").rc == 0
    assert c.cli("job", "killall", "local/www-data/devel/other").rc == 0
    wait_for("KILLED", lambda: c.tasks("local/www-data/devel/probe")[0]["state"] == "KILLED")
    nothing_left(c, task["id"])
    nothing_left(c, other["id"])


def test_runc_runs_an_image_task_and_leaves_nothing_after_kill(cluster):
    c = cluster
    c.agent_args = ["--runtime", RUNC]
    tar = os.path.join(c.root, "image.tar")
    with open(tar, "wb") as f:
        f.write(Image(busybox_layers("runc")).oci_layout_tar("runc:1"))
    cp = subprocess.run([BOREALIS, "image", "import", tar, "--data-dir", os.path.join(c.root, "agent")],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp
    image = "localhost/runc@" + cp.stdout.split()[1]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/devel/img"
    assert c.cli("job", "create", key, c.job_file(IMAGE_JOB.format(image=image))).rc == 0
    task = c.wait_running(key, 1)[0]
    out = os.path.join(sandbox_of(c, task), "out.txt")
    text = wait_for("the task's output", lambda: os.path.exists(out) and "done" in open(out).read()
                    and open(out).read())
    lines = text.split()
    assert "uid=33" in lines and "runc" in lines and "whiteout-ok" in lines and "write-ok" in lines, text
    # The overlay is mounted in the runtime's private namespace only: the
    # host's mount table does not grow with the tasks.
    assert not mounts_naming(task["id"])
    assert c.cli("job", "killall", key).rc == 0
    wait_for("KILLED", lambda: c.tasks(key)[0]["state"] == "KILLED")
    nothing_left(c, task["id"])
    assert not os.path.exists(os.path.join(c.root, "agent", "containers", task["id"], "image"))
