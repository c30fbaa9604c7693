#!/usr/bin/python3
"""`borealis task logs --follow` latency (run by `make bench`; figures in
docs/benchmarks.md): the time from a task writing a line to that line
coming out of the CLI, through the whole path a user's terminal sees:
the process's log file, the agent (inotify wakes the parked read), its
reply to the scheduler, the scheduler answering the CLI's suspended
request, the CLI writing to its stdout (a pipe here).

One scheduler and one agent (the integration suite's Cluster, real
daemons, TLS), one task that copies what arrives on a FIFO in its sandbox
to its stdout; BENCH_LOG_LINES lines are written to the FIFO, each after
the previous one came out, with a random pause of 0-50 ms between them
(so lines arrive both while the CLI's request waits at the agent and
while it is between requests). A benchmark: it never fails on timing.
Everything it starts is stopped by PID.
"""
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("BOREALIS_BIN", os.environ.get("BENCH_BIN") or os.path.join(ROOT, "bin"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import BOREALIS, Cluster, wait_for  # noqa: E402

N = int(os.environ.get("BENCH_LOG_LINES", "300"))
KEY = "local/www-data/devel/echo"
JOB = """
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: echo
    service: true
    task:
      resources: {cpu: 0.1, ram: 16MiB, disk: 0}
      processes:
        - name: main
          cmdline: "mkfifo in; echo ready; while true; do cat in; done"
"""


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    root = tempfile.mkdtemp(prefix="borealis-bench-logs-")
    c = Cluster(root)
    follower = None
    try:
        c.start_scheduler()
        c.start_agent()
        r = c.cli("job", "create", KEY, c.job_file(JOB), "--wait-until", "RUNNING")
        assert r.rc == 0, r
        sandbox = os.path.join(root, "agent", "sandboxes", c.tasks(KEY)[0]["id"])
        wait_for("the task's FIFO", lambda: os.path.exists(os.path.join(sandbox, "in")))
        env = dict(os.environ, BOREALIS_TOKEN_FILE=c.token_file, BOREALIS_CA=c.ca)
        follower = subprocess.Popen([BOREALIS, "--scheduler", c.url, "task", "logs", KEY + "/0", "--follow"],
                                    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        out = b""

        def await_text(text, timeout=30):
            nonlocal out
            deadline = time.monotonic() + timeout
            while text not in out:
                ready, _, _ = select.select([follower.stdout], [], [], max(0, deadline - time.monotonic()))
                if not ready:
                    raise AssertionError(f"{text!r} never came out of the CLI")
                out += os.read(follower.stdout.fileno(), 65536)
            return time.monotonic()

        await_text(b"ready\n")
        fifo = open(os.path.join(sandbox, "in"), "wb", buffering=0)
        lat = []
        for i in range(N):
            time.sleep(random.uniform(0, 0.05))
            line = f"line {i}\n".encode()
            t0 = time.monotonic()
            fifo.write(line)
            lat.append((await_text(line) - t0) * 1000)
        fifo.close()
        print(f"task logs --follow latency, write to CLI output ({N} lines, one task, TLS): "
              f"p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
              f"max {max(lat):.1f} ms")
    finally:
        if follower and follower.poll() is None:
            follower.kill()
            follower.wait()
        c.stop(c.agent, timeout=60)
        c.stop(c.sched)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
