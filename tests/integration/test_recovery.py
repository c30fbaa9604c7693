"""Daemons killed with SIGKILL lose nothing: the scheduler recovers every
job and task from its store, and a restarted agent re-attaches to the
executors it left running."""
import collections
import os
import signal

from conftest import pid_alive, wait_for

ACTIVE = {"INIT", "THROTTLED", "PENDING", "ASSIGNED", "STARTING", "RUNNING",
          "PREEMPTING", "RESTARTING", "DRAINING", "KILLING", "PARTITIONED"}


def service(name, instances, marker):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: prod
    name: {name}
    instances: {instances}
    service: true
    task:
      resources: {{cpu: 0.01, ram: 8MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "TEST_MARKER={marker}-{{{{instance}}}} exec sleep 100000"
"""


def processes_with(marker):
    """Live processes whose environment carries TEST_MARKER=marker-N, counted
    by instance N."""
    found = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for var in env:
            if var.startswith(f"TEST_MARKER={marker}-") and pid_alive(int(pid)):
                found[var.rsplit("-", 1)[1]] += 1
    return found


def test_scheduler_kill9_mid_work_loses_nothing(running):
    c = running
    marker = f"recov{c.port}"
    keys = []
    for n in range(3):
        key = f"local/www-data/prod/job{n}"
        r = c.cli("job", "create", key, c.job_file(service(f"job{n}", 5, f"{marker}{n}"), f"j{n}.yaml"))
        assert r.rc == 0, r
        keys.append(key)
    # Kill the scheduler while it is placing and launching these tasks.
    c.kill9(c.sched)
    c.start_scheduler()
    for key in keys:
        c.wait_running(key, 5)
    # Every acknowledged job is there, and no instance has two live copies,
    # neither in the scheduler's view nor on the machine.
    live = collections.Counter(
        (t["job"], t["instance"]) for t in c.all_tasks() if t["state"] in ACTIVE)
    assert sorted(live) == sorted((k, i) for k in keys for i in range(5))
    assert set(live.values()) == {1}
    for n in range(3):
        procs = wait_for(f"exactly one process per instance of job{n}",
                         lambda: (p := processes_with(f"{marker}{n}")) and
                         sorted(p) == [str(i) for i in range(5)] and p)
        assert set(procs.values()) == {1}, procs


def test_agent_kill9_keeps_tasks_and_reattaches(running):
    c = running
    marker = f"reatt{c.port}"
    key = "local/www-data/prod/keep"
    r = c.cli("job", "create", key, c.job_file(service("keep", 2, marker)), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    before = c.wait_running(key, 2)
    pids = {i: (t["executor_pid"], t["processes"][0]["pid"]) for i, t in before.items()}

    c.kill9(c.agent)
    # While the agent is down, instance 1's process dies.
    os.kill(pids[1][1], signal.SIGKILL)
    assert pid_alive(pids[0][0]) and pid_alive(pids[0][1])

    c.start_agent(wait=False)

    def settled():
        ts = c.tasks(key)
        return ts[1]["id"] != before[1]["id"] and ts[1]["state"] == "RUNNING" and ts
    after = wait_for("instance 1 replaced after the agent came back", settled)
    # Instance 0 never stopped: same task, same executor, same process.
    assert after[0]["id"] == before[0]["id"]
    assert after[0]["state"] == "RUNNING"
    assert (after[0]["executor_pid"], after[0]["processes"][0]["pid"]) == pids[0]
    # Instance 1's end while the agent was away was reported truthfully.
    old1 = c.api("/api/v1/tasks/" + before[1]["id"])
    assert old1["state"] == "FAILED", old1
    assert after[1]["ancestor_id"] == before[1]["id"]
