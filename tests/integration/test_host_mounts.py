"""Host paths mounted into tasks (`task.mounts`): only under the
scheduler's --host-mount-allow (refused at create otherwise), checked again
by the agent on the resolved path at every launch (its own
--host-mount-allow), read-only unless the job says rw."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Cluster, FakeScheduler, wait_for

PROBE = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    task:
      resources: {{cpu: 0.1, ram: 32MiB, disk: 16MiB}}
      mounts:
{mounts}
      processes:
        - name: probe
          cmdline: |
            r() {{ echo "$1=$2" >> probes.txt; }}
            r data "$(cat /data/hello.txt 2>&1)"
            r file "$(cat /hello.txt 2>&1)"
            echo more >> /hello.txt 2>/dev/null && r file_write yes || r file_write no
            touch /data/new 2>/dev/null && r ro_write yes || r ro_write no
            touch /data/sub/new 2>/dev/null && r ro_sub_write yes || r ro_sub_write no
            echo from-task > /out/written 2>/dev/null && r rw_write yes || r rw_write no
            r done 1
            exec sleep 100000
"""


@pytest.fixture
def mount_cluster():
    """A cluster whose scheduler and agent allow mounts under one directory
    (not under the agent's data dir), with a file to read and a directory
    the task may write."""
    root = tempfile.mkdtemp(prefix="borealis-mnt-")
    allowed = os.path.join(root, "shared")
    os.makedirs(os.path.join(allowed, "ro"))
    os.makedirs(os.path.join(allowed, "rw"))
    os.chmod(os.path.join(allowed, "rw"), 0o777)
    with open(os.path.join(allowed, "ro", "hello.txt"), "w") as f:
        f.write("hello from the host\n")
    os.symlink("/etc", os.path.join(allowed, "etc-link"))
    c = Cluster(root)
    c.allowed = allowed
    c.scheduler_args += ["--host-mount-allow", allowed]
    c.agent_args = ["--host-mount-allow", allowed]
    try:
        yield c
    finally:
        rc_agent = c.stop(c.agent)
        c.stop(c.sched)
        left = c.cgroups_left()
        assert rc_agent in (0, None)
        assert not left, f"cgroups left behind: {left}"
        shutil.rmtree(root, ignore_errors=True)


def mounts_yaml(*entries):
    lines = []
    for host, container, mode in entries:
        lines.append(f"        - host_path: {host}")
        lines.append(f"          container_path: {container}")
        if mode:
            lines.append(f"          mode: {mode}")
    return "\n".join(lines)


def read_probes(path):
    if not os.path.exists(path):
        return None
    res = dict(line.split("=", 1) for line in open(path).read().splitlines() if "=" in line)
    return res if "done" in res else None


def test_a_mount_in_the_allowlist_is_seen_read_only_unless_rw(mount_cluster):
    c = mount_cluster
    # A filesystem mounted inside the read-only path, writable on the host:
    # read-only in the task too (the whole tree is).
    sub = os.path.join(c.allowed, "ro", "sub")
    os.makedirs(sub)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0777,size=1m", "tmpfs", sub], check=True)
    try:
        _seen_read_only_unless_rw(c)
    finally:
        subprocess.run(["umount", "-l", sub], check=False)


def _seen_read_only_unless_rw(c):
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/devel/mnt"
    job = PROBE.format(name="mnt", mounts=mounts_yaml((c.allowed + "/ro", "/data", None),
                                                      (c.allowed + "/rw", "/out", "rw"),
                                                      (c.allowed + "/ro/hello.txt", "/hello.txt", None)))
    r = c.cli("job", "create", key, c.job_file(job), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    task = c.wait_running(key, 1)[0]
    sandbox = os.path.join(c.root, "agent", "sandboxes", task["id"])
    p = wait_for("probe results", lambda: read_probes(os.path.join(sandbox, "probes.txt")))
    assert p["data"] == "hello from the host", p
    assert p["file"] == "hello from the host", p   # a single file mounts too
    assert p["file_write"] == "no", p
    assert p["ro_write"] == "no", p          # read-only by default
    assert not os.path.exists(os.path.join(c.allowed, "ro", "new"))
    assert p["ro_sub_write"] == "no", p      # recursively
    assert not os.path.exists(os.path.join(c.allowed, "ro", "sub", "new"))
    assert p["rw_write"] == "yes", p         # mode: rw
    assert open(os.path.join(c.allowed, "rw", "written")).read() == "from-task\n"
    # The job keeps its mounts (the API shows its config).
    cfg = c.job(key)["config"]
    assert cfg["task"]["mounts"][0] == {"host_path": c.allowed + "/ro", "container_path": "/data", "mode": "ro"}
    # Nothing of the staging binds is left on the host once it is killed.
    assert c.cli("job", "killall", key).rc == 0
    wait_for("bundles removed", lambda: not os.listdir(os.path.join(c.root, "agent", "containers")))
    with open("/proc/self/mountinfo") as f:
        assert os.path.join(c.root, "agent") not in f.read()


@pytest.mark.parametrize("host,container,message", [
    ("/etc", "/data", "is not under a host path this cluster allows to mount"),
    ("shared/ro", "/data", "is relative"),
    ("{allowed}/ro/../../..", "/data", "has a `..` component"),
    ("{allowed}/ro", "/proc/x", "would cover the container's /proc"),
    ("{allowed}/ro", "/sandbox", "would cover the container's /sandbox"),
    ("{allowed}/ro", "/", "must not be `/`"),
    ("{allowed}/ro", "data", "is relative"),
])
def test_a_mount_outside_the_rules_is_refused_at_create(mount_cluster, host, container, message):
    c = mount_cluster
    c.start_scheduler()
    key = "local/www-data/devel/bad"
    job = PROBE.format(name="bad", mounts=mounts_yaml((host.format(allowed=c.allowed), container, None)))
    r = c.cli("job", "create", key, c.job_file(job))
    assert r.rc == 3, r                      # INVALID_CONFIG
    assert message in r.err, r
    assert "task.mounts[0]" in r.err, r
    assert c.api("/api/v1/jobs")["jobs"] == []


def test_a_symlink_out_of_the_allowlist_is_refused_by_the_agent(mount_cluster):
    c = mount_cluster
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/devel/link"
    # The path is under the scheduler's allowlist as written; the agent
    # resolves it to /etc and refuses.
    job = PROBE.format(name="link", mounts=mounts_yaml((c.allowed + "/etc-link", "/data", None)))
    assert c.cli("job", "create", key, c.job_file(job)).rc == 0
    t = wait_for("FAILED", lambda: [t for t in c.all_tasks(job=key) if t["state"] == "FAILED"])
    msg = t[0]["message"]
    assert "launch failed: mounts:" in msg, msg
    assert "resolves to `/etc`" in msg and "--host-mount-allow" in msg, msg


def test_the_agent_checks_its_own_allowlist(mount_cluster):
    """A scheduler allowing more than the agent: the agent's list wins."""
    c = mount_cluster
    c.scheduler_args += ["--host-mount-allow", "/etc"]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/devel/etc"
    job = PROBE.format(name="etc", mounts=mounts_yaml(("/etc", "/data", None)))
    assert c.cli("job", "create", key, c.job_file(job)).rc == 0
    t = wait_for("FAILED", lambda: [t for t in c.all_tasks(job=key) if t["state"] == "FAILED"])
    assert "`/etc` is not under a path this agent allows to mount (--host-mount-allow: " + c.allowed in \
        t[0]["message"], t


def test_the_agent_refuses_a_forged_launch(tmp_path):
    """A launch that never passed a scheduler's check (a fake scheduler
    sends it): the agent refuses each bad mount itself and reports it."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "up").symlink_to("..")
    updates = {}
    sent = threading.Event()

    def task(host, container="/data"):
        return {"resources": {"cpu": 0.1, "ram": 16 << 20, "disk": 0},
                "mounts": [{"host_path": host, "container_path": container, "mode": "rw"}],
                "processes": [{"name": "p", "cmdline": "sleep 100000"}]}

    launches = [("etc", task("/etc")), ("root", task("/")), ("dotdot", task(f"{allowed}/../..")),
                ("up", task(f"{allowed}/up")), ("proc", task(str(allowed), "/proc")),
                ("agentdata", task(str(tmp_path / "a" / "sandboxes")))]

    def answer(body):
        for u in body.get("updates", []):
            updates[u["task_id"]] = u
        reply = {"acks": [u["seq"] for u in body.get("updates", []) if "seq" in u], "launch": [],
                 "kill": [], "heartbeat_ms": 200}
        if sent.is_set() and body.get("wait_ms", 0) > 0 and not body.get("updates"):
            time.sleep(0.2)
        if not sent.is_set():
            sent.set()
            reply["launch"] = [{"task_id": f"www-data-devel-forged-{i}-{name}", "job": "local/www-data/devel/forged",
                                "instance": i, "ports": {}, "task": t} for i, (name, t) in enumerate(launches)]
        return 200, reply

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "sandboxes").mkdir()
    with FakeScheduler(tmp_path, answer,
                       ["--host-mount-allow", str(allowed), "--host-mount-allow", str(tmp_path)]) as fake:
        def all_failed():
            ends = {k: u for k, u in updates.items() if u.get("state") == "FAILED"}
            return len(ends) == len(launches) and ends
        ends = wait_for("every forged launch FAILED", all_failed, timeout=60)
    text = fake.log()
    msg = {k.rsplit("-", 1)[1]: u.get("message", "") for k, u in ends.items()}
    assert "`/etc` is not under a path this agent allows" in msg["etc"], (msg, text)
    assert "must not be `/`" in msg["root"], msg
    assert "has a `..` component" in msg["dotdot"], msg
    assert "resolves to `" + str(tmp_path) + "`" in msg["up"] and "would show the agent's data dir" in msg["up"], msg
    assert "would cover the container's /proc" in msg["proc"], msg
    assert "would show the agent's data dir" in msg["agentdata"], msg
