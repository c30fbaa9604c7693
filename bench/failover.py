"""`make bench-failover`: time from killing a machine to all of its tasks
RUNNING on the others (docs/benchmarks.md).

Three hosts of the multi-host harness (tests/integration/multihost.py:
each agent in its own network namespace behind a bridge), the scheduler
with its default --agent-heartbeat and --agent-timeout. Each trial creates
a service of 3 x FAILOVER_TASKS instances (spread: FAILOVER_TASKS per
host), waits until all RUNNING, then kill -9s one host's agent and every
process of its tasks (the machine dies), and polls the API every 20 ms
until every instance is RUNNING on the other two. Also reported: when the
scheduler marked the agent lost. Then the job is killed and the host
started again for the next trial.

    FAILOVER_TRIALS=10 FAILOVER_TASKS=50 BOREALIS_BIN=bin FAILOVER_SCHEDULER_ARGS=...
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from conftest import wait_for  # noqa: E402
from multihost import Hosts  # noqa: E402

TRIALS = int(os.environ.get("FAILOVER_TRIALS", "10"))
TASKS = int(os.environ.get("FAILOVER_TASKS", "50"))
# e.g. "--agent-heartbeat 1s --agent-timeout 4s"; default: the scheduler's defaults
SCHED_ARGS = os.environ.get("FAILOVER_SCHEDULER_ARGS", "").split()

JOB = """
jobs:
  - cluster: local
    role: bench
    environment: devel
    name: {name}
    instances: {n}
    service: true
    task:
      resources: {{cpu: 0.01, ram: 4MiB, disk: 0}}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""


def main():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"bench-failover: {TRIALS} trials, {TASKS} tasks on the killed host, 3 hosts, commit {commit}, "
          f"scheduler flags {' '.join(SCHED_ARGS) or '(defaults)'}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    replaced, detected = [], []
    with Hosts(n=3, scheduler_args=SCHED_ARGS) as h:
        h.start_scheduler()
        h.start_agents()
        for trial in range(TRIALS):
            name = f"fo{trial}"
            key = f"local/bench/devel/{name}"
            n = 3 * TASKS
            h.cli("job", "create", key, h.write_job(key, JOB.format(name=name, n=n)))

            def running():
                ts = h.tasks(key)
                return len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()) and ts
            before = wait_for("all RUNNING", running, timeout=120)
            k = trial % 3 + 1
            dead = [a["id"] for a in h.agents() if a["hostname"] == f"h{k}"][0]
            on_dead = sum(1 for t in before.values() if t["agent_id"] == dead)
            t0 = time.monotonic()
            h.kill9(k)
            lost_at = None
            while True:
                now = time.monotonic() - t0
                if lost_at is None and h.agent_state(f"h{k}") == "lost":
                    lost_at = now
                ts = h.tasks(key)
                if len(ts) == n and all(t["state"] == "RUNNING" and t["agent_id"] != dead for t in ts.values()):
                    break
                if now > 120:
                    raise SystemExit(f"trial {trial}: tasks not replaced after 120 s")
                time.sleep(0.02)
            took = time.monotonic() - t0
            replaced.append(took)
            detected.append(lost_at if lost_at is not None else took)
            print(f"trial {trial}: killed h{k} with {on_dead} tasks: agent lost after {detected[-1]:.2f}s, "
                  f"all RUNNING elsewhere after {took:.2f}s", flush=True)
            h.cli("job", "killall", key)
            wait_for("job killed", lambda: all(t["state"] == "KILLED" for t in h.tasks(key).values()), timeout=60)
            h.revive(k)
            wait_for(f"h{k} up", lambda: h.agent_state(f"h{k}") == "up", timeout=30)
        with open("/tmp/borealis-failover-scheduler.log", "w") as f:
            f.write(h.log())
    print("\nscheduler log: /tmp/borealis-failover-scheduler.log")
    print(f"{'figure':40} {'p50':>8} {'max':>8}")
    print(f"{'kill -9 -> agent lost':40} {statistics.median(detected):7.2f}s {max(detected):7.2f}s")
    print(f"{'kill -9 -> all its tasks RUNNING elsewhere':40} {statistics.median(replaced):7.2f}s "
          f"{max(replaced):7.2f}s")


if __name__ == "__main__":
    main()
