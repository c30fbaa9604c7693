#!/usr/bin/python3
"""Executor cost per idle task, with and without a health check (part of
`make bench`; docs/benchmarks.md).

Brings up a real scheduler and agent (bench/bench.py's Run), runs two
service jobs of BENCH_EXEC_TASKS (default 100) `exec sleep 100000` tasks
each, in containers: `plain` without a health check and `checked` with an
HTTP check every BENCH_CHECK_INTERVAL (default 1s, ten times Aurora's
default rate) on the task's `health` port. This driver answers those
checks itself (one thread, one selector, 200 `ok` on every port), so the
only per-task work measured is the executor's. It then reads every
executor's VmRSS and PSS, and its CPU time (schedstat) over
BENCH_WINDOW seconds (default 30), and prints per-task and per-100-task
figures. A benchmark: it never fails on timing; it exits 1 only if the
tasks never ran. Everything it starts is stopped by PID.
"""
import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the cluster driver of `make bench`)

# Its own cgroup root: bench.py sweeps `borealis-bench` when it stops, and
# another `make bench` may be running on the machine.
bench.CGROUP_ROOT = "borealis-bench-executor"
N = bench.env_int("BENCH_EXEC_TASKS", 100, 1)
WINDOW_S = bench.env_int("BENCH_WINDOW", 30, 1)
INTERVAL = os.environ.get("BENCH_CHECK_INTERVAL", "1s")


def job_yaml(name, check):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    instances: {N}
    service: true
    task:
      resources: {{cpu: 0.001, ram: 8MiB, disk: 0}}
      ports: [health]
{check}
      processes:
        - name: sleep
          cmdline: "exec sleep 100000"
"""


class Responder:
    """Answers `HTTP/1.0 200 OK ... ok` on each port it is given, in one
    thread, until stopped."""
    ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, ports):
        self.sel = selectors.DefaultSelector()
        self.listeners = []
        self.busy = []
        for p in ports:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError as e:
                # The agent's port range lies in the ephemeral range, where
                # other programs' connections may hold a port: skip it.
                self.busy.append((p, str(e)))
                s.close()
                continue
            s.listen(64)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, None)
            self.listeners.append(s)
        self.stop_flag = False
        self.served = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()


    def loop(self):
        while not self.stop_flag:
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                if key.data is None:
                    try:
                        c, _ = s.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    self.sel.register(c, selectors.EVENT_READ, b"")
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                buf = key.data + data
                if data and b"\r\n\r\n" not in buf:
                    self.sel.modify(s, selectors.EVENT_READ, buf)
                    continue
                try:
                    if data:
                        s.sendall(self.ANSWER)
                        self.served += 1
                except OSError:
                    pass
                self.sel.unregister(s)
                s.close()

    def close(self):
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.stop_flag = True
        self.thread.join(timeout=5)
        self.close()


def cpu_ns(pid):
    """Time on a CPU, in ns (/proc/PID/schedstat: finer than the 10 ms
    ticks of utime and stime, which an idle executor rarely reaches)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def main():
    bindir = os.environ.get("BENCH_BIN") or os.path.join(bench.ROOT, "bin")
    borealis = os.path.realpath(os.path.join(bindir, "borealis"))
    executor = os.path.realpath(os.path.join(bindir, "borealis-executor"))

    def say(msg=""):
        print(msg, flush=True)

    m = bench.machine_info()
    say("Executor per idle task (make bench; bench/bench_executor.py)")
    say(f"  command : BENCH_EXEC_TASKS={N} BENCH_CHECK_INTERVAL={INTERVAL} BENCH_WINDOW={WINDOW_S} "
        f"/usr/bin/python3 bench/bench_executor.py")
    say(f"  commit  : {m['commit']}")
    say(f"  binaries: {executor}{'  [SANITIZER BUILD]' if bench.is_sanitized(borealis) else ''}")
    say(f"  machine : {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, kernel {m['kernel']}")
    say(f"  load    : {bench.loadavg()} (1-minute load average before the run)")
    run = bench.Run(N, borealis, executor, say)
    responder = None
    rc = 0
    try:
        run.start()
        plain = run.cli("job", "create", "local/www-data/devel/plain", write(run, "plain.yaml", job_yaml("plain", "")))
        check = (f"      health_check: {{type: http, port: health, interval: {INTERVAL}, timeout: 1s,"
                 f" initial_interval: 1h}}")
        checked = run.cli("job", "create", "local/www-data/devel/checked",
                          write(run, "checked.yaml", job_yaml("checked", check)))
        for p in (plain, checked):
            out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                raise bench.BenchError(f"job create: {err.strip()}")

        def tasks(key, state):
            st, body = run.api.json("/api/v1/jobs/" + key)
            ts = body.get("tasks", []) if st == 200 else []
            return len(ts) == N and all(t["state"] == state for t in ts) and ts
        run.wait_for("plain tasks RUNNING", lambda: tasks("local/www-data/devel/plain", "RUNNING"), 300)
        starting = run.wait_for("checked tasks STARTING (no answer yet)",
                                lambda: tasks("local/www-data/devel/checked", "STARTING"), 300)
        responder = Responder([t["ports"]["health"] for t in starting])
        if responder.busy:
            say(f"  note    : {len(responder.busy)} health port(s) held by other connections on this machine"
                f" ({responder.busy[0][0]}: {responder.busy[0][1]}): those tasks stay STARTING and are left out")
        bound = {t["id"] for t in starting if t["ports"]["health"] not in {p for p, _ in responder.busy}}

        def checked_running():
            st, body = run.api.json("/api/v1/jobs/local/www-data/devel/checked")
            ts = [t for t in body.get("tasks", []) if t["id"] in bound] if st == 200 else []
            return len(ts) == len(bound) and all(t["state"] == "RUNNING" for t in ts) and ts
        t0 = time.monotonic()
        run.wait_for("checked tasks RUNNING", checked_running, 120)
        say(f"  {len(bound)} checked tasks STARTING -> RUNNING {time.monotonic() - t0:.1f} s after their port answered")
        time.sleep(2)  # past the transition's own writes
        groups = {"plain": [t["executor_pid"] for t in tasks("local/www-data/devel/plain", "RUNNING")],
                  "checked": [t["executor_pid"] for t in checked_running()]}
        for pids in groups.values():
            run.executor_pids.update(pids)
        before = {pid: cpu_ns(pid) for g in groups.values() for pid in g}
        served0 = responder.served
        t0 = time.monotonic()
        time.sleep(WINDOW_S)
        elapsed = time.monotonic() - t0
        after = {pid: cpu_ns(pid) for g in groups.values() for pid in g}
        checks = responder.served - served0
        say(f"  window  : {elapsed:.1f} s; {checks} health checks answered ({checks / elapsed:.1f}/s)")
        say("")
        say(f"  | executors | tasks | RSS median | RSS max | PSS median | CPU, all | CPU per task |")
        say("  |---|---|---|---|---|---|---|")
        for name, pids in groups.items():
            rss = [bench.proc_status(p, "VmRSS") for p in pids]
            pss = [bench.proc_pss(p) for p in pids]
            rss = [v for v in rss if v is not None]
            pss = [v for v in pss if v is not None]
            if not rss:
                raise bench.BenchError(f"the {name} executors are gone (killed by someone else?)")
            ns = sum(after[p] - before[p] for p in pids if before.get(p) is not None and after.get(p) is not None)
            cpu = ns / 1e9 / elapsed * 100
            say(f"  | {'HTTP check every ' + INTERVAL if name == 'checked' else 'no health check'} | {len(pids)} "
                f"| {bench.pct(rss, 50)} KiB | {max(rss)} KiB | {bench.pct(pss, 50)} KiB "
                f"| {cpu:.2f}% of a core | {cpu / len(pids):.4f}% |")
    except bench.BenchError as e:
        say(f"bench_executor: {e}")
        rc = 1
    finally:
        if responder:
            responder.stop()
        run.stop()
        run.remove_tmp()
    return rc


def write(run, name, text):
    path = os.path.join(run.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


if __name__ == "__main__":
    sys.exit(main())
