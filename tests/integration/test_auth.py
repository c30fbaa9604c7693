"""Authentication, roles, browser protections and the audit log of the API
(docs/api.md "Authentication"), through the real scheduler and CLI.

The route list is read from the route table itself (src/scheduler/api.c),
so a new route is covered the day it is added."""
import json
import os
import re
import shutil
import socket
import stat
import subprocess

import pytest

from conftest import BOREALIS

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROUTE_RE = re.compile(r'\{"(GET|POST|DELETE)", "([^"]+)", \w+, "(\w+)", (PERM_\w+)\}')


def route_table():
    with open(os.path.join(REPO, "src", "scheduler", "api.c")) as f:
        text = f.read()
    table = text.split("const struct http_route api_routes[] = {", 1)[1].split("};", 1)[0]
    routes = ROUTE_RE.findall(table)
    assert len(routes) == table.count("{"), "a route line the test does not understand"
    return routes


def job_yaml(role, name="x", instances=1):
    return f"""
jobs:
  - cluster: local
    role: {role}
    environment: devel
    name: {name}
    instances: {instances}
    task:
      resources: {{cpu: 0.01, ram: 16MiB, disk: 0}}
      processes:
        - name: p
          cmdline: "sleep 600"
"""


def job_json(role, name="x"):
    return {"cluster": "local", "role": role, "environment": "devel", "name": name,
            "task": {"resources": {"cpu": 0.01, "ram": 16 << 20, "disk": 0},
                     "processes": [{"name": "p", "cmdline": "sleep 600"}]}}


@pytest.fixture
def sched(cluster):
    cluster.start_scheduler()
    return cluster


def make_token(c, name, *args):
    r = c.cli("token", "create", name, *args)
    assert r.rc == 0, r
    token = r.out.strip()
    path = os.path.join(c.root, name + ".token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(token + "\n")
    return token, path


def as_token(c, path):
    return dict(os.environ, BOREALIS_TOKEN_FILE=path)


def concrete(pattern):
    """A path for a route pattern: jobs of role `bob`, other names made up."""
    if pattern.startswith("/api/v1/jobs/"):
        return pattern.replace("*/*/*/*", "local/bob/devel/x", 1)
    return pattern.replace("*", "nothing")


def test_the_first_admin_token_is_made_on_first_start_with_mode_0600(sched):
    c = sched
    st = os.stat(c.token_file)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert re.fullmatch(r"bo_[0-9a-f]{64}", c.token())
    r = c.cli("whoami")
    assert r.rc == 0 and json.loads(r.out)["admin"] is True, r
    # The store holds its hash only.
    with open(os.path.join(c.root, "scheduler", "scheduler.db"), "rb") as f:
        assert c.token().encode() not in f.read()


def test_every_route_refuses_unauthenticated_and_unauthorized_requests(sched):
    c = sched
    alice, _ = make_token(c, "alice", "--role", "alice")
    routes = route_table()
    assert {r[3] for r in routes} >= {"PERM_PUBLIC", "PERM_USER", "PERM_ROLE_READ", "PERM_ROLE_WRITE",
                                       "PERM_ADMIN", "PERM_AGENT"}
    for method, pattern, name, perm in routes:
        path = concrete(pattern)
        body = json.dumps(job_json("bob") if name == "job_create" else {}).encode() \
            if method == "POST" else None
        if perm in ("PERM_PUBLIC", "PERM_AGENT"):
            continue  # /health; agents prove who they are on their own routes
        status, answer = c.api_raw(path, method, body, auth=False)
        assert status == 401, (name, status, answer)
        assert json.loads(answer)["code"] == "UNAUTHENTICATED"
        status, _ = c.api_raw(path, method, body, auth=False,
                              headers={"Authorization": "Bearer bo_" + "0" * 64})
        assert status == 401, name
        status, _ = c.api_raw(path, method, body, auth=False,
                              headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        assert status == 401, name
        status, answer = c.api_raw(path, method, body, auth=False,
                                   headers={"Authorization": "Bearer " + alice})
        if perm in ("PERM_ADMIN", "PERM_ROLE_WRITE") or (perm == "PERM_ROLE_READ" and "*" in pattern
                                                         and pattern.startswith("/api/v1/jobs/")):
            assert status == 403, (name, status, answer)
            err = json.loads(answer)
            assert err["code"] == "FORBIDDEN" and "alice" in err["error"], err
            assert "admin" in err["error"] or "role `bob`" in err["error"], err
        else:
            assert status in (200, 404), (name, status, answer)
    assert c.api("/api/v1/jobs")["jobs"] == []  # nothing was created on the way


def test_a_principal_of_one_role_cannot_touch_another_roles_job(running):
    # Roles whose tasks run: each needs a Unix user on the agent.
    c = running
    _, alice = make_token(c, "alice", "--role", "www-data")
    _, bob = make_token(c, "bob", "--role", "nobody")
    a_key, b_key = "local/www-data/devel/x", "local/nobody/devel/x"
    r = c.cli("job", "create", a_key, c.job_file(job_yaml("www-data"), "a.yaml"), "--wait-until", "RUNNING",
              env=as_token(c, alice))
    assert r.rc == 0, r
    r = c.cli("job", "create", b_key, c.job_file(job_yaml("nobody"), "b.yaml"), "--wait-until", "RUNNING",
              env=as_token(c, bob))
    assert r.rc == 0, r
    # alice on bob's job: create, status, kill, killall all refused (exit 30).
    for args in (["job", "create", "local/nobody/devel/y", c.job_file(job_yaml("nobody", "y"), "y.yaml")],
                 ["job", "status", b_key], ["job", "kill", b_key + "/0"], ["job", "killall", b_key]):
        r = c.cli(*args, env=as_token(c, alice))
        assert r.rc == 30, (args, r)
        assert "role `nobody`" in r.err and "alice" in r.err, r
    assert c.tasks(b_key)[0]["state"] == "RUNNING"
    assert "local/nobody/devel/y" not in [j["key"] for j in c.api("/api/v1/jobs")["jobs"]]
    # Lists show alice only her role's jobs and tasks; a task of bob's is refused.
    r = c.cli("job", "list", "--json", env=as_token(c, alice))
    assert r.rc == 0 and [j["key"] for j in r.json()["jobs"]] == [a_key], r
    r = c.cli("task", "list", "--json", env=as_token(c, alice))
    assert r.rc == 0 and {t["job"] for t in r.json()["tasks"]} == {a_key}, r
    b_task = c.tasks(b_key)[0]["id"]
    status, _ = c.api_raw("/api/v1/tasks/" + b_task, auth=False,
                          headers={"Authorization": "Bearer " + open(alice).read().strip()})
    assert status == 403
    # Her own job she may kill; a read-all token reads both and writes none.
    assert c.cli("job", "killall", a_key, env=as_token(c, alice)).rc == 0
    _, reader = make_token(c, "reader", "--read-all")
    r = c.cli("job", "list", "--json", env=as_token(c, reader))
    assert sorted(j["key"] for j in r.json()["jobs"]) == sorted([a_key, b_key]), r
    assert c.cli("job", "status", b_key, env=as_token(c, reader)).rc == 0
    assert c.cli("job", "killall", b_key, env=as_token(c, reader)).rc == 30


def test_browser_style_requests_are_refused(sched):
    c = sched
    body = json.dumps(job_json("www-data")).encode()
    # A form post from a page: text/plain (no preflight), foreign Origin and Host.
    status, answer = c.api_raw("/api/v1/jobs", "POST", body,
                               headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(answer)["error"]
    status, answer = c.api_raw("/api/v1/jobs", "POST", body,
                               headers={"Origin": "http://evil.example"})
    assert status == 403 and "Origin" in json.loads(answer)["error"]
    status, answer = c.api_raw("/api/v1/jobs", "POST", body,
                               headers={"Host": f"evil.example:{c.port}"})
    assert status == 421 and "evil.example" in json.loads(answer)["error"]
    status, _ = c.api_raw("/api/v1/jobs", headers={"Host": f"rebound.example:{c.port}"})
    assert status == 421  # reads too: DNS rebinding would let a page read them
    status, _ = c.api_raw("/api/v1/jobs", "POST", body,
                          headers={"Content-Type": "text/plain", "Origin": "http://evil.example",
                                   "Host": "evil.example"})
    assert status in (403, 415, 421)
    assert c.api("/api/v1/jobs")["jobs"] == []
    # The scheduler's own names, IP literals and same-origin requests pass.
    for host in (f"localhost:{c.port}", f"127.0.0.1:{c.port}", "[::1]"):
        assert c.api_raw("/api/v1/jobs", headers={"Host": host})[0] == 200, host
    assert c.api_raw("/api/v1/jobs", headers={"Origin": c.url})[0] == 200


def test_hostname_option_adds_a_name(cluster):
    c = cluster
    c.scheduler_args += ["--hostname", "sched.example"]
    c.start_scheduler()
    assert c.api_raw("/api/v1/jobs", headers={"Host": f"SCHED.example:{c.port}"})[0] == 200
    assert c.api_raw("/api/v1/jobs", headers={"Host": f"other.example:{c.port}"})[0] == 421


def test_cli_exits_30_and_reads_credentials_safely(sched):
    c = sched
    no_creds = {k: v for k, v in os.environ.items() if not k.startswith("BOREALIS_TOKEN")}
    no_creds["HOME"] = no_creds["XDG_CONFIG_HOME"] = c.root  # no credentials file there
    no_creds["XDG_CONFIG_HOME"] = os.path.join(c.root, "xdg")
    r = c.cli("job", "list", env=no_creds)
    assert r.rc == 30 and "BOREALIS_TOKEN_FILE" in r.err, r
    r = c.cli("job", "list", env=dict(no_creds, BOREALIS_TOKEN="bo_" + "1" * 64))
    assert r.rc == 30 and "unknown or revoked" in r.err, r
    r = c.cli("job", "list", env=dict(no_creds, BOREALIS_TOKEN=c.token()))
    assert r.rc == 0, r
    # The config dir's credentials file, `token = VALUE` form.
    cfg = os.path.join(c.root, "xdg", "borealis")
    os.makedirs(cfg)
    path = os.path.join(cfg, "credentials")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(f"# the admin token\ntoken = {c.token()}\n")
    assert c.cli("job", "list", env=no_creds).rc == 0
    # Readable by others: refused before anything is sent.
    for mode in (0o644, 0o640, 0o604):
        os.chmod(path, mode)
        r = c.cli("job", "list", env=no_creds)
        assert r.rc == 30 and "chmod 600" in r.err and path in r.err, r
    os.chmod(path, 0o600)
    r = c.cli("job", "list", env=dict(no_creds, BOREALIS_TOKEN_FILE=os.path.join(c.root, "missing")))
    assert r.rc == 30 and "missing" in r.err, r
    # A revoked token is refused at once (exit 30), and 403 too.
    _, bob = make_token(c, "bob", "--role", "bob")
    assert c.cli("token", "list", env=as_token(c, bob)).rc == 30
    assert c.cli("token", "revoke", "bob").rc == 0
    r = c.cli("job", "list", env=as_token(c, bob))
    assert r.rc == 30 and "revoked" in r.err, r
    # The token is never on the command line: there is no option for it.
    r = c.cli("job", "list", "--token", c.token())
    assert r.rc == 5, r


def test_every_write_is_audited(running):
    c = running
    key = "local/www-data/devel/audited"
    assert c.cli("job", "create", key, c.job_file(job_yaml("www-data", "audited", 2)),
                 "--wait-until", "RUNNING").rc == 0
    assert c.cli("job", "kill", key + "/1").rc == 0
    _, alice = make_token(c, "alice", "--role", "alice")
    assert c.cli("job", "killall", key, env=as_token(c, alice)).rc == 30
    assert c.cli("token", "revoke", "alice").rc == 0
    entries = c.api("/api/v1/audit")["entries"]
    got = [(e["principal"], e["action"], e.get("job"), e["status"]) for e in entries]
    # The agent's join comes first: its principal is the join token.
    assert got[0][1] == "agent_join" and got[0][0].endswith("(join token)"), got
    got = got[1:]
    assert got == [("admin", "job_create", key, 201), ("admin", "job_kill", key, 200),
                   ("admin", "token_create", None, 201), ("alice", "job_kill", key, 403),
                   ("admin", "token_revoke", None, 200)], got
    assert all(e["time_ms"] > 0 and e["seq"] > 0 for e in entries)
    r = c.cli("audit", "--job", key, "--json")
    assert r.rc == 0 and [e["action"] for e in r.json()["entries"]] == ["job_create", "job_kill",
                                                                         "job_kill"], r
    r = c.cli("audit")
    assert r.rc == 0 and "token_revoke" in r.out and "token alice" in r.out, r
    # Only an admin reads it.
    _, bob = make_token(c, "bob", "--role", "www-data")
    assert c.cli("audit", env=as_token(c, bob)).rc == 30


def test_audit_log_is_bounded_and_survives_restarts(cluster):
    c = cluster
    c.scheduler_args += ["--audit-keep", "10"]
    c.start_scheduler()
    for i in range(14):
        make_token(c, f"t{i}")
    seqs = [e["seq"] for e in c.api("/api/v1/audit?limit=1000")["entries"]]
    assert seqs == list(range(5, 15)), seqs
    c.stop(c.sched)
    c.start_scheduler()
    make_token(c, "after")
    entries = c.api("/api/v1/audit?limit=1000")["entries"]
    assert [e["seq"] for e in entries] == list(range(6, 16))
    assert entries[-1]["detail"] == "token after"
    # Tokens survive the restart; the admin token file is not replaced.
    assert [t["name"] for t in c.api("/api/v1/tokens")["tokens"]].count("after") == 1


def test_new_admin_token_replaces_a_lost_one(cluster):
    c = cluster
    c.start_scheduler()
    old = c.token()
    c.stop(c.sched)
    os.unlink(c.token_file)
    c.scheduler_args += ["--new-admin-token"]
    c.start_scheduler()
    assert c.token() != old
    assert c.cli("whoami").rc == 0
    r = c.cli("job", "list", env=dict(os.environ, BOREALIS_TOKEN=old))
    assert r.rc == 30, r


def test_list_routes_page(sched):
    c = sched
    for n in range(5):
        c.api("/api/v1/jobs", "POST", job_json("www-data", f"j{n}"))
    first = c.api("/api/v1/jobs?limit=2")
    assert [j["name"] for j in first["jobs"]] == ["j0", "j1"] and first["next"].endswith("/j1")
    rest = c.api("/api/v1/jobs?limit=10&after=" + first["next"])
    assert [j["name"] for j in rest["jobs"]] == ["j2", "j3", "j4"] and "next" not in rest
    tasks = c.api("/api/v1/tasks?limit=3")
    assert len(tasks["tasks"]) == 3 and "next" in tasks
    status, body = c.api_raw("/api/v1/tasks?limit=0")
    assert status == 400 and "limit" in json.loads(body)["error"]
    assert c.api("/api/v1/agents?limit=1")["agents"] == []


def test_another_local_user_cannot_act_on_the_cluster(sched):
    """The admin token file is 0600 root: a local user other than the
    scheduler's can neither read it nor act without it."""
    c = sched
    as_nobody = dict(preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           "BOREALIS_TOKEN_FILE": c.token_file}
    env.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
    path = c.job_file(job_yaml("www-data"))
    os.chmod(c.root, 0o755)
    os.chmod(path, 0o644)
    # A copy the user can run wherever the checkout is (/root is 0700).
    cli = os.path.join(c.root, "borealis")
    shutil.copy(BOREALIS, cli)
    os.chmod(cli, 0o755)
    r = subprocess.run([cli, "--scheduler", c.url, "job", "create", "local/www-data/devel/x", path],
                       capture_output=True, text=True, env=env, timeout=60, **as_nobody)
    assert r.returncode == 30 and "Permission denied" in r.stderr, r
    del env["BOREALIS_TOKEN_FILE"]
    r = subprocess.run([cli, "--scheduler", c.url, "job", "create", "local/www-data/devel/x", path],
                       capture_output=True, text=True, env=env, timeout=60, **as_nobody)
    assert r.returncode == 30, r
    assert c.api("/api/v1/jobs")["jobs"] == []


def test_a_slow_client_does_not_stall_the_others(sched):
    """A client that sends half a request (headers without the end, or a
    body a byte at a time) holds only its own connection."""
    c = sched
    slow = []
    try:
        for head in (b"GET /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                     b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + c.token().encode() + b"\r\nContent-Length: 1000\r\n\r\n{"):
            s = c.tls().wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=10),
                                    server_hostname="127.0.0.1")
            s.sendall(head)
            slow.append(s)
        for _ in range(3):
            r = c.cli("job", "list", timeout=20)
            assert r.rc == 0, r
        # An unauthenticated client is refused before its body is read.
        s = c.tls().wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=10),
                                server_hostname="127.0.0.1")
        slow.append(s)
        s.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n{")
        assert s.recv(4096).startswith(b"HTTP/1.1 401")
    finally:
        for s in slow:
            s.close()
