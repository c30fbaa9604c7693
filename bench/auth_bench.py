#!/usr/bin/python3
"""Cost of API authentication: `job status` latency (p50/p99) against a
scheduler with authentication (BENCH_BIN, this tree) and one without
(BENCH_BASE_BIN, a build from before authentication existed), in one run.

Two figures per scheduler:
  - `borealis job status KEY`, the whole CLI run (process start, token
    file read, one HTTP request), BENCH_CLI_RUNS times;
  - the request alone, GET /api/v1/jobs/KEY on a kept-alive connection,
    BENCH_HTTP_RUNS times (what the gate adds: header checks, SHA-256 of
    the token, a hash lookup, the role check).
No agent runs: the job's tasks stay PENDING, the answer is the same size
on both. Prints a Markdown table (docs/benchmarks.md). Every scheduler it
starts is stopped by PID."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(os.environ.get("BENCH_BIN", os.path.join(HERE, "..", "bin")))
BASE = os.environ.get("BENCH_BASE_BIN")
CLI_RUNS = int(os.environ.get("BENCH_CLI_RUNS", "300"))
HTTP_RUNS = int(os.environ.get("BENCH_HTTP_RUNS", "3000"))
KEY = "local/www-data/devel/bench"
JOB = {"cluster": "local", "role": "www-data", "environment": "devel", "name": "bench", "instances": 10,
       "task": {"resources": {"cpu": 0.1, "ram": 16 << 20, "disk": 0},
                "processes": [{"name": "p", "cmdline": "sleep 600"}]}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def measure(bindir, root, auth):
    port = free_port()
    data = os.path.join(root, "sched")
    log = open(os.path.join(root, "sched.log"), "ab")
    proc = subprocess.Popen([os.path.join(bindir, "borealis"), "scheduler", "--data-dir", data, "--port",
                             str(port), "--sync", "normal"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: the scheduler did not start; see " + log.name)
            time.sleep(0.05)
        headers = {"Content-Type": "application/json"}
        env = dict(os.environ, BOREALIS_SCHEDULER=f"http://127.0.0.1:{port}")
        env.pop("BOREALIS_TOKEN", None)
        env.pop("BOREALIS_TOKEN_FILE", None)
        if auth:
            token_file = os.path.join(data, "admin.token")
            headers["Authorization"] = "Bearer " + open(token_file).read().strip()
            env["BOREALIS_TOKEN_FILE"] = token_file
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/api/v1/jobs", json.dumps(JOB), headers)
        r = c.getresponse()
        r.read()
        assert r.status == 201, r.status
        http_ms = []
        for _ in range(HTTP_RUNS):
            t0 = time.perf_counter()
            c.request("GET", "/api/v1/jobs/" + KEY, headers=headers)
            r = c.getresponse()
            r.read()
            http_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status == 200, r.status
        cli_ms = []
        for _ in range(CLI_RUNS):
            t0 = time.perf_counter()
            p = subprocess.run([os.path.join(bindir, "borealis"), "job", "status", KEY], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            cli_ms.append((time.perf_counter() - t0) * 1000)
            assert p.returncode == 0, p.stderr
        return http_ms, cli_ms
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main():
    if not BASE:
        raise SystemExit("bench: set BENCH_BASE_BIN to the bin/ of a build without authentication")
    rows = []
    for label, bindir, auth in (("no auth (before)", BASE, False), ("bearer token", BIN, True)):
        root = tempfile.mkdtemp(prefix="borealis-authbench-")
        try:
            http_ms, cli_ms = measure(bindir, root, auth)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append((label, pct(http_ms, 50), pct(http_ms, 99), pct(cli_ms, 50), pct(cli_ms, 99)))
    print(f"| API | GET job p50 | GET job p99 | `job status` p50 | `job status` p99 |")
    print("|---|---|---|---|---|")
    for label, h50, h99, c50, c99 in rows:
        print(f"| {label} | {h50:.3f} ms | {h99:.3f} ms | {c50:.1f} ms | {c99:.1f} ms |")
    print(f"\n({HTTP_RUNS} requests on one kept-alive connection, {CLI_RUNS} CLI runs, each; "
          f"a job of 10 PENDING instances)")


if __name__ == "__main__":
    sys.exit(main())
