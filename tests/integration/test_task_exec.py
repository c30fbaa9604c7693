"""`borealis task exec`: an interactive command with a terminal inside a
task's container, CLI -> scheduler -> agent over upgraded connections,
driven here through a pseudo-terminal as a user's shell would drive it:
output and exit status, an interactive shell, window size and its changes,
Ctrl-C, where the command runs, refusals, and attacks on the stream."""
import fcntl
import json
import os
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import termios
import time

from conftest import BOREALIS, wait_for

JOB = "local/www-data/devel/shell"
JOB_YAML = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: shell
    service: true
    instances: 1
    task:
      resources: {cpu: 0.05, ram: 32MiB, disk: 0}
      processes:
        - name: main
          cmdline: "exec sleep 600"
"""


def start(c):
    r = c.cli("job", "create", JOB, c.job_file(JOB_YAML, "shell.yaml"), "--wait-until", "RUNNING")
    assert r.rc == 0, r


class Term:
    """The CLI on the slave side of a pseudo-terminal of rows x cols; the
    test holds the master, as a terminal emulator does."""

    def __init__(self, c, *args, rows=24, cols=80):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, BOREALIS_TOKEN_FILE=c.token_file, BOREALIS_CA=c.ca, TERM="xterm")
        self.proc = subprocess.Popen([BOREALIS, "--scheduler", c.url, "task", "exec", *args], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.out = b""

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the CLI and everything on the slave are gone
            return False
        self.out += data
        return bool(data)

    def expect(self, pattern, timeout=30):
        """Read until `pattern` (a regex on the text since `self.mark`)."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out[self.mark:].decode(errors="replace"))
            if m:
                self.mark += m.end()
                return m
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} in {self.out[-2000:]!r}"
            if not self._read(min(left, 0.5)) and self.proc.poll() is not None:
                assert False, f"the CLI exited {self.proc.returncode} before {pattern!r}: {self.out[-2000:]!r}"

    mark = 0

    def send(self, data):
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc.send_signal(signal.SIGWINCH)

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or self._read(0):
            assert time.monotonic() < deadline, f"the CLI still runs: {self.out[-2000:]!r}"
            self._read(0.2)
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def container_processes(c):
    r = c.cli("task", "run", JOB + "/0", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    assert r.rc == 0, r
    return r.out


def test_a_command_output_and_exit_status_come_back(running):
    c = running
    start(c)
    t = Term(c, JOB + "/0", "--", "sh", "-c", "echo out-$((1+1)); echo err-3 >&2; exit 5")
    try:
        t.expect(r"out-2")
        t.expect(r"err-3")
        assert t.wait() == 5, t.out
    finally:
        t.close()


def test_an_interactive_shell_with_window_size_and_ctrl_c(running):
    c = running
    start(c)
    t = Term(c, JOB + "/0", rows=33, cols=101)
    try:
        t.send("echo $((6*7))\r")
        t.expect(r"\b42\b")
        t.send("stty size\r")
        t.expect(r"33 101")
        t.resize(40, 120)
        def resized():
            t.send("stty size\r")
            try:
                t.expect(r"40 120", timeout=1)
                return True
            except AssertionError:
                return False
        wait_for("the new window size inside the container", resized)
        # Ctrl-C reaches the command in the container as the terminal's
        # interrupt; the shell survives it.
        t.send("sleep 1000\r")
        wait_for("sleep 1000 to run in the container", lambda: "sleep 1000" in container_processes(c))
        t.send(b"\x03")
        wait_for("sleep 1000 to be interrupted", lambda: "sleep 1000" not in container_processes(c))
        t.send("echo alive-$((3+4))\r")
        t.expect(r"alive-7")
        t.send("exit 3\r")
        assert t.wait() == 3, t.out
    finally:
        t.close()


def test_without_a_terminal_input_is_passed_and_its_end_ends_a_shell(running):
    c = running
    start(c)
    env = dict(os.environ, BOREALIS_TOKEN_FILE=c.token_file, BOREALIS_CA=c.ca)
    p = subprocess.run([BOREALIS, "--scheduler", c.url, "task", "exec", JOB + "/0"], input="echo piped-$((2*3))\n",
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "piped-6" in p.stdout, p


def test_plain_http_schedulers_relay_sessions_too(cluster):
    c = cluster
    c.url = f"http://127.0.0.1:{c.port}"
    c.scheduler_args += ["--insecure-listen-without-tls"]
    c.start_scheduler()
    c.start_agent()
    start(c)
    t = Term(c, JOB + "/0", "--", "sh", "-c", "read line; echo got-$line; exit 9")
    try:
        t.send("abc\r")
        t.expect("got-abc")
        assert t.wait() == 9, t.out
    finally:
        t.close()


def test_the_command_runs_inside_the_container_as_the_task_user(running):
    c = running
    start(c)
    t = Term(c, JOB + "/0", "--", "sh", "-c",
             "echo user=$(id -un); echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); echo tty=$(tty); pwd")
    try:
        t.expect(r"user=www-data")
        t.expect(r"pid1=[^\r\n]*borealis-executor")
        t.expect(r"tty=/dev/pts/\d+")
        t.expect(r"/sandbox")
        assert t.wait() == 0, t.out
    finally:
        t.close()
    # Its cgroup is the task's: the executor's and the command's agree.
    r = c.cli("task", "run", JOB + "/0", "cat /proc/1/cgroup")
    assert r.rc == 0, r
    t = Term(c, JOB + "/0", "--", "cat", "/proc/self/cgroup")
    try:
        assert t.wait() == 0
        assert t.out.decode().split() == [l.split("| ", 1)[1] for l in r.out.splitlines()], (t.out, r)
    finally:
        t.close()


def test_unknown_instances_and_tasks_not_running_are_refused(running):
    c = running
    start(c)
    r = c.cli("task", "exec", JOB + "/7", "--", "true")
    assert r.rc == 10 and "no instance 7" in r.err, r
    r = c.cli("task", "exec", "local/www-data/devel/nosuch/0", "--", "true")
    assert r.rc == 10 and "not found" in r.err, r
    r = c.cli("task", "exec", JOB, "--", "true")
    assert r.rc == 6 and "KEY/INSTANCE" in r.err, r
    done = JOB_YAML.replace("name: shell", "name: done").replace("service: true", "service: false") \
        .replace("exec sleep 600", "true")
    r = c.cli("job", "create", "local/www-data/devel/done", c.job_file(done, "done.yaml"),
              "--wait-until", "FINISHED")
    assert r.rc == 0, r
    r = c.cli("task", "exec", "local/www-data/devel/done/0", "--", "true")
    assert r.rc == 4 and "FINISHED" in r.err and "running task" in r.err, r
    # A command the container does not have: a clear error, exit 4.
    t = Term(c, JOB + "/0", "--", "/no/such/command")
    try:
        assert t.wait() == 255, t.out  # the runtime's own failure
        assert b"/no/such/command" in t.out, t.out
    finally:
        t.close()


def upgrade(c, path, body, context, headers=""):
    """A raw upgraded connection (TLS), its answer's head and the socket."""
    raw = socket.create_connection(("127.0.0.1", c.port), timeout=10)
    s = context.wrap_socket(raw, server_hostname="127.0.0.1")
    data = json.dumps(body).encode()
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: borealis-exec\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n{headers}\r\n").encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return head, s


def test_a_forged_session_id_is_refused(running):
    c = running
    start(c)
    agent_id = c.api("/api/v1/agents")["agents"][0]["id"]
    status, _, ctx = c.enrol("intruder-1")
    assert status == 200
    # Another agent's certificate, a random id: nothing to attach to.
    head, s = upgrade(c, "/api/v1/agents/exec/" + secrets.token_hex(16), {"agent_id": "intruder-1"}, ctx)
    s.close()
    assert head.startswith(b"HTTP/1.1 404"), head
    # Claiming to be the real agent with another's certificate.
    head, s = upgrade(c, "/api/v1/agents/exec/" + secrets.token_hex(16), {"agent_id": agent_id}, ctx)
    s.close()
    assert head.startswith(b"HTTP/1.1 403"), head
    # A user (the admin token) is no agent.
    head, s = upgrade(c, "/api/v1/agents/exec/" + secrets.token_hex(16), {"agent_id": agent_id}, c.tls(),
                      headers=f"Authorization: Bearer {c.token()}\r\n")
    s.close()
    assert head.split(b" ")[1] in (b"401", b"403"), head
    # The user's endpoint needs the upgrade.
    status, body = c.api_raw(f"/api/v1/jobs/{JOB}/instances/0/exec", "POST", b"{}")
    assert status == 400 and b"Upgrade" in body, body


def test_a_client_that_never_reads_blocks_only_its_own_session(running):
    c = running
    start(c)
    t = Term(c, JOB + "/0", "--", "sh", "-c", "exec yes flood")
    try:
        t.expect("flood")
        # The test stops reading: the buffers fill up to their bounds and
        # the command blocks, while the scheduler serves everyone else.
        for _ in range(20):
            assert c.api(f"/api/v1/jobs/{JOB}")["tasks"]
        r = c.cli("task", "run", JOB + "/0", "echo fine")
        assert r.rc == 0 and "fine" in r.out, r
    finally:
        t.close()
    # The CLI gone, the command goes too.
    wait_for("yes to be gone", lambda: "yes flood" not in container_processes(c))


def test_oversized_frames_end_the_session_and_nothing_else(running):
    c = running
    start(c)
    head, s = upgrade(c, f"/api/v1/jobs/{JOB}/instances/0/exec", {"cmd": ["sleep", "777"]}, c.tls(),
                      headers=f"Authorization: Bearer {c.token()}\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    wait_for("sleep 777 to run", lambda: "sleep 777" in container_processes(c))
    s.sendall(b"i" + struct.pack(">I", 1 << 30) + b"x" * 100)
    got = b""
    while True:  # the agent says why, then the session ends
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert b"E" in got and b"at most" in got, got
    wait_for("sleep 777 to be gone", lambda: "sleep 777" not in container_processes(c))
    r = c.cli("task", "run", JOB + "/0", "echo still")
    assert r.rc == 0, r


def test_an_agent_gone_mid_session_ends_it_with_a_clear_error(running):
    c = running
    start(c)
    t = Term(c, JOB + "/0")
    try:
        t.send("echo ready-$((1+2))\r")
        t.expect("ready-3")
        c.kill9(c.agent)
        # Its connection may linger (a peer's close is not always seen
        # through TLS): its silence ends the session.
        rc = t.wait()
        assert (rc, b"without an exit status" in t.out or b"went silent" in t.out) in ((7, True), (4, True)), t.out
    finally:
        t.close()
        # A new agent takes the task over (and stops cleanly at the end).
        c.start_agent(wait=False)
        wait_for("the new agent to sync", lambda: c.log("agent.log").count("registered with scheduler") == 2)


def test_a_session_id_works_once_and_for_its_agent_only(running):
    """A fake agent (a real join) runs a task, so the test sees the session
    id the scheduler hands out: the real agent cannot attach with it, its
    agent can once, and never again."""
    c = running
    fake = "8d1f9a9e-4444-4b5e-9d0f-dddddddddddd"
    status, _, ctx = c.enrol(fake)
    assert status == 200

    def sync(body):
        status, answer = c.api_raw("/api/v1/agents/sync", "POST", json.dumps(body).encode(), context=ctx,
                                   auth=False)
        assert status == 200, answer
        return json.loads(answer)

    reg = {"agent_id": fake, "hostname": "fake-exec", "resources": {"cpu": 1.0, "ram": 1 << 30, "disk": 1 << 30},
           "port_range": [41000, 41010], "attributes": {"host": "fake-exec"}, "wait_ms": 0}
    sync(reg)
    yaml = JOB_YAML.replace("instances: 1", "instances: 1\n    constraints:\n      - {attribute: host, value: fake-exec}")
    r = c.cli("job", "create", JOB, c.job_file(yaml, "shell.yaml"))
    assert r.rc == 0, r
    launched = []
    wait_for("the launch on the fake agent", lambda: launched.extend(sync(reg)["launch"]) or launched)
    task_id = launched[0]["task_id"]
    sync(dict(reg, updates=[{"seq": 1, "task_id": task_id, "state": "RUNNING", "message": "",
                             "ts": int(time.time() * 1000), "executor_pid": 4242, "exit_code": None,
                             "processes": []}]))
    wait_for("the task RUNNING", lambda: c.tasks(JOB)[0]["state"] == "RUNNING")
    head, user = upgrade(c, f"/api/v1/jobs/{JOB}/instances/0/exec", {"cmd": ["true"]}, c.tls(),
                         headers=f"Authorization: Bearer {c.token()}\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    execs = []
    wait_for("the session in the fake agent's sync", lambda: execs.extend(sync(reg).get("execs", [])) or execs)
    assert execs[0]["task_id"] == task_id and execs[0]["cmd"] == ["true"], execs
    session = execs[0]["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", session), session
    path = "/api/v1/agents/exec/" + session
    # The real agent, with its own certificate: not its session.
    real = c.api("/api/v1/agents")["agents"]
    real_id = [a["id"] for a in real if a["id"] != fake][0]
    real_ctx = c.tls(os.path.join(c.root, "agent", "agent.pem"), os.path.join(c.root, "agent", "agent.key"))
    head, s = upgrade(c, path, {"agent_id": real_id}, real_ctx)
    s.close()
    assert head.startswith(b"HTTP/1.1 404"), head
    head, agent = upgrade(c, path, {"agent_id": fake}, ctx)
    assert head.startswith(b"HTTP/1.1 101"), head
    # Spliced: what the agent sends reaches the user.
    agent.sendall(b"o" + struct.pack(">I", 2) + b"hi" + b"x" + struct.pack(">I", 4) + struct.pack(">I", 6))
    got = b""
    while not got.endswith(struct.pack(">I", 6)):
        chunk = user.recv(4096)
        assert chunk, got
        got += chunk
    assert got == b"o\0\0\0\x02hix\0\0\0\x04\0\0\0\x06", got
    head, s = upgrade(c, path, {"agent_id": fake}, ctx)
    s.close()
    assert head.startswith(b"HTTP/1.1 404"), head
    user.close()
    agent.close()
