"""Placement constraints across machines (tests/integration/multihost.py):
agent attributes, job constraints by value, negation, limit:N, dedicated
agents, spread across racks, and the reason a task waits, as a user reads
them from the API."""
from conftest import wait_for
from multihost import Hosts


def job_yaml(name, instances, constraints):
    lines = "".join(f"      - {{attribute: {a}, value: \"{v}\"}}\n" for a, v in constraints)
    block = f"    constraints:\n{lines}" if constraints else ""
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    instances: {instances}
    service: true
{block}    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 1MiB}}
      processes:
        - name: main
          cmdline: "exec sleep 100000"
"""


def test_constraints_limits_dedicated_and_pending_reasons():
    with Hosts(n=3, scheduler_args=["--agent-heartbeat", "250ms", "--agent-timeout", "1500ms"]) as h:
        h.start_scheduler()
        h.set_agent_args(1, ["--attribute", "rack:r1"])
        h.set_agent_args(2, ["--attribute", "rack:r2"])
        h.set_agent_args(3, ["--attribute", "rack:r2", "--attribute", "dedicated:www-data/db"])
        h.start_agents()
        ids = {a["hostname"]: a["id"] for a in h.agents()}
        jobs = {
            "spread": (4, []),
            "inr2": (2, [("rack", "r2")]),
            "notr2": (2, [("rack", "!r2")]),
            "onehost": (3, [("host", "limit:1")]),
            "nowhere": (1, [("rack", "r9")]),
            "db": (2, [("dedicated", "www-data/db")]),
            "cache": (1, [("dedicated", "www-data/cache")]),
        }
        for name, (n, cons) in jobs.items():
            key = f"local/www-data/devel/{name}"
            h.cli("job", "create", key, h.write_job(key, job_yaml(name, n, cons)))

        def tasks(name):
            return h.tasks(f"local/www-data/devel/{name}")

        def settled():
            for name, (n, _) in jobs.items():
                for t in tasks(name).values():
                    if t["state"] not in ("RUNNING", "PENDING") or (t["state"] == "PENDING" and
                                                                      not t.get("pending_reason")):
                        return False
            return True
        wait_for("every task RUNNING or PENDING with a reason", settled, timeout=60)

        def hosts_of(name):
            return sorted(h_ for t in tasks(name).values() if t["state"] == "RUNNING"
                          for h_, i in ids.items() if t["agent_id"] == i)
        # The dedicated h3 runs only the job that asks for it; the others
        # spread over racks r1 (h1) and r2 (h2).
        assert hosts_of("spread") == ["h1", "h1", "h2", "h2"]
        assert hosts_of("inr2") == ["h2", "h2"]
        assert hosts_of("notr2") == ["h1", "h1"]
        assert hosts_of("db") == ["h3", "h3"]
        one = tasks("onehost")
        assert hosts_of("onehost") == ["h1", "h2"]
        waiting = [t for t in one.values() if t["state"] == "PENDING"]
        assert len(waiting) == 1 and waiting[0]["pending_reason"].startswith("LIMIT_NOT_SATISFIED"), one
        assert tasks("nowhere")[0]["pending_reason"].startswith("CONSTRAINT_MISMATCH")
        assert tasks("cache")[0]["pending_reason"].startswith("DEDICATED_CONSTRAINT_MISMATCH")
        # `host list` shows the attributes the constraints use.
        out = h.cli("host", "list").stdout
        assert "dedicated:www-data/db" in out and "rack:r1" in out
