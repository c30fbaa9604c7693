"""A task's disk (its sandbox, and an image task's writable layer) is
measured beside the agent's loop: a task over its job's `disk` ends FAILED
with a message naming the limit; one under it keeps running."""
import os
import shutil
import tempfile

import pytest

from conftest import cgroups_left, free_port, wait_for

JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    task:
      resources: {{cpu: 0.1, ram: 32MiB, disk: {disk}}}
      processes:
        - name: main
          cmdline: "dd if=/dev/urandom of=data bs=1M count={mib} 2>/dev/null && touch written && exec sleep 100000"
"""


def test_a_task_over_its_disk_limit_fails_and_one_under_it_runs(cluster):
    c = cluster
    c.agent_args = ["--disk-check-interval", "200ms"]
    c.start_scheduler()
    c.start_agent()
    small = "local/www-data/test/small"
    r = c.cli("job", "create", small, c.job_file(JOB.format(name="small", disk="16MiB", mib=2), "s.yaml"),
              "--wait-until", "RUNNING")
    assert r.rc == 0, r
    under = c.wait_running(small, 1)[0]
    wait_for("the small task's data written",
             lambda: os.path.exists(os.path.join(c.root, "agent", "sandboxes", under["id"], "written")))
    hog = "local/www-data/test/hog"
    r = c.cli("job", "create", hog, c.job_file(JOB.format(name="hog", disk="8MiB", mib=20), "h.yaml"))
    assert r.rc == 0, r
    t = wait_for("the hog FAILED", lambda: (t := c.tasks(hog)[0])["state"] == "FAILED" and t, timeout=60)
    assert "disk limit exceeded (limit 8MiB)" in t["message"], t["message"]
    # The round that found the hog measured the small task too (both ran):
    # 2 MiB of 16 MiB keep it running, untouched.
    assert c.tasks(small)[0]["state"] == "RUNNING"
    assert c.tasks(small)[0]["id"] == under["id"]
    # Its processes are gone, not only reported: its cgroup is removed.
    wait_for("the hog's cgroup removed", lambda: all(
        not os.path.exists(os.path.join(d, t["id"])) for d in cgroups_left(c.cgroup_root)))


IMAGE_JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: layer
    task:
      image: {image}
      resources: {{cpu: 0.1, ram: 32MiB, disk: 8MiB}}
      processes:
        - name: main
          cmdline: "dd if=/dev/urandom of=/data/big bs=1M count=20 2>/dev/null; exec sleep 100000"
"""


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed")
def test_an_image_task_writing_past_its_disk_in_its_writable_layer_fails(cluster):
    """The writes land in the overlay's writable layer, not the sandbox:
    they count all the same."""
    from imagelib import Image, Registry, busybox_layers
    root = tempfile.mkdtemp(prefix="borealis-registry-")
    reg = Registry(root, free_port())
    try:
        reg.push("tools/busybox", "1.36", Image(busybox_layers()))
        c = cluster
        c.agent_args = ["--plain-http", reg.host, "--disk-check-interval", "200ms"]
        c.start_scheduler()
        c.start_agent()
        key = "local/www-data/devel/layer"
        r = c.cli("job", "create", key, c.job_file(IMAGE_JOB.format(image=f"{reg.host}/tools/busybox:1.36")),
                  "--plain-http", reg.host)
        assert r.rc == 0, r
        t = wait_for("the task FAILED", lambda: (t := c.tasks(key)[0])["state"] == "FAILED" and t, timeout=120)
        assert "disk limit exceeded (limit 8MiB): " in t["message"] and "in the sandbox and writable layer" in t["message"], t
        # The 20 MiB were in the writable layer (/data), not in the sandbox.
        sandbox = os.path.join(c.root, "agent", "sandboxes", t["id"])
        assert sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sandbox) for f in fs) < 1 << 20
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


DEEP = """
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: deep
    task:
      resources: {cpu: 0.1, ram: 32MiB, disk: 64MiB}
      processes:
        - name: main
          cmdline: "i=0; while [ $i -lt 300 ]; do mkdir d && cd d || exit 1; i=$((i+1)); done; exec sleep 100000"
"""


def test_a_task_nesting_past_what_the_walk_measures_is_not_left_unmeasured(cluster):
    """Data hidden below the walk's depth bound would go uncounted: such a
    task is failed, saying why, rather than trusted."""
    c = cluster
    c.agent_args = ["--disk-check-interval", "200ms"]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/test/deep"
    assert c.cli("job", "create", key, c.job_file(DEEP)).rc == 0
    t = wait_for("the deep task FAILED", lambda: (t := c.tasks(key)[0])["state"] == "FAILED" and t, timeout=60)
    assert "disk limit exceeded (limit 64MiB): directories nested more than 256 deep in the sandbox" in \
        t["message"], t["message"]
