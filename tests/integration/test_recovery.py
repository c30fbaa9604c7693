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


def test_scheduler_kill9_amid_group_committed_updates_keeps_every_acked_state(cluster):
    """Fake agents send status updates concurrently (so syncs share the
    scheduler's group commit); the scheduler is killed mid-way. Every
    state it acknowledged is there after the restart."""
    import json
    import threading
    c = cluster
    c.scheduler_args = ["--flap-penalty", "0", "--agent-timeout", "10m"]
    c.start_scheduler()
    n_agents, n = 4, 48
    agents = []
    for i in range(n_agents):
        status, answer, ctx = c.enrol(f"fake{i}-{c.port}")
        assert status == 200, answer
        agents.append((f"fake{i}-{c.port}", ctx))

    def sync(agent, updates=()):
        # A new connection each time: the answers wait for the group
        # commit, and a resumed answer on such a connection once waited
        # for unrelated traffic to be sent (the scheduler slept meanwhile).
        aid, ctx = agent
        body = {"agent_id": aid, "hostname": aid, "resources": {"cpu": 16, "ram": 1 << 34, "disk": 1 << 30},
                "port_range": [41000, 41099], "wait_ms": 0, "updates": list(updates)}
        status, text = c.api_raw("/api/v1/agents/sync", "POST", json.dumps(body).encode(), context=ctx, auth=False)
        assert status == 200, text
        return json.loads(text)

    for a in agents:
        sync(a)
    key = "local/www-data/prod/acked"
    r = c.cli("job", "create", key, c.job_file(service("acked", n, "unused")))
    assert r.rc == 0, r
    launched = {a[0]: [] for a in agents}

    def all_launched():
        for a in agents:
            launched[a[0]] += [t["task_id"] for t in sync(a).get("launch", [])]
        return sum(map(len, launched.values())) == n
    wait_for(f"{n} launches handed out", all_launched, timeout=60)

    acked = {}  # task id -> the last state acked
    errors = []
    lock = threading.Lock()

    def run(agent):
        seq = 0
        try:
            for state in ("STARTING", "RUNNING"):
                for tid in launched[agent[0]]:
                    seq += 1
                    ans = sync(agent, [{"seq": seq, "task_id": tid, "state": state, "message": ""}])
                    if seq in ans.get("acks", []) and not ans.get("rejected"):
                        with lock:
                            acked[tid] = state
        except (OSError, AssertionError) as e:
            errors.append(repr(e))  # the scheduler is gone (or a bug: shown below)
    threads = [threading.Thread(target=run, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    wait_for("half of the updates acked", lambda: (len(acked) == n and
             sum(s == "RUNNING" for s in acked.values()) >= n // 2) or errors, timeout=120, interval=0.001)
    assert not errors, (errors, c.log("scheduler.log")[-3000:])
    c.kill9(c.sched)
    for t in threads:
        t.join(timeout=60)
    with lock:
        final = dict(acked)
    c.start_scheduler()
    tasks = {t["id"]: t for t in c.all_tasks(job=key)}
    for tid, state in final.items():
        got = tasks[tid]["state"]
        assert got == state or (state == "STARTING" and got == "RUNNING"), (tid, state, got)
