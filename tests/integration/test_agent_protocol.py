"""The agent protocol under faults: an agent killed mid-launch of a large
job, an agent shut down and started again (with and without the scheduler
up), and an agent whose journal disk fills up. Every task must end
consistent and later updates must keep flowing."""
import os
import signal
import subprocess

import pytest

from conftest import EXECUTOR, FakeScheduler, pid_alive, wait_for

CONTAINER_EXECUTOR = b"/dev/.borealis-executor"


def job_yaml(name, instances, service=True, cmd="sleep 100000", ports=""):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    instances: {instances}
    service: {"true" if service else "false"}
    task:
      resources: {{cpu: 0.001, ram: 1MiB, disk: 0}}
      {ports}
      processes:
        - name: p
          cmdline: "{cmd}"
"""


def live_executors(agent_dir):
    """Task id -> pids of live executors of the tasks under agent_dir. Each
    is its container's first process: found by its path inside the
    container and by its cgroup, named by the task id."""
    try:
        tasks = set(os.listdir(os.path.join(agent_dir, "sandboxes")))
    except OSError:
        return {}
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if argv[0] != CONTAINER_EXECUTOR:
                continue
            with open(f"/proc/{pid}/cgroup") as f:
                cg = f.read()
        except OSError:
            continue
        for line in cg.splitlines():
            task = line.rsplit("/", 1)[-1]
            if task in tasks and pid_alive(int(pid)):
                found.setdefault(task, []).append(int(pid))
                break
    return found


def consistent(c, key, n):
    """Every instance RUNNING, nothing ASSIGNED, one live executor per task."""
    tasks = c.job(key)["tasks"]
    current = {t["instance"]: t for t in tasks}
    if len(current) != n or any(t["state"] != "RUNNING" for t in current.values()):
        return False
    every = c.all_tasks()
    if any(t["state"] == "ASSIGNED" for t in every):
        return False
    return current


def test_agent_killed_mid_launch_of_a_large_job_recovers(cluster):
    c = cluster
    n = 400
    # The agent starts a batch's containers one after the other in its
    # loop (tens of ms each, more under ASan on a loaded machine), so 400
    # may take longer than the harness's short agent timeout.
    c.scheduler_args = ["--flap-penalty", "0", "--agent-timeout", "5m"]
    c.agent_stop_timeout = 300
    c.start_scheduler()
    c.agent_args = ["--cpu", "64", "--ram", "64GiB"]
    c.start_agent()
    key = "local/www-data/test/big"
    r = c.cli("job", "create", key, c.job_file(job_yaml("big", n)))
    assert r.rc == 0, r
    # Kill the agent while it launches: some executors started, not all.
    wait_for("the launch under way",
             lambda: 0 < len(live_executors(os.path.join(c.root, "agent"))) < n or
             "launched a batch" in c.log("agent.log"), timeout=60, interval=0.01)
    c.kill9(c.agent)
    c.start_agent()
    # The restarted agent found records of tasks it never started.
    wait_for("tasks reported lost mid-launch",
             lambda: "the agent stopped while launching the task" in c.log("agent.log"), timeout=60)
    current = wait_for(f"{n} instances RUNNING, none ASSIGNED",
                       lambda: consistent(c, key, n), timeout=240)
    # No duplicate live copies: exactly one executor per instance, and it is
    # the instance's current task.
    live = wait_for("one executor per task",
                    lambda: (lambda l: len(l) == n and l)(live_executors(os.path.join(c.root, "agent"))),
                    timeout=60)
    assert all(len(p) == 1 for p in live.values()), {t: p for t, p in live.items() if len(p) > 1}
    assert set(live) == {t["id"] for t in current.values()}
    # Later updates flow: kill one instance's process, see it reported.
    victim = current[7]
    pid = next(p["pid"] for p in victim["processes"] if p.get("pid"))
    os.kill(pid, signal.SIGKILL)
    wait_for("the killed task reported FAILED",
             lambda: [t for t in c.all_tasks(job=key, instance=7)
                      if t["id"] == victim["id"] and t["state"] == "FAILED"], timeout=60)
    c.wait_running(key, n, timeout=60)
    # Nothing was left unacknowledged for the agent to resend.
    assert "acknowledged none" not in c.log("agent.log")


def _restart_cycle(c, stop_scheduler_too):
    key = "local/www-data/test/svc"
    r = c.cli("job", "create", key,
              c.job_file(job_yaml("svc", 2, ports="ports: [http]",
                                  cmd="sleep 100000 # {{ports.http}}")))
    assert r.rc == 0, r
    before = {t["id"] for t in c.wait_running(key, 2).values()}
    if stop_scheduler_too:
        assert c.stop(c.sched) == 0
    assert c.stop(c.agent) == 0  # SIGTERM: --cleanup-on-exit kills every task
    if stop_scheduler_too:
        c.start_scheduler()
    c.start_agent()
    def replaced():
        ts = c.tasks(key)
        return len(ts) == 2 and all(t["state"] == "RUNNING" and t["id"] not in before
                                    for t in ts.values()) and ts
    running = wait_for("both instances replaced and RUNNING", replaced, timeout=60)
    for t in running.values():
        assert all(p != 0 for p in t["ports"].values()), t
    # No instance was held as flapping at any point of the cycle.
    every = c.all_tasks(job=key)
    throttled = [t for t in every if t["state"] == "THROTTLED" or
                 any(e["state"] == "THROTTLED" for e in t["events"])]
    assert not throttled, throttled


def test_agent_shutdown_reschedules_without_flapping_penalty(cluster):
    c = cluster
    c.scheduler_args = ["--agent-timeout", "30s"]  # the default flapping penalty
    c.start_scheduler()
    c.start_agent()
    _restart_cycle(c, stop_scheduler_too=False)
    assert "is shutting down" in c.log("scheduler.log")


def test_cluster_shutdown_with_scheduler_down_restarts_every_instance(cluster):
    c = cluster
    c.scheduler_args = ["--agent-timeout", "30s"]
    c.start_scheduler()
    c.start_agent()
    _restart_cycle(c, stop_scheduler_too=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_agent_disk_full_stops_the_agent_and_leaks_nothing(cluster):
    c = cluster
    data = os.path.join(c.root, "agent")
    os.makedirs(data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data], check=True)
    try:
        c.scheduler_args = ["--flap-penalty", "0", "--agent-timeout", "5m"]  # as above
        c.start_scheduler()
        c.agent_args = ["--cpu", "64", "--ram", "64GiB", "--disk", "1GiB"]
        c.start_agent()
        key = "local/www-data/test/pre"
        assert c.cli("job", "create", key, c.job_file(job_yaml("pre", 2))).rc == 0
        c.wait_running(key, 2)
        # Fill the disk, then make the agent journal: a launch batch.
        try:
            with open(os.path.join(data, "filler"), "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
        except OSError:
            pass
        key2 = "local/www-data/test/more"
        assert c.cli("job", "create", key2, c.job_file(job_yaml("more", 300), "more.yaml")).rc == 0
        rc = c.agent.wait(timeout=120)
        assert rc == 1, rc
        log = c.log("agent.log")
        assert "fail-stop" in log, log[-3000:]
        # --cleanup-on-exit: nothing left behind, though the journal failed.
        assert os.listdir(os.path.join(data, "sandboxes")) == []
        assert not c.cgroups_left()
        assert not live_executors(data)
        # Room again: a restart recovers, and every task ends consistent.
        os.unlink(os.path.join(data, "filler"))
        subprocess.run(["mount", "-o", "remount,size=256m", data], check=True)
        c.start_agent()
        wait_for("both jobs RUNNING, none ASSIGNED",
                 lambda: consistent(c, key, 2) and consistent(c, key2, 300), timeout=240)
    finally:
        c.stop(c.agent, timeout=300)
        c.agent = None
        subprocess.run(["umount", "-l", data], check=False)


def test_agent_exit_codes_follow_the_error_kind(tmp_path):
    """A value the user must fix exits 2, a failure of the machine 1 (decided
    by the error's kind, not by matching its message)."""
    import fcntl
    from conftest import BOREALIS

    def agent(*args):
        return subprocess.run([BOREALIS, "agent", "--scheduler", "http://127.0.0.1:1",
                               "--data-dir", str(tmp_path / "a")] + list(args),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    r = agent("--executor", str(tmp_path / "no-such-executor"))
    assert r.returncode == 2, r
    assert "--executor" in r.stderr
    os.makedirs(tmp_path / "a")
    with open(tmp_path / "a" / "agent.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = agent("--executor", EXECUTOR)
    assert r.returncode == 1, r
    assert "another agent uses data dir" in r.stderr


def test_agent_backs_off_when_its_updates_are_not_acked(tmp_path):
    """Against a scheduler that never acks (an older or broken one), an
    agent with more updates queued than one request carries must not resend
    in a loop: it waits with backoff and says so."""
    import threading
    import time

    requests = []
    launched = threading.Event()

    def answer(body):
        requests.append((time.monotonic(), len(body.get("updates", []))))
        reply = {"acks": [], "launch": [], "kill": [], "heartbeat_ms": 10000}
        if not launched.is_set():
            # 600 launches the agent refuses (no processes): 600 FAILED
            # updates, more than one request carries.
            launched.set()
            reply["launch"] = [{"task_id": f"bad-{i}", "job": "local/r/e/n", "instance": 0,
                                "ports": {}, "task": {}} for i in range(600)]
        elif body.get("wait_ms", 0) > 0:
            time.sleep(min(body["wait_ms"], 2000) / 1000)
        return 200, reply

    with FakeScheduler(tmp_path, answer) as fake:
        wait_for("updates sent", lambda: any(n > 0 for _, n in requests), timeout=30)
        first = next(t for t, n in requests if n > 0)
        wait_for("5 s of resending", lambda: time.monotonic() > first + 5, timeout=10, interval=0.5)
        resent = [t for t, n in requests if first <= t <= first + 5]
        # Backoff from 100 ms doubling: a handful; a loop: thousands.
        assert len(resent) < 30, len(resent)
        text = fake.log()
        assert "resending with backoff" in text
        assert "launch refused by the agent" in text


def _agent_states(c):
    return [a["state"] for a in c.api("/api/v1/agents")["agents"]]


def test_agent_reregisters_after_a_scheduler_restart_and_a_lost_store(cluster):
    """An agent sends its registration only on its boot sync, after a
    failed sync and when asked (protocol.md §3, "Registration"): across a
    scheduler restart it keeps its tasks, and a scheduler that lost its
    store (a new data directory) learns it again without operator action.
    Plain HTTP: a new data directory is a new CA, which a TLS agent would
    rightly refuse."""
    c = cluster
    c.url = f"http://127.0.0.1:{c.port}"
    c.scheduler_args += ["--insecure-listen-without-tls"]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/test/keep"
    r = c.cli("job", "create", key, c.job_file(job_yaml("keep", 2)))
    assert r.rc == 0, r
    before = {i: t["id"] for i, t in c.wait_running(key, 2).items()}
    # Restart: the same tasks keep running, the agent syncs again.
    assert c.stop(c.sched) == 0
    c.start_scheduler()
    wait_for("the agent up again", lambda: _agent_states(c) == ["up"], timeout=60)
    assert {i: t["id"] for i, t in c.wait_running(key, 2).items()} == before
    r = c.cli("job", "create", "local/www-data/test/after", c.job_file(job_yaml("after", 1)))
    assert r.rc == 0, r
    c.wait_running("local/www-data/test/after", 1)
    # A scheduler that lost its store: a new, empty data directory.
    assert c.stop(c.sched) == 0
    os.rename(os.path.join(c.root, "scheduler"), os.path.join(c.root, "scheduler.lost"))
    c.start_scheduler()
    wait_for("the agent registered with the new scheduler", lambda: _agent_states(c) == ["up"], timeout=60)
    # The tasks it ran are unknown there: killed (reconciliation); new ones run.
    wait_for("the unknown tasks killed", lambda: not live_executors(os.path.join(c.root, "agent")) or
             set(live_executors(os.path.join(c.root, "agent"))).isdisjoint(before.values()), timeout=60)
    r = c.cli("job", "create", key, c.job_file(job_yaml("keep", 2)))
    assert r.rc == 0, r
    c.wait_running(key, 2)
    assert "registered with scheduler" in c.log("agent.log")
    assert c.log("scheduler.log").count("registered: cpu") == 2  # once per store


def test_agent_marked_lost_is_asked_for_its_registration(cluster):
    """An agent the scheduler marked lost while its connection stayed fine
    (it was stopped): its next sync, without the registration, applies
    nothing and is answered with "register"; it sends the registration at
    once and is up again, its tasks RUNNING again (reschedule: false keeps
    them PARTITIONED meanwhile)."""
    c = cluster
    c.scheduler_args = ["--flap-penalty", "0", "--agent-heartbeat", "500ms", "--agent-timeout", "2s"]
    c.start_scheduler()
    c.start_agent()
    key = "local/www-data/test/part"
    spec = job_yaml("part", 1).replace("    task:", "    partition_policy: {reschedule: false}\n    task:")
    r = c.cli("job", "create", key, c.job_file(spec))
    assert r.rc == 0, r
    before = c.wait_running(key, 1)[0]["id"]
    c.agent.send_signal(signal.SIGSTOP)
    try:
        wait_for("the agent lost", lambda: _agent_states(c) == ["lost"], timeout=30, interval=0.1)
        wait_for("its task PARTITIONED", lambda: c.tasks(key)[0]["state"] == "PARTITIONED", timeout=30)
    finally:
        c.agent.send_signal(signal.SIGCONT)
    wait_for("the agent up again", lambda: _agent_states(c) == ["up"], timeout=60)
    wait_for("its task RUNNING again", lambda: c.tasks(key)[0]["state"] == "RUNNING", timeout=60)
    assert c.tasks(key)[0]["id"] == before
    log = c.log("agent.log")
    assert "the scheduler asked for this agent's registration" in log, log[-3000:]
    assert "lost -> up" in c.log("scheduler.log")


def test_agent_sends_its_registration_only_when_needed(tmp_path):
    """The real agent against a scripted scheduler: its boot sync carries
    the registration, later ones only agent_id; after `"register": true`
    and after a failed sync (500) the next one carries it again; an answer
    asking for the registration the sync carried is a failed sync."""
    import threading

    reg_keys = {"hostname", "resources", "port_range", "attributes"}
    seen = []  # (has registration, boot, has inventory, status answered)
    lock = threading.Lock()

    def answer(body):
        has_reg = bool(reg_keys & set(body))
        assert not has_reg or reg_keys <= set(body), body  # all or none
        with lock:
            n = len(seen)
            bare_so_far = sum(1 for s in seen if not s[0])
            status, reply = 200, {"acks": [], "launch": [], "kill": [], "heartbeat_ms": 100}
            if not has_reg and bare_so_far == 2:
                reply["register"] = True
            elif not has_reg and bare_so_far == 5:
                status, reply = 500, {"error": "scripted failure", "code": "INTERNAL"}
            elif has_reg and n >= 1 and not body.get("boot") and sum(1 for s in seen if s[0]) == 1:
                reply["register"] = True  # the one sent when asked: asked again for what it carries
            seen.append((has_reg, bool(body.get("boot")), "inventory" in body, status,
                         "register" in reply, body.get("agent_id")))
        return status, reply

    with FakeScheduler(tmp_path, answer) as fake:
        wait_for("the scripted exchange", lambda: sum(1 for s in seen if not s[0]) >= 8, timeout=60)
    with lock:
        s = list(seen)
    ids = {x[5] for x in s}
    assert len(ids) == 1 and None not in ids, ids
    # Boot: registration, boot, inventory. Then bare.
    assert s[0][:3] == (True, True, True), s
    assert not s[1][0] and not s[2][0], s
    # The third bare one was asked for the registration: the next carries
    # it (and the inventory), not boot.
    i = next(k for k, x in enumerate(s) if x[4] and not x[0])
    assert s[i + 1][:3] == (True, False, True), s
    # After the 500, the registration again.
    j = next(k for k, x in enumerate(s) if x[3] == 500)
    assert s[j + 1][0], s
    # That one was asked for what it carried: a failed sync, then the
    # registration again.
    k = next(k for k, x in enumerate(s) if x[4] and x[0])
    assert k == i + 1 and s[k + 1][0], s
    text = fake.log()
    assert "the scheduler asked for this agent's registration" in text
    assert "asked for the registration this request carried" in text


def test_an_update_sync_that_may_wait_is_held_and_acked_with_the_next_answer(cluster):
    """docs/protocol.md "Held acks", as a fake agent over the real protocol:
    a sync whose answer would only ack waits like an empty poll; its
    updates are applied at once, and their acks go with the next answer
    (here a launch); a newer request of the agent answers it at once."""
    import json
    import threading
    c = cluster
    c.scheduler_args = ["--agent-heartbeat", "10s", "--agent-timeout", "1m"]
    c.start_scheduler()
    aid = f"fake-held-{c.port}"
    status, answer, ctx = c.enrol(aid)
    assert status == 200, answer

    def sync(updates=(), wait_ms=0):
        body = {"agent_id": aid, "hostname": aid, "resources": {"cpu": 4, "ram": 1 << 32, "disk": 1 << 30},
                "port_range": [41000, 41099], "wait_ms": wait_ms, "updates": list(updates)}
        status, text = c.api_raw("/api/v1/agents/sync", "POST", json.dumps(body).encode(), context=ctx, auth=False)
        assert status == 200, text
        return json.loads(text)

    def held(updates, wait_ms=8000):
        """The sync in a thread: (thread, [its answer once it came])."""
        got = []
        t = threading.Thread(target=lambda: got.append(sync(updates, wait_ms)), daemon=True)
        t.start()
        return t, got

    def ups(seq, task_id):
        return [{"seq": seq, "task_id": task_id, "state": "STARTING", "message": ""},
                {"seq": seq + 1, "task_id": task_id, "state": "RUNNING", "message": ""}]

    def task_state(task_id):
        return c.api("/api/v1/tasks/" + task_id)["state"]

    def create(name):
        r = c.cli("job", "create", f"local/www-data/test/{name}", c.job_file(job_yaml(name, 1), name=f"{name}.yaml"))
        assert r.rc == 0, r

    sync()
    create("held1")
    first = []
    wait_for("the first launch", lambda: first.extend(sync().get("launch", [])) or first, timeout=30)
    t1 = first[0]["task_id"]

    # Updates with a wait: applied at once, the request held.
    a, got_a = held(ups(1, t1))
    wait_for(f"{t1} RUNNING at the scheduler", lambda: task_state(t1) == "RUNNING", timeout=30)
    assert a.is_alive() and not got_a, got_a
    # The next launch answers it, with the held acks.
    create("held2")
    a.join(timeout=30)
    assert got_a, "the held sync was not answered by the next launch"
    assert sorted(got_a[0]["acks"]) == [1, 2], got_a
    assert [x["job"] for x in got_a[0]["launch"]] == ["local/www-data/test/held2"], got_a
    t2 = got_a[0]["launch"][0]["task_id"]

    # A newer request of the agent answers a held one at once.
    b, got_b = held(ups(3, t2))
    wait_for(f"{t2} RUNNING at the scheduler", lambda: task_state(t2) == "RUNNING", timeout=30)
    assert b.is_alive() and not got_b, got_b
    poll, _ = held([], wait_ms=200)
    b.join(timeout=30)
    assert got_b and sorted(got_b[0]["acks"]) == [3, 4] and not got_b[0]["launch"], got_b
    poll.join(timeout=30)


def test_agent_sends_its_updates_in_a_request_the_scheduler_may_hold(tmp_path):
    """The real agent against a scripted scheduler (docs/protocol.md "Held
    acks"): an update goes in a request with the heartbeat as its wait (not
    its boot sync nor an inventory), and once acked it is not sent again."""
    import threading
    import time

    seen = []
    lock = threading.Lock()
    launched = threading.Event()

    def answer(body):
        with lock:
            seen.append(body)
        ups = body.get("updates", [])
        reply = {"acks": [u["seq"] for u in ups], "launch": [], "kill": [], "heartbeat_ms": 1500}
        if not launched.is_set():
            launched.set()
            # A launch the agent refuses (no processes): one FAILED update.
            reply["launch"] = [{"task_id": "bad-0", "job": "local/r/e/n", "instance": 0, "ports": {}, "task": {}}]
        elif body.get("wait_ms", 0) > 0 and not ups:
            time.sleep(min(body["wait_ms"], 1500) / 1000)
        return 200, reply

    def carrying():
        with lock:
            return [b for b in seen if b.get("updates")]

    with FakeScheduler(tmp_path, answer):
        wait_for("the FAILED update sent", carrying, timeout=30)
        n = len(seen)
        wait_for("two more requests", lambda: len(seen) >= n + 2, timeout=30)
    first = carrying()[0]
    assert [u["task_id"] for u in first["updates"]] == ["bad-0"], first
    assert first["updates"][0]["state"] == "FAILED", first
    assert "inventory" not in first and not first.get("boot"), first
    assert first["wait_ms"] == 1500, first
    assert len(carrying()) == 1, carrying()  # acked: never again
