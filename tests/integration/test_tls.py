"""Transport security and agent identity: the API is TLS unless the
operator says otherwise out loud, the CLI verifies the scheduler, agents
join with the join token and are their certificate from then on, and
idle connections cannot lock agents out."""
import json
import os
import re
import resource
import socket
import subprocess
import urllib.error
import urllib.request

from conftest import BOREALIS, wait_for

KEY = "local/www-data/devel/tls"
JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: tls
    instances: 1
    service: true
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 0}
      processes:
        - name: main
          cmdline: sleep 100000
"""


def registration(agent_id, cpu=1.0):
    return {"agent_id": agent_id, "hostname": "fake-" + agent_id[:8],
            "resources": {"cpu": cpu, "ram": 1 << 30, "disk": 1 << 30},
            "port_range": [41000, 41010], "wait_ms": 0}


def sync(c, ctx, body):
    return c.api_raw("/api/v1/agents/sync", "POST", json.dumps(body).encode(), context=ctx, auth=False)


def real_agent_id(c):
    return [a for a in c.api("/api/v1/agents")["agents"] if a["state"] == "up"][0]["id"]


def plain_health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def any_address_port():
    """A port free on every address (other sessions' schedulers listen on
    bridge addresses)."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def test_plain_http_only_with_the_loud_flag(cluster):
    c = cluster
    c.port = any_address_port()
    c.url = f"https://127.0.0.1:{c.port}"
    c.scheduler_args += ["--listen", "0.0.0.0"]
    c.start_scheduler()
    # TLS on every address: a plain HTTP request gets no HTTP answer.
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{c.port}/health", timeout=5) as r:
            raise AssertionError(f"plain HTTP answered {r.status}")
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        assert not isinstance(e, urllib.error.HTTPError), e
    assert c.api("/health") == {"status": "ok"}
    # The server certificate is from the scheduler's own CA, key files 0600.
    for name in ("ca.key", "server.key", "join-token"):
        assert os.stat(os.path.join(c.tls_dir, name)).st_mode & 0o777 == 0o600, name
    c.stop(c.sched)

    log = os.path.join(c.root, "insecure.log")
    port = any_address_port()
    with open(log, "ab") as f:
        p = subprocess.Popen([BOREALIS, "scheduler", "--data-dir", os.path.join(c.root, "s2"), "--listen",
                              "0.0.0.0", "--port", str(port), "--insecure-listen-without-tls"],
                             stdout=f, stderr=f, stdin=subprocess.DEVNULL)
    try:
        wait_for("plain HTTP with --insecure-listen-without-tls", lambda: plain_health(port))
        with open(log) as f:
            text = f.read()
        assert "--insecure-listen-without-tls" in text and "non-loopback" in text, text
    finally:
        c.stop(p)


def test_cli_refuses_a_scheduler_its_ca_did_not_sign(running):
    c = running
    other = os.path.join(c.root, "other")
    r = subprocess.run([BOREALIS, "scheduler", "join-token", "--data-dir", other], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("BRLS1-"), r
    env = dict(os.environ, BOREALIS_CA=os.path.join(other, "tls", "ca.pem"), BOREALIS_TOKEN_FILE=c.token_file)
    r = subprocess.run([BOREALIS, "--scheduler", c.url, "job", "list"], capture_output=True, text=True, env=env)
    assert r.returncode == 30, r
    assert "TLS" in r.stderr and "BOREALIS_CA" in r.stderr, r.stderr
    # The scheduler's own CA works; so does its name in the certificate.
    assert c.cli("job", "list").rc == 0
    r = subprocess.run([BOREALIS, "--scheduler", f"https://localhost:{c.port}", "job", "list"],
                       capture_output=True, text=True,
                       env=dict(os.environ, BOREALIS_CA=c.ca, BOREALIS_TOKEN_FILE=c.token_file))
    assert r.returncode == 0, r


def test_fake_agents_are_refused(running):
    c = running
    victim = real_agent_id(c)
    # No certificate at all: a sync is refused before it is read.
    status, body = sync(c, None, registration(victim))
    assert status == 401 and b"certificate" in body, body
    # A made-up join token.
    status, answer, _ = c.enrol("8d1f9a9e-1111-4b5e-9d0f-aaaaaaaaaaaa",
                                token="BRLS1-" + "0" * 64 + "-" + "0" * 32)
    assert status == 401, answer
    # A well-formed request that is not a certificate request.
    status, body = c.api_raw("/api/v1/agents/join", "POST", json.dumps(
        {"token": c.join_token(), "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"}).encode(), auth=False)
    assert status == 400 and b"certificate request" in body, body
    # The token cannot buy another agent's identity.
    status, answer, _ = c.enrol(victim)
    assert status == 409, answer
    # A real join, then a sync in another agent's name.
    fake = "8d1f9a9e-2222-4b5e-9d0f-bbbbbbbbbbbb"
    status, answer, ctx = c.enrol(fake)
    assert status == 200 and answer["agent_id"] == fake, answer
    status, body = sync(c, ctx, registration(victim))
    assert status == 403 and victim.encode() in body, body
    # The victim's tasks were not touched: it is still up, alone.
    agents = {a["id"]: a for a in c.api("/api/v1/agents")["agents"]}
    assert agents[victim]["state"] == "up" and fake not in agents
    # As itself, claiming more than an operator allows: refused by limit.
    status, body = sync(c, ctx, registration(fake, cpu=1e6))
    assert status == 400 and b"--max-agent-cpu" in body, body
    status, body = sync(c, ctx, registration(fake))
    assert status == 200, body


def test_revoked_agent_is_refused(running):
    c = running
    fake = "8d1f9a9e-3333-4b5e-9d0f-cccccccccccc"
    status, _, ctx = c.enrol(fake)
    assert status == 200
    status, body = sync(c, ctx, registration(fake))
    assert status == 200, body
    r = c.cli("agent", "revoke", fake)
    assert r.rc == 0 and "revoked" in r.out, r
    status, body = sync(c, ctx, registration(fake))
    assert status == 403 and b"revoked" in body, body
    agents = {a["id"]: a for a in c.api("/api/v1/agents")["agents"]}
    assert agents[fake]["state"] != "up"
    # Both writes are in the audit log, with who did them.
    got = [(e["principal"], e["action"], e["status"]) for e in c.api("/api/v1/audit")["entries"]]
    assert (f"agent {fake} (join token)", "agent_join", 200) in got, got
    assert ("admin", "agent_revoke", 200) in got, got
    # It cannot join again under its id either, even after a restart.
    c.stop(c.agent)
    c.stop(c.sched)
    c.start_scheduler()
    status, body = sync(c, ctx, registration(fake))
    assert status == 403, body
    status, answer, _ = c.enrol(fake)
    assert status == 403, answer
    assert c.cli("agent", "revoke", "no-such-agent").rc == 10
    # The real agent restarts with the certificate it kept (no second join).
    c.start_agent(wait=False)
    wait_for("the agent back", lambda: c.log("agent.log").count("registered with scheduler") == 2)
    assert c.log("agent.log").count("joined the cluster") == 1


def test_agent_count_is_bounded(cluster):
    c = cluster
    c.scheduler_args += ["--max-agents", "2"]
    c.start_scheduler()
    c.start_agent()
    status, _, ctx = c.enrol("8d1f9a9e-4444-4b5e-9d0f-dddddddddddd")
    assert status == 200
    status, answer, _ = c.enrol("8d1f9a9e-5555-4b5e-9d0f-eeeeeeeeeeee")
    assert status == 429 and "--max-agents" in answer["error"], answer


def open_idle(port, sources, per_source):
    """Idle TCP connections from several loopback addresses (127.0.0.0/8
    is all loopback): what a flood from many machines looks like."""
    socks = []
    for src in sources:
        for _ in range(per_source):
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
    return socks


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_idle_connections_do_not_lock_agents_out(cluster):
    c = cluster
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    c.scheduler_args += ["--max-connections", "400", "--max-connections-per-address", "64",
                         "--idle-timeout", "5m"]
    c.start_scheduler()
    c.start_agent()
    assert c.cli("job", "create", KEY, c.job_file(JOB), "--wait-until", "RUNNING").rc == 0
    socks = []
    try:
        # 3,000 attempts from 47 addresses: the per-address limit and the
        # budget stop them; the agents' reserve stays free.
        socks = open_idle(c.port, [f"127.0.1.{i}" for i in range(1, 48)], 64)
        assert len(socks) >= 300
        wait_for("the budget log line", lambda: "connection budget reached" in c.log("scheduler.log"))
        assert rss_kib(c.sched.pid) < 100 * 1024
        # The agent reconnects (a restart: new connections) and syncs...
        c.stop(c.agent)
        c.start_agent(wait=False)
        wait_for("the agent back", lambda: c.log("agent.log").count("registered with scheduler") == 2)
        c.wait_running(KEY, 1)
        # ... and the CLI on the agents' address is served.
        assert c.cli("job", "status", KEY).rc == 0
        assert c.cli("job", "killall", KEY).rc == 0
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_rotated_token_and_an_agent_from_before_tls(cluster):
    """A cluster started without TLS: its agent joins once under the id it
    has, and nobody can join under it after that. A rotated token works at
    once, the old one no longer."""
    c = cluster
    c.url = f"http://127.0.0.1:{c.port}"
    c.scheduler_args += ["--insecure-listen-without-tls"]
    log = open(os.path.join(c.root, "scheduler.log"), "ab")
    c.sched = subprocess.Popen([BOREALIS, "scheduler", "--data-dir", os.path.join(c.root, "scheduler"),
                                "--port", str(c.port), "--sync", "normal"] + c.scheduler_args,
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    wait_for("plain scheduler", lambda: plain_health(c.port))
    c.start_agent(wait=False)
    wait_for("agent registered", lambda: "registered with scheduler" in c.log("agent.log"))
    c.stop(c.agent)
    c.stop(c.sched)
    old = c.join_token()
    r = subprocess.run([BOREALIS, "scheduler", "join-token", "--rotate", "--data-dir",
                        os.path.join(c.root, "scheduler")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() != old, r
    assert c.join_token() == r.stdout.strip()
    # Now with TLS (the default).
    c.url = f"https://127.0.0.1:{c.port}"
    c.scheduler_args.remove("--insecure-listen-without-tls")
    c.start_scheduler()
    ids = [a["id"] for a in c.api("/api/v1/agents")["agents"]]
    c.start_agent(wait=False)
    wait_for("the agent joined and synced",
             lambda: c.log("agent.log").count("registered with scheduler") == 2)
    assert "joined the cluster" in c.log("agent.log")
    assert [a["id"] for a in c.api("/api/v1/agents")["agents"]] == ids
    status, answer, _ = c.enrol(ids[0])
    assert status == 409, answer
    status, answer, _ = c.enrol("8d1f9a9e-6666-4b5e-9d0f-ffffffffffff", token=old)
    assert status == 401, answer
