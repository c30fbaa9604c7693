"""Host maintenance across machines (tests/integration/multihost.py):
`borealis host deactivate|drain|activate|status`, as an operator runs
them: a deactivated host gets no new tasks, a drained one hands its tasks
to the others and ends DRAINED, activate brings it back."""
from conftest import wait_for
from multihost import Hosts

JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    instances: {n}
    service: true
{extra}    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 1MiB}}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""


def create(h, name, n, extra=""):
    key = f"local/www-data/devel/{name}"
    h.cli("job", "create", key, h.write_job(key, JOB.format(name=name, n=n, extra=extra)))
    return key


def running(h, key, n):
    ts = h.tasks(key)
    return len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()) and ts


def maintenance(h, name):
    return {a["hostname"]: a.get("maintenance") for a in h.agents()}[name]


def test_deactivate_drain_activate():
    with Hosts(n=3, scheduler_args=["--flap-penalty", "30s", "--agent-heartbeat", "250ms",
                                    "--agent-timeout", "1500ms"]) as h:
        h.start_scheduler()
        h.start_agents()
        ids = {a["hostname"]: a["id"] for a in h.agents()}
        web = create(h, "web", 6)
        before = wait_for("web RUNNING", lambda: running(h, web, 6))
        on_h2 = sorted(i for i, t in before.items() if t["agent_id"] == ids["h2"])
        assert on_h2
        # Deactivate h1: its tasks stay, new ones go elsewhere; a job that
        # only h1 could run waits with MAINTENANCE.
        out = h.cli("host", "deactivate", "h1").stdout
        assert "SCHEDULED" in out, out
        pinned = create(h, "pinned", 1, "    constraints:\n      - {attribute: host, value: h1}\n")
        more = create(h, "more", 4)
        ts = wait_for("more RUNNING", lambda: running(h, more, 4))
        assert all(t["agent_id"] != ids["h1"] for t in ts.values())
        wait_for("pinned waits for maintenance",
                 lambda: (h.tasks(pinned)[0].get("pending_reason") or "").startswith("MAINTENANCE"))
        # Drain h2: its instances run on h3 (h1 is deactivated), h2 ends
        # DRAINED, and nothing was held as flapping (a 30 s penalty here).
        h.cli("host", "drain", "h2")

        def moved():
            ts = running(h, web, 6)
            return ts and all(t["agent_id"] != ids["h2"] for t in ts.values()) and ts
        after = wait_for("web's h2 instances RUNNING elsewhere", moved, timeout=30)
        for i in on_h2:
            assert after[i]["agent_id"] == ids["h3"] and after[i]["ancestor_id"] == before[i]["id"]
        wait_for("h2 DRAINED", lambda: maintenance(h, "h2") == "DRAINED", timeout=30)
        assert h.live_copies(web) == {i: 1 for i in range(6)}
        status = h.cli("host", "status", "h1", "h2").stdout
        assert "SCHEDULED" in status and "DRAINED" in status, status
        # Activate both: NONE again, and the pinned job runs on h1.
        h.cli("host", "activate", "h1", "h2")
        assert maintenance(h, "h1") == "NONE" and maintenance(h, "h2") == "NONE"
        wait_for("pinned RUNNING on h1", lambda: (t := running(h, pinned, 1)) and t[0]["agent_id"] == ids["h1"])
        r = h.cli("host", "drain", "nosuchhost", check=False)
        assert r.returncode == 6 and "nosuchhost" in r.stderr, r


def test_a_drain_keeps_the_jobs_sla_policy():
    with Hosts(n=2, scheduler_args=["--flap-penalty", "30s", "--agent-heartbeat", "250ms",
                                    "--agent-timeout", "1500ms"]) as h:
        h.start_scheduler()
        h.start_agents()
        ids = {a["hostname"]: a["id"] for a in h.agents()}
        h.cli("host", "deactivate", "h2")
        sla = create(h, "sla", 4, "    sla_policy: {count: 3}\n")
        wait_for("sla RUNNING on h1", lambda: running(h, sla, 4))
        h.cli("host", "activate", "h2")
        h.cli("host", "drain", "h1")
        lowest = 4

        def drained():
            nonlocal lowest
            ts = h.tasks(sla)
            lowest = min(lowest, sum(1 for t in ts.values() if t["state"] == "RUNNING"))
            return (len(ts) == 4 and all(t["state"] == "RUNNING" and t["agent_id"] == ids["h2"] for t in ts.values())
                    and maintenance(h, "h1") == "DRAINED")
        wait_for("every instance moved to h2, h1 DRAINED", drained, timeout=60, interval=0.02)
        # One instance at a time: never fewer than the 3 the policy keeps.
        assert lowest >= 3, lowest
