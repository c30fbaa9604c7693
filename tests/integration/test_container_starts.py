"""Container starts run beside the agent's loop (runtime_start_begin: a
helper process per start, at most a few at once): a slow start holds up
neither the loop nor other tasks' starts, and an agent killed mid-start
takes its starts with it, so the restarted agent finds nothing made
behind its back. The runtime is crun behind a wrapper that holds the
`run` of chosen containers at a gate the test opens."""
import os
import shutil
import signal

import pytest

from conftest import wait_for, pid_alive

CRUN = shutil.which("crun")
pytestmark = pytest.mark.skipif(CRUN is None, reason="crun is not installed")

# For `run` of a container whose id holds HOLD, record our pid and wait
# while the gate file exists; then (and for anything else) exec crun.
WRAPPER = """#!/bin/sh
dir={dir}
case " $* " in
*" run "*{hold}*)
    echo $$ > "$dir/held.$$"
    while [ -e "$dir/gate" ]; do sleep 0.05; done
    ;;
esac
exec {crun} "$@"
"""


def job(name, instances=1):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    instances: {instances}
    service: true
    task:
      resources: {{cpu: 0.001, ram: 4MiB, disk: 0}}
      processes:
        - name: p
          cmdline: sleep 100000
"""


@pytest.fixture
def gated(cluster):
    d = os.path.join(cluster.root, "gate")
    os.makedirs(d)
    wrapper = os.path.join(d, "crun-gated")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(dir=d, hold="-test-slow-", crun=CRUN))
    os.chmod(wrapper, 0o755)
    open(os.path.join(d, "gate"), "w").close()
    cluster.agent_args = ["--runtime", wrapper]
    try:
        yield cluster, d
    finally:
        # Never leave a start held (the fixture stops the agent next).
        if os.path.exists(os.path.join(d, "gate")):
            os.unlink(os.path.join(d, "gate"))


def held(d):
    return [int(n.split(".")[1]) for n in os.listdir(d) if n.startswith("held.")]


def test_a_held_start_blocks_neither_the_loop_nor_other_starts(gated):
    c, d = gated
    c.start_scheduler()
    c.start_agent()
    assert c.cli("job", "create", "local/www-data/test/slow", c.job_file(job("slow"), "slow.yaml")).rc == 0
    wait_for("the slow start to be held in the runtime", lambda: held(d), timeout=60)
    # While it is held, the loop syncs: another job's tasks are launched,
    # started beside it, and reported RUNNING.
    assert c.cli("job", "create", "local/www-data/test/fast", c.job_file(job("fast", 3), "fast.yaml")).rc == 0
    c.wait_running("local/www-data/test/fast", 3, timeout=60)
    slow = c.tasks("local/www-data/test/slow")[0]
    assert slow["state"] == "ASSIGNED", slow
    # A kill while it starts ends it once its start reports.
    assert c.cli("job", "killall", "local/www-data/test/slow").rc == 0
    os.unlink(os.path.join(d, "gate"))
    wait_for("the slow task KILLED", lambda: c.tasks("local/www-data/test/slow")[0]["state"] == "KILLED", timeout=60)
    c.wait_running("local/www-data/test/fast", 3)


def test_an_agent_killed_mid_start_takes_the_start_with_it(gated):
    c, d = gated
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/test/slow"
    assert c.cli("job", "create", key, c.job_file(job("slow"), "slow.yaml")).rc == 0
    pids = wait_for("the start to be held in the runtime", lambda: held(d), timeout=60)
    old = c.tasks(key)[0]
    c.kill9(c.agent)
    # The runtime (and its helper) died with the agent: no container is
    # made behind the back of the agent that comes next.
    wait_for("the held runtime to die with the agent", lambda: not any(pid_alive(p) for p in pids), timeout=30)
    os.unlink(os.path.join(d, "gate"))
    c.start_agent()
    wait_for("the task reported lost mid-launch",
             lambda: "the agent stopped while launching the task" in c.log("agent.log"), timeout=60)
    current = c.wait_running(key, 1, timeout=60)
    assert current[0]["id"] != old["id"]
    agent_dir = os.path.join(c.root, "agent")
    wait_for("nothing left of the old task's container",
             lambda: not os.path.exists(os.path.join(agent_dir, "containers", old["id"])), timeout=30)
    assert not os.path.exists(os.path.join(agent_dir, "runtime", old["id"]))
