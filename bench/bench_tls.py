#!/usr/bin/python3
"""What TLS costs on the API (run by `make bench`; figures in
docs/benchmarks.md). One run measures, for a scheduler serving plain HTTP
(--insecure-listen-without-tls) and one serving TLS (the default, agents
with their certificate):

  - `borealis job status KEY` as a user runs it (a new process and a new
    connection each time): p50 / p99 wall time over BENCH_TLS_STATUS runs;
  - agent syncs (no work, wait_ms 0) on one keep-alive connection: syncs/s;
  - agent syncs each on a new connection (what reconnecting agents cost,
    the full handshake included): syncs/s;
  - then BENCH_TLS_FLOOD (20,000, or what the fd limit allows) idle
    connections: scheduler memory before and after, and whether an agent
    and the CLI still get through.

No agent daemon is needed (the job's tasks stay PENDING; syncs come from
a fake agent joined with the join token like a real one). A benchmark:
it never fails on timing. Everything it starts is stopped by PID.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import make_csr  # noqa: E402  (the test suite's CSR helper)

BIN = os.environ.get("BENCH_BIN") or os.path.join(ROOT, "bin")
BOREALIS = os.path.join(BIN, "borealis")
N_STATUS = int(os.environ.get("BENCH_TLS_STATUS", "200"))
N_SYNC = int(os.environ.get("BENCH_TLS_SYNCS", "2000"))
N_FLOOD = int(os.environ.get("BENCH_TLS_FLOOD", "20000"))
KEY = "local/bench/devel/tls"
JOB = {"cluster": "local", "role": "bench", "environment": "devel", "name": "tls", "instances": 1,
       "task": {"resources": {"cpu": 0.01, "ram": 1 << 20, "disk": 0},
                "processes": [{"name": "p", "cmdline": "sleep 1000"}]}}
AGENT = "b0000000-0000-4000-8000-000000000001"
REG = {"agent_id": AGENT, "hostname": "bench-fake", "resources": {"cpu": 1.0, "ram": 1 << 30, "disk": 1 << 30},
       "port_range": [45000, 45010], "wait_ms": 0}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Scheduler:
    def __init__(self, tls):
        self.tls = tls
        self.tmp = tempfile.mkdtemp(prefix="borealis-bench-tls-")
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ca = os.path.join(self.tmp, "s", "tls", "ca.pem")
        self.token_file = os.path.join(self.tmp, "s", "admin.token")
        args = [BOREALIS, "scheduler", "--data-dir", os.path.join(self.tmp, "s"), "--port", str(self.port),
                "--sync", "normal"] + ([] if tls else ["--insecure-listen-without-tls"])
        self.log = open(os.path.join(self.tmp, "scheduler.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.client_ctx = None
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request(self.conn(), "GET", "/health")[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("bench_tls: the scheduler did not start")
            time.sleep(0.05)

    def conn(self, agent=False):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        ctx = self.client_ctx if agent else ssl.create_default_context(cafile=self.ca)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)

    def request(self, conn, method, path, body=None, token=False):
        headers = {"Content-Type": "application/json"}
        if token:  # the admin token the scheduler wrote on its first start
            with open(self.token_file) as f:
                headers["Authorization"] = "Bearer " + f.read().strip()
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    def join(self):
        """Join as a fake agent (TLS only) and keep its client context."""
        if not self.tls:
            return
        with open(os.path.join(self.tmp, "s", "tls", "join-token")) as f:
            token = f.read().strip()
        key, csr = make_csr(AGENT)
        st, body = self.request(self.conn(), "POST", "/api/v1/agents/join", {"token": token, "csr": csr})
        assert st == 200, body
        cert_f, key_f = os.path.join(self.tmp, "agent.pem"), os.path.join(self.tmp, "agent.key")
        with open(cert_f, "w") as f:
            f.write(json.loads(body)["certificate"])
        with open(key_f, "w") as f:
            f.write(key)
        self.client_ctx = ssl.create_default_context(cafile=self.ca)
        self.client_ctx.load_cert_chain(cert_f, key_f)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(tls):
    s = Scheduler(tls)
    try:
        st, body = s.request(s.conn(), "POST", "/api/v1/jobs", JOB, token=True)
        assert st == 201, body
        env = dict(os.environ, BOREALIS_CA=s.ca, BOREALIS_TOKEN_FILE=s.token_file)
        times = []
        for _ in range(N_STATUS):
            t0 = time.monotonic()
            r = subprocess.run([BOREALIS, "--scheduler", s.url, "job", "status", KEY], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            times.append((time.monotonic() - t0) * 1000)
            assert r.returncode == 0, r.stderr
        s.join()
        c = s.conn(agent=True)
        st, body = s.request(c, "POST", "/api/v1/agents/sync", REG)
        assert st == 200, body
        t0 = time.monotonic()
        for _ in range(N_SYNC):
            s.request(c, "POST", "/api/v1/agents/sync", REG)
        keepalive = N_SYNC / (time.monotonic() - t0)
        c.close()
        n_new = max(1, N_SYNC // 4)
        t0 = time.monotonic()
        for _ in range(n_new):
            c = s.conn(agent=True)
            s.request(c, "POST", "/api/v1/agents/sync", REG)
            c.close()
        fresh = n_new / (time.monotonic() - t0)
        return {"p50": pct(times, 50), "p99": pct(times, 99), "keepalive": keepalive, "fresh": fresh}
    finally:
        s.stop()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def flood():
    """The probe of issue 7: many idle connections from many addresses
    (127.0.0.0/8 is all loopback). Scheduler memory before and after, and
    whether a (new) agent connection and the CLI still get through."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(N_FLOOD, hard - 200)
    s = Scheduler(True)
    socks = []
    try:
        s.join()
        c = s.conn(agent=True)
        assert s.request(c, "POST", "/api/v1/agents/sync", REG)[0] == 200
        c.close()
        before = rss_mib(s.proc.pid)
        for i in range(n):
            so = socket.socket()
            so.bind((f"127.0.{3 + i // 64 // 250}.{1 + (i // 64) % 250}", 0))
            so.settimeout(5)
            try:
                so.connect(("127.0.0.1", s.port))
                socks.append(so)
            except OSError:
                so.close()
        time.sleep(1)  # let the loop accept (or refuse) the backlog: a figure, not a test
        after = rss_mib(s.proc.pid)
        t0 = time.monotonic()
        c = s.conn(agent=True)
        ok = s.request(c, "POST", "/api/v1/agents/sync", REG)[0] == 200
        sync_ms = (time.monotonic() - t0) * 1000
        c.close()
        r = subprocess.run([BOREALIS, "--scheduler", s.url, "job", "list"],
                           env=dict(os.environ, BOREALIS_CA=s.ca, BOREALIS_TOKEN_FILE=s.token_file),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"  {len(socks)} idle connections from {len(socks) // 64 + 1} addresses: scheduler RSS "
              f"{before:.1f} MiB -> {after:.1f} MiB; a new agent connection "
              f"{'synced' if ok else 'FAILED'} in {sync_ms:.0f} ms; CLI from the agents' address exit {r.returncode}")
    finally:
        for so in socks:
            so.close()
        s.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main():
    print(f"TLS cost on the API: {N_STATUS} `job status` runs, {N_SYNC} keep-alive syncs, "
          f"{max(1, N_SYNC // 4)} syncs on new connections, per mode")
    rows = [("plain HTTP", measure(False)), ("TLS (mutual for agents)", measure(True))]
    print(f"  {'mode':<26} {'status p50':>11} {'status p99':>11} {'syncs/s keep-alive':>19} "
          f"{'syncs/s new conn':>17}")
    for name, r in rows:
        print(f"  {name:<26} {r['p50']:>9.1f}ms {r['p99']:>9.1f}ms {r['keepalive']:>19.0f} {r['fresh']:>17.0f}")
    flood()


if __name__ == "__main__":
    main()
