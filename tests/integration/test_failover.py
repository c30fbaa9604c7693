"""Failure detection across real network boundaries (tests/integration/
multihost.py): partitions per a job's partition policy, a scheduler
restarting while a machine is dead, heavy scheduler load, and a bounded
chaos run. What an operator checks: every instance RUNNING again, one live
copy of each on the machines, agents' states in `GET /api/v1/agents`."""
import os
import random
import subprocess
import time

from conftest import BOREALIS, wait_for
from multihost import Hosts

# Short heartbeats keep these tests fast; the defaults (2 s, 6 s) are the
# same rule scaled (a timeout of 3 heartbeats or more).
FAST = ["--flap-penalty", "0", "--agent-heartbeat", "250ms", "--agent-timeout", "1500ms"]


def job_yaml(name, instances, policy=None, ram="16MiB"):
    pp = f"    partition_policy: {policy}\n" if policy else ""
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    instances: {instances}
    service: true
{pp}    task:
      resources: {{cpu: 0.05, ram: {ram}, disk: 1MiB}}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""


def create(h, name, instances, policy=None, ram="16MiB"):
    key = f"local/www-data/devel/{name}"
    h.cli("job", "create", key, h.write_job(key, job_yaml(name, instances, policy, ram)))
    return key


def running(h, key, n):
    ts = h.tasks(key)
    return len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()) and ts


def agent_id(h, name):
    return [a["id"] for a in h.agents() if a["hostname"] == name][0]


def test_a_cut_host_keeps_partitioned_tasks_and_loses_the_others_then_reconciles():
    with Hosts(n=3, scheduler_args=FAST) as h:
        h.start_scheduler()
        h.start_agents()
        keep = create(h, "keep", 3, "{reschedule: false}")
        move = create(h, "move", 3)
        before_keep = wait_for("keep RUNNING", lambda: running(h, keep, 3))
        before_move = wait_for("move RUNNING", lambda: running(h, move, 3))
        cut = agent_id(h, "h1")
        k1 = [i for i, t in before_keep.items() if t["agent_id"] == cut]
        m1 = [i for i, t in before_move.items() if t["agent_id"] == cut]
        assert len(k1) == 1 and len(m1) == 1, (before_keep, before_move)  # spread: one per host
        h.cut(1)
        wait_for("h1 lost", lambda: h.agent_state("h1") == "lost", timeout=20)
        # partition_policy {reschedule: false}: the same task, PARTITIONED,
        # never replaced; without a policy: LOST and RUNNING elsewhere.
        wait_for("keep's h1 task PARTITIONED", lambda: h.tasks(keep)[k1[0]]["state"] == "PARTITIONED")
        assert h.tasks(keep)[k1[0]]["id"] == before_keep[k1[0]]["id"]
        moved = wait_for("move's h1 instance RUNNING elsewhere",
                         lambda: (ts := running(h, move, 3)) and ts[m1[0]]["agent_id"] != cut and ts, timeout=20)
        assert moved[m1[0]]["ancestor_id"] == before_move[m1[0]]["id"]
        h.restore(1)
        # Back: the partitioned task is RUNNING again (same id, on h1), the
        # replaced one is killed there: one live copy of each instance.
        wait_for("h1 up", lambda: h.agent_state("h1") == "up", timeout=30)
        back = wait_for("keep RUNNING again", lambda: running(h, keep, 3), timeout=30)
        assert back[k1[0]]["id"] == before_keep[k1[0]]["id"] and back[k1[0]]["agent_id"] == cut
        wait_for("one live copy of each instance",
                 lambda: h.live_copies(move) == {0: 1, 1: 1, 2: 1} and h.live_copies(keep) == {0: 1, 1: 1, 2: 1},
                 timeout=30)
        log = h.log()
        assert "h1" in log and "up -> lost" in log and "lost -> up" in log


def test_after_a_scheduler_restart_nothing_is_placed_on_an_agent_not_heard_from():
    # A timeout long enough that the new job is placed while h1 is unknown.
    args = ["--flap-penalty", "30s", "--agent-heartbeat", "250ms", "--agent-timeout", "4s"]
    with Hosts(n=3, scheduler_args=args) as h:
        h.start_scheduler()
        h.start_agents()
        first = create(h, "first", 3)
        wait_for("first RUNNING", lambda: running(h, first, 3))
        dead = agent_id(h, "h1")
        h.kill9_scheduler()
        h.kill9(1)
        h.restart_scheduler()
        # Unknown until it syncs with this scheduler, which it never does.
        assert h.agent_state("h1") == "unknown"
        second = create(h, "second", 6)
        ts = wait_for("second RUNNING", lambda: running(h, second, 6), timeout=30)
        assert all(t["agent_id"] != dead and not t.get("ancestor_id") for t in ts.values()), ts
        wait_for("h1 lost", lambda: h.agent_state("h1") == "lost", timeout=20)
        # Its tasks, which never failed themselves, run elsewhere without a
        # flapping penalty (30 s here).
        wait_for("first RUNNING without h1",
                 lambda: (f := running(h, first, 3)) and all(t["agent_id"] != dead for t in f.values()), timeout=20)
        assert "unknown -> lost" in h.log()


def test_heavy_scheduler_load_marks_no_agent_lost():
    # A heartbeat of 100 ms and a timeout of 300 ms: any stall of the
    # scheduler's loop longer than that would lose both agents if
    # silence were measured by the clock alone.
    args = ["--agent-heartbeat", "100ms", "--agent-timeout", "300ms"]
    with Hosts(n=2, scheduler_args=args) as h:
        h.start_scheduler()
        h.start_agents()
        # Six creates of 4000 instances at once (24,000 tasks that fit
        # nowhere): the loop serves them back to back, then places.
        procs, keys = [], []
        for n in range(6):
            key = f"local/www-data/devel/big{n}"
            keys.append(key)
            path = h.write_job(key, job_yaml(f"big{n}", 4000, ram="1000GiB"))
            procs.append(subprocess.Popen([BOREALIS, "--scheduler", h.url, "job", "create", key, path],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env=dict(os.environ, BOREALIS_TOKEN_FILE=h.token_file,
                                                   BOREALIS_CA=h.ca)))
        t0 = time.monotonic()
        assert [p.wait(timeout=300) for p in procs] == [0] * 6
        took = time.monotonic() - t0
        wait_for("every task's pending reason",
                 lambda: all(all(t.get("pending_reason") for t in h.tasks(k).values()) for k in keys), timeout=120)
        print(f"6 creates of 4000 instances took {took:.2f}s")
        assert h.agents_up() == ["h1", "h2"]
        assert "-> lost" not in h.log()


def test_chaos_every_instance_runs_once_after_each_fault():
    seed = int(os.environ.get("BOREALIS_CHAOS_SEED", "8"))
    print(f"chaos seed {seed} (BOREALIS_CHAOS_SEED)")
    rnd = random.Random(seed)
    with Hosts(n=5, scheduler_args=FAST) as h:
        h.start_scheduler()
        h.start_agents()
        keys = [create(h, f"svc{n}", 10) for n in range(3)]
        faults = ["kill9_agent", "cut", "restart_agent", "kill9_scheduler"]

        def settled():
            for k in keys:
                if not running(h, k, 10) or h.live_copies(k) != {i: 1 for i in range(10)}:
                    return False
            return True

        wait_for("30 instances RUNNING once", settled, timeout=60)
        for rnd_no in range(20):
            fault = rnd.choice(faults)
            k = rnd.randint(1, 5)
            print(f"round {rnd_no}: {fault} h{k}")
            if fault == "kill9_agent":
                h.kill9(k)
                wait_for(f"h{k} lost", lambda: h.agent_state(f"h{k}") == "lost", timeout=20)
                h.revive(k)
            elif fault == "cut":
                h.cut(k)
                wait_for(f"h{k} lost", lambda: h.agent_state(f"h{k}") == "lost", timeout=20)
                h.restore(k)
            elif fault == "restart_agent":
                h.restart_agent(k)
            else:
                h.kill9_scheduler()
                h.restart_scheduler()
            assert h.scheduler_alive(), f"round {rnd_no}: the scheduler died"
            wait_for(f"round {rnd_no} ({fault} h{k}): 30 instances RUNNING, one live copy each", settled,
                     timeout=60)
            wait_for("5 agents up", lambda: len(h.agents_up()) == 5, timeout=30)
        # What was submitted: three services of 10 instances, nothing else.
        jobs = h.api("/api/v1/jobs")["jobs"]
        assert sorted(j["key"] for j in jobs) == sorted(keys)
        assert h.scheduler_alive()


def test_listen_on_ipv6_serves_ipv4_agents_too_and_host_list_shows_them():
    # `--listen ::` (given after the harness's own --listen, so it wins):
    # one dual-stack socket for IPv6 clients and the IPv4 agents.
    with Hosts(n=1, scheduler_args=FAST + ["--listen", "::"]) as h:
        h.start_scheduler()
        h.start_agents()
        key = create(h, "v6", 1)
        wait_for("v6 RUNNING", lambda: running(h, key, 1))
        r = subprocess.run([BOREALIS, "--scheduler", f"https://[::1]:{h.port}", "host", "list"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, BOREALIS_TOKEN_FILE=h.token_file, BOREALIS_CA=h.ca))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split()[:3] == ["HOST", "STATE", "LAST"], r.stdout
        assert lines[1].split()[:2] == ["h1", "up"] and "1/4 cpu" not in lines[1], r.stdout
        assert "0.05/4 cpu" in lines[1], r.stdout
        h.kill9(1)
        wait_for("h1 lost in host list", lambda: " lost " in h.cli("host", "list").stdout, timeout=20)
