"""Fixtures for the integration suite: real daemons in a temporary
directory, driven through the real `borealis` CLI and the HTTP API.

Each test gets its own scheduler (fresh store, free port) and agent (own
data dir, own cgroup root, own port range), and everything is stopped by
PID at the end, with the agent's cgroups checked to be gone.
"""
import atexit
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

BIN = os.environ.get("BOREALIS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "bin")
BOREALIS = os.path.abspath(os.path.join(BIN, "borealis"))
EXECUTOR = os.path.abspath(os.path.join(BIN, "borealis-executor"))

# Sanitizer runtime options for the daemons when they are built with SAN=1.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TASK_FD_LIMIT = 1024


def typical_fd_limit():
    """Start a daemon as most systems would: a soft open-file limit of 1024
    below a higher hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(TASK_FD_LIMIT, hard), hard))


def tls_context(ca, cert=None, key=None):
    """Verifies the scheduler against its own CA (DATA/tls/ca.pem); with
    cert/key, also presents an agent's client certificate."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def make_csr(common_name):
    """A P-256 key and a certificate request for CN=common_name (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
           .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


_task_files = None


def readable_by_tasks(path):
    """A copy of a file of the checkout that tasks can read: the checkout
    may lie under a 0700 home (/root on a fresh machine) and tasks run as
    their role's user, with a /tmp of their own. Removed at exit."""
    global _task_files
    if _task_files is None:
        _task_files = tempfile.mkdtemp(prefix="borealis-task-files-", dir="/var/tmp")
        os.chmod(_task_files, 0o755)
        atexit.register(shutil.rmtree, _task_files, True)
    dst = os.path.join(_task_files, os.path.basename(path))
    shutil.copyfile(path, dst)
    os.chmod(dst, 0o644)
    return dst


def wait_for(what, predicate, timeout=30.0, interval=0.05):
    """Await a condition observed through the API; fail naming it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cgroups_left(root_name):
    """Cgroup directories named root_name (and below) on v1 or v2."""
    left = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu",
                 "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/freezer"):
        p = os.path.join(base, root_name)
        if os.path.isdir(p):
            left.append(p)
            left += [os.path.join(p, d) for d in os.listdir(p)
                     if os.path.isdir(os.path.join(p, d))]
    return left


class FakeScheduler:
    """A scripted scheduler and one real agent syncing with it, for tests of
    the agent's side of the protocol. `answer(body)` gets each sync request
    (parsed) on the server's threads and returns (status, answer). On
    leaving the `with`, the agent is stopped (SIGTERM) and so is the server;
    if the block raised nothing, the agent must have exited 0 and left no
    cgroup. The agent logs to tmp_path/agent.log, its data dir is
    tmp_path/a."""

    def __init__(self, tmp_path, answer, agent_args=()):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                status, body = answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.tmp_path = tmp_path
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.cgroup = f"borealis-test-{os.getpid()}-{self.port}"
        self.agent_args = list(agent_args)
        self.agent = None
        self.rc = None

    def __enter__(self):
        import threading
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        with open(self.tmp_path / "agent.log", "wb") as log:
            self.agent = subprocess.Popen(
                [BOREALIS, "agent", "--scheduler", f"http://127.0.0.1:{self.port}",
                 "--data-dir", str(self.tmp_path / "a"), "--executor", EXECUTOR, "--cgroup-root", self.cgroup,
                 "--cpu", "1", "--ram", "1GiB", "--cleanup-on-exit"] + self.agent_args,
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        return self

    def log(self):
        return open(self.tmp_path / "agent.log").read()

    def __exit__(self, exc_type, exc, tb):
        self.agent.send_signal(signal.SIGTERM)
        self.rc = self.agent.wait(timeout=30)
        self.server.shutdown()
        self.server.server_close()
        if exc_type is None:
            assert self.rc == 0, self.log()[-3000:]
            assert not cgroups_left(self.cgroup)
        return False


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class Cluster:
    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.tls_dir = os.path.join(root, "scheduler", "tls")
        self.ca = os.path.join(self.tls_dir, "ca.pem")
        self.join_token_file = os.path.join(self.tls_dir, "join-token")
        self.sched = None
        self.agent = None
        self.cgroup_root = f"borealis-test-{os.getpid()}-{self.port}"
        self.port_lo = 20000 + (self.port % 200) * 100
        self.scheduler_args = ["--flap-penalty", "0", "--agent-timeout", "30s"]
        # The admin token the scheduler writes on its first start.
        self.token_file = os.path.join(root, "scheduler", "admin.token")
        self.agent_args = []
        # A command the agent runs under (it must exec the agent, so that
        # the pid is the agent's): e.g. a chroot.
        self.agent_prefix = []
        # Stopping kills every task; a test with hundreds of containers
        # (one runtime delete each) may need longer.
        self.agent_stop_timeout = 60

    # -- daemons ----------------------------------------------------------
    def start_scheduler(self):
        log = open(os.path.join(self.root, "scheduler.log"), "ab")
        self.sched = subprocess.Popen(
            [BOREALIS, "scheduler", "--data-dir", os.path.join(self.root, "scheduler"),
             "--port", str(self.port), "--sync", "normal"] + self.scheduler_args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_for("scheduler /health", lambda: self.api_ok("/health"), timeout=20)

    def start_agent(self, wait=True):
        log = open(os.path.join(self.root, "agent.log"), "ab")
        self.agent = subprocess.Popen(
            self.agent_prefix + [BOREALIS, "agent", "--data-dir", os.path.join(self.root, "agent"),
             "--scheduler", self.url, "--executor", EXECUTOR,
             "--join-token-file", self.join_token_file, "--ca", self.ca,
             "--cgroup-root", self.cgroup_root, "--cleanup-on-exit",
             "--sandbox-retention", "1h",
             "--port-range", f"{self.port_lo}-{self.port_lo + 99}"] + self.agent_args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=typical_fd_limit)
        if wait:
            wait_for("agent registration",
                     lambda: any(a["state"] == "up" for a in self.api("/api/v1/agents")["agents"]))

    def kill9(self, proc):
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, proc, timeout=60):
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"pid {proc.pid} ignored SIGTERM for {timeout}s")
        return proc.returncode if proc else None

    def log(self, name):
        with open(os.path.join(self.root, name), errors="replace") as f:
            return f.read()

    # -- API and CLI -------------------------------------------------------
    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()

    def auth_headers(self, token=None):
        return {"Authorization": "Bearer " + (token or self.token())}

    def tls(self, cert=None, key=None):
        return tls_context(self.ca, cert, key)

    def join_token(self):
        with open(self.join_token_file) as f:
            return f.read().strip()

    def enrol(self, agent_id, token=None):
        """Join as a (fake) agent: returns (status, answer, ssl context
        presenting the issued certificate or None)."""
        key_pem, csr = make_csr(agent_id)
        status, body = self.api_raw("/api/v1/agents/join", "POST", json.dumps(
            {"token": token or self.join_token(), "csr": csr}).encode(), auth=False)
        answer = json.loads(body)
        if status != 200:
            return status, answer, None
        d = tempfile.mkdtemp(dir=self.root)
        cert, key = os.path.join(d, "agent.pem"), os.path.join(d, "agent.key")
        with open(cert, "w") as f:
            f.write(answer["certificate"])
        with open(key, "w") as f:
            f.write(key_pem)
        return status, answer, self.tls(cert, key)

    def api(self, path, method="GET", body=None, token=None, context=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **self.auth_headers(token)})
        try:
            with urllib.request.urlopen(req, timeout=10, context=context or self.tls()) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path}: {e.code} {e.read()!r}")

    def api_raw(self, path, method="GET", data=None, headers=None, auth=True, context=None):
        """One request, its status and body; with the admin token (auth)
        and, for a body, Content-Type application/json, unless `headers`
        says otherwise."""
        h = {}
        if data is not None:
            h["Content-Type"] = "application/json"
        if auth:
            h.update(self.auth_headers())
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10, context=context or self.tls()) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def api_ok(self, path):
        try:
            return self.api_raw(path, auth=False)[0] == 200
        except OSError:
            return False

    def cli(self, *args, timeout=120, env=None):
        """The CLI with the admin token (BOREALIS_TOKEN_FILE), or with the
        environment given."""
        if env is None:
            env = dict(os.environ)
            if os.path.exists(self.token_file):
                env["BOREALIS_TOKEN_FILE"] = self.token_file
        # The scheduler's own CA (DATA/tls/ca.pem) verifies its certificate.
        env = dict(env)
        env.setdefault("BOREALIS_CA", self.ca)
        proc = subprocess.run([BOREALIS, "--scheduler", self.url] + list(args),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=env)
        return Result(proc)

    def job_file(self, text, name="job.yaml"):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def job(self, key):
        return self.api("/api/v1/jobs/" + key)

    def tasks(self, key):
        """Current task of every instance, by instance."""
        return {t["instance"]: t for t in self.job(key)["tasks"]}

    def all_tasks(self, **filters):
        q = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.api("/api/v1/tasks" + ("?" + q if q else ""))["tasks"]

    def wait_running(self, key, n, timeout=60):
        def ok():
            ts = self.tasks(key)
            return len(ts) == n and all(t["state"] == "RUNNING" for t in ts.values()) and ts
        return wait_for(f"{n} instances of {key} RUNNING", ok, timeout=timeout)

    def cgroups_left(self):
        return cgroups_left(self.cgroup_root)


@pytest.fixture
def cluster():
    root = tempfile.mkdtemp(prefix="borealis-it-")
    c = Cluster(root)
    failed = True
    try:
        yield c
        failed = False
    finally:
        # The agent's --cleanup-on-exit kills every task and removes its
        # cgroups; the scheduler stops cleanly on SIGTERM.
        rc_agent = c.stop(c.agent, timeout=c.agent_stop_timeout)
        rc_sched = c.stop(c.sched)
        left = c.cgroups_left()
        if failed or rc_agent not in (0, None) or rc_sched not in (0, None) or left:
            for name in ("scheduler.log", "agent.log"):
                p = os.path.join(root, name)
                if os.path.exists(p):
                    print(f"==== {name} ====\n" + c.log(name)[-6000:])
        if not failed:
            assert rc_agent in (0, None), f"agent exited {rc_agent}"
            assert rc_sched in (0, None), f"scheduler exited {rc_sched}"
            assert not left, f"cgroups left behind: {left}"
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running(cluster):
    cluster.start_scheduler()
    cluster.start_agent()
    return cluster
