"""Several machines on one: agents in their own network namespaces reach
the scheduler across a bridge (tests/integration/multihost.py). What a
user of a cluster checks: work spreads over the machines, and when a
machine dies its tasks run elsewhere, never two live copies of one
instance."""
import os
import subprocess
import sys

import pytest

from conftest import wait_for
from multihost import Hosts

KEY = "local/www-data/devel/web"

JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: web
    instances: 6
    service: true
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 16MiB}
      ports: [http]
      processes:
        - name: web
          cmdline: "exec sleep 100000"
"""


@pytest.fixture
def hosts():
    # The defaults (--agent-heartbeat 2s, --agent-timeout 6s): a dead
    # machine's tasks must run elsewhere within 10 s.
    with Hosts(n=3, scheduler_args=["--flap-penalty", "0"]) as h:
        h.start_scheduler()
        h.start_agents()
        yield h


def create(h):
    path = f"{h.root}/web.yaml"
    with open(path, "w") as f:
        f.write(JOB)
    h.cli("job", "create", KEY, path)


def all_running(h, n):
    ts = h.tasks(KEY)
    return len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()) and ts


def test_agents_register_across_the_bridge_and_a_job_spreads(hosts):
    agents = hosts.agents()
    assert sorted(a["hostname"] for a in agents) == ["h1", "h2", "h3"]
    create(hosts)
    wait_for("6 instances RUNNING", lambda: all_running(hosts, 6))
    # Spread: two instances per machine, each alive on exactly one machine.
    copies = wait_for("a live process per instance", lambda: (c := hosts.live_copies(KEY)) and len(c) == 6 and c)
    assert set(copies.values()) == {1}, copies
    per_host = {}
    for t in hosts.tasks(KEY).values():
        per_host[t["agent_id"]] = per_host.get(t["agent_id"], 0) + 1
    assert sorted(per_host.values()) == [2, 2, 2], per_host


def test_a_dead_machines_tasks_run_on_the_others(hosts):
    create(hosts)
    before = wait_for("6 instances RUNNING", lambda: all_running(hosts, 6))
    dead_agent = [a["id"] for a in hosts.agents() if a["hostname"] == "h1"][0]
    on_dead = sorted(i for i, t in before.items() if t["agent_id"] == dead_agent)
    assert on_dead
    hosts.kill9(1)

    def replaced():
        ts = all_running(hosts, 6)
        return ts and all(t["agent_id"] != dead_agent for t in ts.values()) and ts
    # The bound the defaults promise (docs/architecture.md "Liveness").
    after = wait_for("h1's instances RUNNING on h2 and h3 within 10 s", replaced, timeout=10)
    for i in on_dead:
        assert after[i]["id"] != before[i]["id"]
        assert after[i].get("ancestor_id") == before[i]["id"]
    assert [a["state"] for a in hosts.agents() if a["hostname"] == "h1"] != ["up"]
    copies = hosts.live_copies(KEY)
    assert copies == {i: 1 for i in range(6)}, copies


def test_a_cut_off_machine_is_replaced_and_its_stale_copies_killed_on_return(hosts):
    create(hosts)
    before = wait_for("6 instances RUNNING", lambda: all_running(hosts, 6))
    cut_agent = [a["id"] for a in hosts.agents() if a["hostname"] == "h1"][0]
    on_cut = sorted(i for i, t in before.items() if t["agent_id"] == cut_agent)
    hosts.cut(1)

    def replaced():
        ts = all_running(hosts, 6)
        return ts and all(t["agent_id"] != cut_agent for t in ts.values()) and ts
    wait_for("h1's instances RUNNING elsewhere", replaced, timeout=60)
    hosts.restore(1)
    # Back on the network, h1 hears that its copies were replaced and
    # kills them: one live copy of every instance again.
    wait_for("one live copy per instance",
             lambda: hosts.live_copies(KEY) == {i: 1 for i in range(6)}, timeout=60)
    wait_for("h1 up again", lambda: "h1" in hosts.agents_up(), timeout=30)
    assert on_cut


FLOOD = r"""
import socket, sys
addrs, port, per = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
socks = []
for a in addrs:
    for _ in range(per):
        s = socket.socket()
        s.bind((a, 0))
        s.settimeout(5)
        try:
            s.connect((sys.argv[4], port))
            socks.append(s)
        except OSError:
            s.close()
print(len(socks), flush=True)
sys.stdin.read()
"""


def test_idle_connections_from_another_machine_do_not_lock_an_agent_out():
    """The probe of issue 7 across the bridge: a machine with many
    addresses holds idle connections until the budget is full; an agent
    that proved its certificate before still reconnects (the reserve)."""
    with Hosts(n=2, scheduler_args=["--max-connections", "300", "--max-connections-per-address", "64",
                                    "--idle-timeout", "5m"]) as h:
        h.start_scheduler()
        h.start_agent(1)
        wait_for("h1 up", lambda: h.agents_up() == ["h1"])
        attacker = h.host(2)
        addrs = [str(h.net.network_address + 100 + i) for i in range(10)]
        for a in addrs:
            subprocess.run(attacker.run("ip", "addr", "add", f"{a}/24", "dev", "eth0"), check=True)
        flood = subprocess.Popen(attacker.run(sys.executable, "-c", FLOOD,
                                              ",".join(addrs), str(h.port), "64", h.sched_addr),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            opened = int(flood.stdout.readline())
            assert opened >= 300, opened
            log = os.path.join(h.root, "scheduler.log")
            wait_for("the budget log line", lambda: "connection budget reached" in open(log).read())
            # Full for everyone else: the host's own address is refused...
            with pytest.raises(OSError):
                h.api("/health")
            # The agent restarts: new connections, through the reserve.
            assert h.stop_agent(1) == 0
            h.start_agent(1)
            wait_for("h1 syncing again",
                     lambda: open(h.host(1).log_path).read().count("registered with scheduler") == 2)
        finally:
            flood.stdin.close()
            flood.wait(timeout=30)
        wait_for("h1 up", lambda: h.agents_up() == ["h1"])
