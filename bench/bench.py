#!/usr/bin/python3
"""Borealis benchmark driver (run by bench/run.sh, i.e. `make bench`).

Each run brings up a real scheduler and a real agent in a temporary
directory, submits one job of BENCH_TASKS (default 200) single-process
tasks through the real CLI, and measures:

  - submit -> all RUNNING, observed by polling the job's summary (GET
    /api/v1/jobs?role=&environment=&name=, its task_counts, as Swarm's
    side polls `docker service ls`) every 10 ms, then reading the whole
    job once, plus server-side figures from the tasks' RUNNING events;
  - scheduler, agent and executor memory (VmRSS, and PSS for executors);
  - replacement time after one task's process is killed with SIGKILL
    (scheduler started with --flap-penalty 0);
  - a rolling update of every instance (`update start`, batch
    BENCH_UPDATE_BATCH=5, watch_secs 0) -> ROLLED_FORWARD;
  - `job killall` -> all KILLED;
  - how long the agent takes to stop (--cleanup-on-exit).

With BENCH_IMAGE=1 the tasks run from a container image (a busybox root
filesystem built by tests/integration/imagelib.py), imported into the
agent's image store before the run: the figures are then those of
container tasks from a cached image, the like-for-like case of a Swarm
service.

The whole run is repeated BENCH_RUNS (default 3) times; every run and the
median are printed. It is a benchmark: it never fails on timing. It exits
1 only if the cluster could not be brought up or the tasks never ran.
Everything it starts is stopped by PID, and the agent's cgroups are
removed, also on errors and on Ctrl-C.
"""
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CGROUP_ROOT = "borealis-bench"
JOB_KEY = "local/www-data/devel/sleep"
POLL_S = float(os.environ.get("BENCH_POLL_MS", "10")) / 1000.0
RUN_TIMEOUT_S = float(os.environ.get("BENCH_TIMEOUT", "180"))


class BenchError(Exception):
    """The cluster could not be brought up or the tasks never ran."""


def env_int(name, default, lo):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise SystemExit(f"bench: {name}={raw!r} is not an integer")
    if v < lo:
        raise SystemExit(f"bench: {name} must be >= {lo}")
    return v


# --------------------------------------------------------------------------
# small helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, field):
    """A /proc/PID/status field in KiB (VmRSS, ...), or None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return None


def proc_pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return None


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def pct(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def mib(kib):
    return kib / 1024.0


def cgroup_dirs():
    """Every directory named CGROUP_ROOT under /sys/fs/cgroup (v1 and v2)."""
    out = []
    base = "/sys/fs/cgroup"
    cands = [os.path.join(base, CGROUP_ROOT)]
    try:
        for d in sorted(os.listdir(base)):
            p = os.path.join(base, d)
            if os.path.isdir(p) and not os.path.islink(p):
                cands.append(os.path.join(p, CGROUP_ROOT))
    except FileNotFoundError:
        pass
    for c in cands:
        if os.path.isdir(c) and c not in out:
            out.append(c)
    return out


def sweep_cgroups(say):
    """Kill whatever is left in CGROUP_ROOT (only processes inside our own
    cgroup root) and remove the cgroups, deepest first."""
    left = cgroup_dirs()
    if not left:
        return True
    for _ in range(50):
        pids = set()
        for top in cgroup_dirs():
            for dirpath, _dirs, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        with open(os.path.join(dirpath, "cgroup.procs")) as f:
                            pids.update(int(x) for x in f.read().split())
                    except OSError:
                        pass
        if not pids:
            break
        say(f"cleanup: killing {len(pids)} process(es) left in cgroup {CGROUP_ROOT}")
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    ok = True
    for top in cgroup_dirs():
        dirs = [d for d, _s, _f in os.walk(top)]
        for d in sorted(dirs, key=len, reverse=True):
            for _ in range(20):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                ok = False
                say(f"cleanup: could not remove cgroup {d}")
    return ok


class Api:
    """Keep-alive HTTP/1.1 client for the scheduler's API."""

    def __init__(self, port, token_file, ca):
        self.port = port
        self.token_file = token_file  # the scheduler's admin token
        self.ca = ca  # the scheduler's CA (DATA/tls/ca.pem), made when it starts
        self.conn = None

    def headers(self):
        try:
            with open(self.token_file) as f:
                return {"Authorization": "Bearer " + f.read().strip()}
        except FileNotFoundError:
            return {}  # /health before the first start wrote it

    def get(self, path, timeout=10):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(
                    "127.0.0.1", self.port, timeout=timeout, context=ssl.create_default_context(cafile=self.ca))
            try:
                self.conn.request("GET", path, headers=self.headers())
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path):
        status, body = self.get(path)
        if status != 200:
            return status, None
        return status, json.loads(body)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------
# one run

def record(name, value):
    """Tell bench/run.sh what to clean up if this driver is itself killed."""
    d = os.environ.get("BENCH_STATE")
    if d and os.path.isdir(d):
        with open(os.path.join(d, name), "w") as f:
            f.write(f"{value}\n")


class Run:
    def __init__(self, n, borealis, executor, say):
        self.n = n
        self.borealis = borealis
        self.executor = executor
        self.say = say
        self.tmp = tempfile.mkdtemp(prefix="borealis-bench-")
        record(os.path.basename(self.tmp) + ".tmpdir", self.tmp)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.token_file = os.path.join(self.tmp, "s", "admin.token")
        self.ca = os.path.join(self.tmp, "s", "tls", "ca.pem")
        self.api = Api(self.port, self.token_file, self.ca)
        self.sched = None
        self.agent = None
        self.executor_pids = set()
        self.r = {}
        self.log_findings = []

    # -- daemons --------------------------------------------------------
    def wait_for(self, what, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p, name in ((self.sched, "scheduler"), (self.agent, "agent")):
                if p is not None and p.poll() is not None:
                    raise BenchError(f"{name} exited with status {p.returncode} while waiting for {what}"
                                     f" (log: {self.tail(name + '.log')})")
            try:
                v = pred()
            except (OSError, http.client.HTTPException, ValueError):
                v = None
            if v:
                return v
            time.sleep(POLL_S)
        raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")

    def tail(self, name, n=15):
        try:
            with open(os.path.join(self.tmp, name), errors="replace") as f:
                lines = f.read().splitlines()[-n:]
            return "\n    " + "\n    ".join(lines) if lines else "(empty)"
        except OSError:
            return "(none)"

    def import_image(self):
        """BENCH_IMAGE=1: a busybox image in the agent's store (cached, as
        a machine that ran the image before has it); returns its name."""
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        from imagelib import Image, busybox_layers
        tar = os.path.join(self.tmp, "image.tar")
        with open(tar, "wb") as f:
            f.write(Image(busybox_layers("bench")).oci_layout_tar("bench:1"))
        cp = subprocess.run([self.borealis, "image", "import", tar, "--data-dir", os.path.join(self.tmp, "a")],
                            capture_output=True, text=True, timeout=120)
        if cp.returncode != 0:
            raise RuntimeError(f"image import: {cp.stderr.strip()}")
        return "localhost/bench@" + cp.stdout.split()[1]

    def start(self):
        self.image = self.import_image() if os.environ.get("BENCH_IMAGE") == "1" else None
        log = open(os.path.join(self.tmp, "scheduler.log"), "ab")
        self.sched = subprocess.Popen(
            [self.borealis, "scheduler", "--data-dir", os.path.join(self.tmp, "s"),
             "--port", str(self.port), "--sync", "full", "--flap-penalty", "0"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        record(f"scheduler-{self.port}.pid", self.sched.pid)
        self.wait_for("scheduler /health", lambda: self.api.get("/health", timeout=2)[0] == 200, 20)
        lo = 40000 + (self.port % 100) * 200
        log = open(os.path.join(self.tmp, "agent.log"), "ab")
        self.agent = subprocess.Popen(
            [self.borealis, "agent", "--data-dir", os.path.join(self.tmp, "a"),
             "--scheduler", self.url, "--executor", self.executor,
             "--join-token-file", os.path.join(self.tmp, "s", "tls", "join-token"), "--ca", self.ca,
             "--cgroup-root", CGROUP_ROOT, "--cleanup-on-exit",
             "--port-range", f"{lo}-{lo + 199}"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        record(f"agent-{self.port}.pid", self.agent.pid)

        def agent_up():
            st, body = self.api.json("/api/v1/agents")
            return st == 200 and any(a["state"] == "up" for a in body["agents"])
        self.wait_for("agent registration", agent_up, 30)

    def stop(self):
        """Stop the agent (SIGTERM: it kills its tasks and removes their
        cgroups) and then the scheduler, by PID. Safe to call twice."""
        self.api.close()
        if self.agent is not None and self.agent.poll() is None:
            t0 = time.monotonic()
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(timeout=60)
                self.r.setdefault("agent_stop_s", time.monotonic() - t0)
            except subprocess.TimeoutExpired:
                self.say("agent ignored SIGTERM for 60 s: SIGKILL")
                self.agent.kill()
                self.agent.wait()
        if self.agent is not None and self.agent.returncode not in (0, None):
            self.log_findings.append(f"agent exited with status {self.agent.returncode}")
        # Executors the agent should have killed: only those we saw, and
        # only if they still are borealis executors.
        for pid in sorted(self.executor_pids):
            if pid_alive(pid) and (proc_comm(pid) or "").lstrip(".").startswith("borealis-exec"):
                self.log_findings.append(f"executor pid {pid} still alive after the agent stopped: SIGKILL")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.sched is not None and self.sched.poll() is None:
            self.sched.send_signal(signal.SIGTERM)
            try:
                self.sched.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.say("scheduler ignored SIGTERM for 30 s: SIGKILL")
                self.sched.kill()
                self.sched.wait()
        if self.sched is not None and self.sched.returncode not in (0, None):
            self.log_findings.append(f"scheduler exited with status {self.sched.returncode}")
        left = cgroup_dirs()
        # The agent removes its tasks' cgroups; the parent directory
        # (borealis-bench) it may keep: we remove it, and report leftovers
        # below it.
        for top in left:
            subs = [d for d in os.listdir(top) if os.path.isdir(os.path.join(top, d))]
            if subs:
                self.log_findings.append(f"task cgroups left by the agent under {top}: {len(subs)}")
        if not sweep_cgroups(self.say):
            self.log_findings.append("some cgroups could not be removed")

    def scan_logs(self):
        for name in ("scheduler.log", "agent.log"):
            try:
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            bad = [l for l in lines if any(w in l.lower() for w in (" error", " warn", "error:", "warning"))]
            if bad:
                self.log_findings.append(f"{name}: {len(bad)} warning/error line(s), first: {bad[0].strip()}")
                for l in bad[1:3]:
                    self.log_findings.append(f"{name}:   {l.strip()}")

    def remove_tmp(self):
        if self.tmp and os.path.isdir(self.tmp):
            # Never leave a mount behind under our temp dir.
            with open("/proc/self/mounts") as f:
                for line in f:
                    mp = line.split()[1]
                    if mp.startswith(self.tmp + "/"):
                        self.log_findings.append(f"mount left under the temp dir: {mp}: unmounting")
                        subprocess.run(["umount", "-l", mp], check=False)
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- job helpers ------------------------------------------------------
    def cli(self, *args):
        return subprocess.Popen([self.borealis, "--scheduler", self.url] + list(args),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ, BOREALIS_TOKEN_FILE=self.token_file,
                                                    BOREALIS_CA=self.ca))

    def job(self):
        st, body = self.api.json("/api/v1/jobs/" + JOB_KEY)
        return body if st == 200 else None

    def summary(self):
        """The job's summary (task_counts) from the job list: a few hundred
        bytes, where the full job of 200 tasks is 165 KiB and about 14 ms
        of the scheduler's CPU per request; the like of Swarm's
        `docker service ls` replicas count."""
        role, env, name = JOB_KEY.split("/")[1:]
        st, body = self.api.json(f"/api/v1/jobs?role={role}&environment={env}&name={name}")
        jobs = body.get("jobs") if st == 200 and isinstance(body, dict) else None
        return jobs[0] if jobs else None

    def poll_until(self, what, pred, timeout, proc=None, counts=None):
        """Poll the job every POLL_S until pred(job) is true. Returns
        (elapsed since call, job). Reaps the CLI `proc` meanwhile. With
        `counts` (state, n[, dip]), the job's summary is polled until n
        tasks are in that state (with dip: after fewer were first), then
        the full job is read (for pred and the tasks' events): polling
        165 KiB every 10 ms would keep a CPU of the 2-CPU machine, and the
        scheduler's one thread, busy serving the benchmark itself."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        cli_done = None
        dipped = False
        while True:
            if counts is not None:
                sm = self.summary()
                c = (sm.get("task_counts") or {}).get(counts[0], 0) if sm else None
                dipped = dipped or (c is not None and c < counts[1])
                ready = c == counts[1] and (len(counts) < 3 or dipped)
                j = self.job() if ready else None
            else:
                j = self.job()
            now = time.monotonic()
            if proc is not None and cli_done is None and proc.poll() is not None:
                cli_done = now
            if j is not None and pred(j):
                return now, j, cli_done
            if now > deadline:
                raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}: "
                                 f"{(j or {}).get('job', {}).get('task_counts')}")
            for p, name in ((self.sched, "scheduler"), (self.agent, "agent")):
                if p.poll() is not None:
                    raise BenchError(f"{name} exited with status {p.returncode} while waiting for {what}"
                                     f" (log: {self.tail(name + '.log')})")
            time.sleep(POLL_S)

    def all_state(self, j, state):
        ts = j.get("tasks") or []
        return len(ts) == self.n and all(t["state"] == state for t in ts)

    @staticmethod
    def event_ts(task, state):
        for e in task.get("events", []):
            if e["state"] == state:
                return e["ts"]
        return None

    def update_steps(self, j, wall0):
        """Where a rolling update's time goes, from the scheduler's events:
        per instance, the old task's KILLING -> terminal (the kill), terminal
        -> the new task ASSIGNED (the replacement placed), ASSIGNED ->
        RUNNING (the start) and KILLING -> RUNNING in all; and how long the
        update driver takes to kill the next instance once one is RUNNING
        (it keeps batch_size instances in flight, not batches in lock step)."""
        r = self.r
        olds = {}
        for t in j.get("history", []):
            ks = self.event_ts(t, "KILLING")
            if ks is not None and ks >= wall0 - 1:
                olds[t["instance"]] = t
        kill, place, start, spans = [], [], [], []
        for t in j["tasks"]:
            old = olds.get(t["instance"])
            if old is None:
                continue
            ks = self.event_ts(old, "KILLING")
            end = min((e["ts"] for e in old.get("events", []) if e["state"] in ("KILLED", "FINISHED", "FAILED", "LOST")),
                      default=None)
            asg, run = self.event_ts(t, "ASSIGNED"), self.event_ts(t, "RUNNING")
            if None in (ks, end, asg, run):
                continue
            kill.append(end - ks)
            place.append(asg - end)
            start.append(run - asg)
            spans.append((ks, run))
        if not spans:
            return
        spans.sort()
        b = r.get("update_batch", 5)
        runs = sorted(x[1] for x in spans)
        react = []
        for ks, _run in spans[b:]:
            before = [x for x in runs if x <= ks]
            if before:
                react.append(ks - before[-1])
        r["upd_kill_ms"] = statistics.median(kill)
        r["upd_place_ms"] = statistics.median(place)
        r["upd_start_ms"] = statistics.median(start)
        r["upd_inst_ms"] = statistics.median(y - x for x, y in spans)
        r["upd_react_ms"] = statistics.median(react) if react else float("nan")
        r["upd_first_kill_ms"] = spans[0][0] - wall0
        self.say(f"  update, per instance (median ms): KILLING -> {r['upd_inst_ms']:.0f} -> RUNNING: kill "
                 f"{r['upd_kill_ms']:.0f}, terminal -> new ASSIGNED {r['upd_place_ms']:.0f}, ASSIGNED -> "
                 f"RUNNING {r['upd_start_ms']:.0f}; next KILLING {r['upd_react_ms']:.0f} after a RUNNING; "
                 f"first KILLING {r['upd_first_kill_ms']:.0f} after `update start`")

    # -- the measurement ----------------------------------------------------
    def measure(self):
        r = self.r
        r["load1"] = loadavg()
        time.sleep(0.5)  # let both daemons settle after registration
        r["sched_idle_kib"] = proc_status(self.sched.pid, "VmRSS")
        r["agent_idle_kib"] = proc_status(self.agent.pid, "VmRSS")

        jobfile = os.path.join(self.tmp, "bench.yaml")
        with open(jobfile, "w") as f:
            f.write(f"""# {self.n} single-process tasks that only sleep.
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: sleep
    instances: {self.n}
    service: true
    task:
      resources: {{cpu: 0.001, ram: 4MiB, disk: 0}}
{"      image: " + self.image if self.image else ""}
      processes:
        - name: sleep
          cmdline: "exec sleep 100000"
""")

        # 1. submit -> all RUNNING
        wall0 = time.time() * 1000.0
        t0 = time.monotonic()
        cp = self.cli("job", "create", JOB_KEY, jobfile)
        t_end, j, cli_done = self.poll_until(f"{self.n} tasks RUNNING",
                                             lambda j: self.all_state(j, "RUNNING"), RUN_TIMEOUT_S, cp,
                                             counts=("RUNNING", self.n))
        out, err = cp.communicate(timeout=60)
        if cli_done is None:
            cli_done = time.monotonic()
        if cp.returncode != 0:
            raise BenchError(f"`borealis job create` exited {cp.returncode}: {err.strip()}")
        r["run_s"] = t_end - t0
        r["cli_create_s"] = cli_done - t0
        created = j["job"]["created_ms"]
        run_ts = [self.event_ts(t, "RUNNING") for t in j["tasks"]]
        run_ts = [x for x in run_ts if x is not None]
        lat = [(x - created) / 1000.0 for x in run_ts]
        r["srv_last_s"] = (max(run_ts) - created) / 1000.0
        r["srv_last_from_cli_s"] = (max(run_ts) - wall0) / 1000.0
        r["created_from_cli_s"] = (created - wall0) / 1000.0
        st_ts = [self.event_ts(t, "STARTING") for t in j["tasks"]]
        st_ts = [x for x in st_ts if x is not None]
        r["srv_last_starting_s"] = (max(st_ts) - created) / 1000.0 if st_ts else float("nan")
        r["n_late"] = sum(1 for x in lat if x >= 1.0)
        r["p50_s"] = pct(lat, 50)
        r["p99_s"] = pct(lat, 99)
        r["get_bytes"] = len(json.dumps(j))
        # What one poll costs (the scheduler builds the whole answer each time).
        costs = []
        for _ in range(20):
            a = time.monotonic()
            self.job()
            costs.append(time.monotonic() - a)
        r["get_ms"] = statistics.median(costs) * 1000.0

        # 2. memory with N tasks running
        time.sleep(0.5)
        j = self.job()
        r["sched_run_kib"] = proc_status(self.sched.pid, "VmRSS")
        r["agent_run_kib"] = proc_status(self.agent.pid, "VmRSS")
        rss, pss = [], []
        for t in j["tasks"]:
            pid = t.get("executor_pid")
            if not pid:
                continue
            self.executor_pids.add(pid)
            v = proc_status(pid, "VmRSS")
            if v is not None:
                rss.append(v)
            v = proc_pss(pid)
            if v is not None:
                pss.append(v)
        r["exec_n"] = len(rss)
        r["exec_med_kib"] = statistics.median(rss) if rss else float("nan")
        r["exec_max_kib"] = max(rss) if rss else float("nan")
        r["exec_total_kib"] = sum(rss)
        r["exec_pss_total_kib"] = sum(pss)

        # 3. replacement after SIGKILL of one task's process
        by_inst = {t["instance"]: t for t in j["tasks"]}
        victim = by_inst.get(0)
        procs = (victim or {}).get("processes") or []
        pid = procs[0].get("pid") if procs else None
        if pid and proc_comm(pid) == "sleep":
            old_id = victim["id"]
            kill_wall = time.time() * 1000.0
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)

            def replaced(jj):
                for t in jj["tasks"]:
                    if t["instance"] == 0:
                        return t["id"] != old_id and t["state"] == "RUNNING"
                return False
            t_end, j, _ = self.poll_until("instance 0 replaced and RUNNING", replaced, 60,
                                          counts=("RUNNING", self.n, "dip"))
            r["replace_s"] = t_end - t0
            new = [t for t in j["tasks"] if t["instance"] == 0][0]
            ts = self.event_ts(new, "RUNNING")
            r["replace_srv_s"] = (ts - kill_wall) / 1000.0 if ts else float("nan")
            # Where the time went, from the scheduler's events (ms after the kill).
            old = [t for t in j.get("history", []) if t["id"] == old_id]
            steps = []
            if old:
                for e in old[0].get("events", []):
                    if e["ts"] >= kill_wall - 1:
                        steps.append(f"old {e['state']} +{e['ts'] - kill_wall:.0f}")
            for e in new.get("events", []):
                steps.append(f"new {e['state']} +{e['ts'] - kill_wall:.0f}")
            r["replace_steps"] = ", ".join(steps)
            if new.get("executor_pid"):
                self.executor_pids.add(new["executor_pid"])
        else:
            self.say(f"replacement not measured: instance 0's process pid {pid} is not `sleep`"
                     f" ({proc_comm(pid) if pid else 'no pid'})")
            r["replace_s"] = r["replace_srv_s"] = float("nan")

        # 4. a rolling update of every instance to a new command line,
        #    BENCH_UPDATE_BATCH (5) at a time, watch_secs 0: the scheduler's
        #    update driver (kill, replace, RUNNING) end to end
        batch = env_int("BENCH_UPDATE_BATCH", 5, 1)
        newfile = os.path.join(self.tmp, "bench-v2.yaml")
        with open(jobfile) as f:
            text = f.read()
        with open(newfile, "w") as f:
            f.write(text.replace('cmdline: "exec sleep 100000"', 'cmdline: "exec sleep 100001"')
                    .replace("    service: true\n",
                             f"    service: true\n    update: {{batch_size: {batch}, watch_secs: 0}}\n"))
        wall0_upd = time.time() * 1000.0
        t0 = time.monotonic()
        cp = self.cli("update", "start", JOB_KEY, newfile)
        out, err = cp.communicate(timeout=60)
        if cp.returncode != 0:
            raise BenchError(f"`borealis update start` exited {cp.returncode}: {err.strip()}")

        def rolled(_j):
            st, body = self.api.json(f"/api/v1/jobs/{JOB_KEY}/updates/latest")
            return st == 200 and body["update"]["status"] not in (
                "ROLLING_FORWARD", "ROLL_FORWARD_AWAITING_PULSE")
        t_end, j, _ = self.poll_until("the rolling update to end", rolled, RUN_TIMEOUT_S * 4)
        st, body = self.api.json(f"/api/v1/jobs/{JOB_KEY}/updates/latest")
        if body["update"]["status"] != "ROLLED_FORWARD":
            raise BenchError(f"the rolling update ended {body['update']['status']}")
        r["update_s"] = t_end - t0
        r["update_batch"] = batch
        self.update_steps(j, wall0_upd)
        for t in j["tasks"]:
            if t.get("executor_pid"):
                self.executor_pids.add(t["executor_pid"])

        # 5. killall -> all KILLED
        wall0 = time.time() * 1000.0
        t0 = time.monotonic()
        cp = self.cli("job", "killall", JOB_KEY)
        t_end, j, cli_done = self.poll_until(f"{self.n} tasks KILLED",
                                             lambda j: self.all_state(j, "KILLED"), RUN_TIMEOUT_S, cp,
                                             counts=("KILLED", self.n))
        out, err = cp.communicate(timeout=60)
        if cp.returncode != 0:
            self.log_findings.append(f"`borealis job killall` exited {cp.returncode}: {err.strip()}")
        r["killall_s"] = t_end - t0
        kts = [self.event_ts(t, "KILLED") for t in j["tasks"]]
        kts = [x for x in kts if x is not None]
        r["killall_srv_s"] = (max(kts) - wall0) / 1000.0 if kts else float("nan")


# --------------------------------------------------------------------------
# output

def fmt(v, unit):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if unit == "s":
        return f"{v:.3f}"
    if unit == "ms":
        return f"{v * 1000:.0f}"
    if unit == "MiB":
        return f"{mib(v):.1f}"
    if unit == "load":
        return f"{v:.2f}"
    if unit == "KiB":
        return f"{v:.0f}"
    return str(v)


def table(title, cols, runs, say):
    """cols: (header, key, unit). One row per run, then the median."""
    rows = []
    for i, r in enumerate(runs, 1):
        rows.append([str(i)] + [fmt(r.get(k), u) for _h, k, u in cols])
    med = ["median"]
    for _h, k, u in cols:
        vals = [r[k] for r in runs if r.get(k) is not None and not (isinstance(r[k], float) and r[k] != r[k])]
        med.append(fmt(statistics.median(vals), u) if vals else "-")
    rows.append(med)
    heads = ["run"] + [h for h, _k, _u in cols]
    w = [max(len(heads[c]), *(len(row[c]) for row in rows)) for c in range(len(heads))]
    say("")
    say(title)
    say("  " + "  ".join(h.rjust(w[c]) if c else h.ljust(w[c]) for c, h in enumerate(heads)))
    say("  " + "  ".join("-" * w[c] for c in range(len(heads))))
    for row in rows:
        say("  " + "  ".join(x.rjust(w[c]) if c else x.ljust(w[c]) for c, x in enumerate(row)))


def machine_info():
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    commit = sh("git", "rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = sh("git", "status", "--porcelain", "--untracked-files=no", "--", "src", "Makefile")
    if dirty:
        commit += " (+ uncommitted changes in src/ or Makefile)"
    fs = sh("stat", "-fc", "%T", "/sys/fs/cgroup")
    if fs == "cgroup2fs":
        mode = "v2 (unified)"
    elif os.path.isdir("/sys/fs/cgroup/unified") and os.path.ismount("/sys/fs/cgroup/unified"):
        mode = "v1 hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
    else:
        mode = "v1"
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = proc_meminfo_total()
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"commit": commit, "nproc": os.cpu_count(), "kernel": platform.release(), "cgroup": mode,
            "cpu": cpu, "mem": mem, "os": os_name}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return float("nan")


def busy_others(mine):
    """Processes (not ours) using CPU right now, measured over 1 s."""
    def ticks():
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                name = st[st.index("(") + 1:st.rindex(")")]
                fields = st[st.rindex(")") + 2:].split()
                out[int(d)] = (name, int(fields[11]) + int(fields[12]))
            except (OSError, ValueError):
                pass
        return out
    a = ticks()
    time.sleep(1.0)
    b = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (name, t) in b.items():
        if pid in mine or pid not in a:
            continue
        cpu = (t - a[pid][1]) / hz
        if cpu >= 0.05:
            busy.append((cpu, pid, name))
    return sorted(busy, reverse=True)


def proc_meminfo_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# --------------------------------------------------------------------------

def main():
    n = env_int("BENCH_TASKS", 200, 1)
    runs_n = env_int("BENCH_RUNS", 3, 1)
    bindir = os.environ.get("BENCH_BIN") or os.path.join(ROOT, "bin")
    borealis = os.path.realpath(os.path.join(bindir, "borealis"))
    executor = os.path.realpath(os.path.join(bindir, "borealis-executor"))
    for p in (borealis, executor):
        if not os.access(p, os.X_OK):
            print(f"bench: {p} is missing: run `make` first", file=sys.stderr)
            return 1

    def say(msg=""):
        print(msg, flush=True)

    current = {"run": None}

    def on_signal(signo, _frame):
        raise KeyboardInterrupt(f"signal {signo}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    m = machine_info()
    say("Borealis benchmark (make bench)")
    cmd = "BENCH_PEER=swarm sh bench/run.sh (make bench-swarm)" if os.environ.get("BENCH_PEER") == "swarm" \
        else "make bench"
    image = " BENCH_IMAGE=1" if os.environ.get("BENCH_IMAGE") == "1" else ""
    say(f"  command : {cmd}   (BENCH_RUNS={runs_n} BENCH_TASKS={n}{image}; driver bench/run.sh -> bench/bench.py)")
    say(f"  commit  : {m['commit']}")
    say(f"  binaries: {borealis}{'  [SANITIZER BUILD: figures not representative]' if is_sanitized(borealis) else ''}")
    say(f"  machine : {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, {m['os']}, kernel {m['kernel']}")
    say(f"  cgroups : {m['cgroup']}")
    say(f"  date    : {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    say(f"  setup   : scheduler --sync full --flap-penalty 0 (Aurora's default 30 s flapping penalty")
    say(f"            would dominate the replacement time); one agent --cgroup-root {CGROUP_ROOT}")
    say(f"            --cleanup-on-exit; job: {n} instances of `exec sleep 100000`, cpu 0.001,")
    say(f"            ram 4MiB, disk 0, service; job summary polled every {POLL_S * 1000:.0f} ms")

    others = busy_others({os.getpid(), os.getppid()})
    if others:
        total = sum(c for c, _p, _n in others)
        say(f"  WARNING : other processes use {total:.1f} CPU(s) of {m['nproc']} right now: "
            + ", ".join(f"{n}[{p}] {c:.1f}" for c, p, n in others[:5]))
        say(f"            the figures below are disturbed by them")
    else:
        say(f"  load    : quiet (no other process used >= 5% CPU in 1 s before the runs)")
    if cgroup_dirs():
        say(f"note: cgroup {CGROUP_ROOT} exists before the run (left by an earlier run?): cleaning it")
        sweep_cgroups(say)

    results, findings = [], []
    rc = 0
    for i in range(1, runs_n + 1):
        run = Run(n, borealis, executor, say)
        current["run"] = run
        say(f"\nrun {i}/{runs_n}: scheduler on port {run.port}, temp dir {run.tmp}")
        ok = False
        try:
            run.start()
            run.measure()
            ok = True
        except BenchError as e:
            say(f"bench: run {i} failed: {e}")
            rc = 1
        except KeyboardInterrupt as e:
            say(f"bench: interrupted ({e}); cleaning up")
            rc = 130
        finally:
            run.stop()
            run.scan_logs()
            if not ok:
                for name in ("scheduler.log", "agent.log"):
                    say(f"  last lines of {name}:{run.tail(name)}")
            keep = os.environ.get("BENCH_KEEP_LOGS")
            if keep and run.tmp:
                # The daemons' logs, for a look at where the time went
                # (the agent logs each launch batch and start).
                os.makedirs(keep, exist_ok=True)
                for name in ("scheduler.log", "agent.log"):
                    src = os.path.join(run.tmp, name)
                    if os.path.exists(src):
                        shutil.copy(src, os.path.join(keep, f"run{i}-{name}"))
            run.remove_tmp()
        r = run.r
        if ok:
            results.append(r)
            say(f"  all {n} RUNNING after {r['run_s']:.3f} s (API); last RUNNING event "
                f"{r['srv_last_s']:.3f} s after created_ms; replacement {fmt(r.get('replace_s'), 's')} s; "
                f"killall {r['killall_s']:.3f} s; agent stop {fmt(r.get('agent_stop_s'), 's')} s")
            say(f"  events: every task STARTING by +{r['srv_last_starting_s'] * 1000:.0f} ms; "
                f"{r['n_late']} of {n} tasks RUNNING only >= 1 s after created_ms")
            if r.get("replace_steps"):
                say(f"  replacement events (ms after kill -9): {r['replace_steps']}")
        for f in run.log_findings:
            say(f"  ! {f}")
            findings.append(f"run {i}: {f}")
        if rc:
            break

    if results:
        table(f"Time (seconds; {n} tasks; median of {len(results)} run(s))", [
            ("submit->all RUNNING (API)", "run_s", "s"),
            ("CLI create returned", "cli_create_s", "s"),
            ("created->last STARTING ev", "srv_last_starting_s", "s"),
            ("created->last RUNNING ev", "srv_last_s", "s"),
            ("p50 task", "p50_s", "s"),
            ("p99 task", "p99_s", "s"),
            ("load1", "load1", "load"),
        ], results, say)
        table("Time, continued (seconds)", [
            ("replace after kill -9 (API)", "replace_s", "s"),
            ("(RUNNING ev)", "replace_srv_s", "s"),
            (f"rolling update, batch {env_int('BENCH_UPDATE_BATCH', 5, 1)}", "update_s", "s"),
            ("killall->all KILLED (API)", "killall_s", "s"),
            ("(last KILLED ev)", "killall_srv_s", "s"),
            ("agent stop (SIGTERM)", "agent_stop_s", "s"),
        ], results, say)
        table(f"Memory (MiB VmRSS; executors: {n} tasks)", [
            ("sched idle", "sched_idle_kib", "MiB"),
            (f"sched {n}", "sched_run_kib", "MiB"),
            ("agent idle", "agent_idle_kib", "MiB"),
            (f"agent {n}", "agent_run_kib", "MiB"),
            ("exec median", "exec_med_kib", "MiB"),
            ("exec max", "exec_max_kib", "MiB"),
            ("exec total", "exec_total_kib", "MiB"),
            ("exec total PSS", "exec_pss_total_kib", "MiB"),
        ], results, say)
        say("")
        say("  p50/p99 task: per task, RUNNING event ts - job created_ms (scheduler clock).")
        say("  created->last RUNNING ev: the same for the last task (server-side all-RUNNING).")
        say("  PSS shares the static executor's text pages among executors; RSS counts them in each.")
        say(f"  GET /api/v1/jobs/KEY with {n} tasks (read once a phase ends; the bench polls the summary): {results[-1]['get_bytes'] / 1024:.0f} KiB,"
            f" median {statistics.median(r['get_ms'] for r in results):.1f} ms per request.")
        say("  load1: /proc/loadavg when the run started (other work on the machine skews the figures).")
    if findings:
        say("\nObservations (logs, exit statuses, leftovers):")
        for f in findings:
            say(f"  - {f}")
    if os.environ.get("BENCH_JSON"):
        # For bench/compare.py (BENCH_PEER=swarm): every run's figures and
        # the conditions they were measured in.
        with open(os.environ["BENCH_JSON"], "w") as f:
            json.dump({"n": n, "image": os.environ.get("BENCH_IMAGE") == "1", "machine": m,
                       "others_cpu": sum(c for c, _p, _n in others), "runs": results}, f)
    left = cgroup_dirs()
    if left:
        say(f"bench: cgroups still present: {left}")
        rc = rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
