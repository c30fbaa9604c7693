#!/usr/bin/python3
"""Borealis at scale (`make bench-scale`, issue 11): a real scheduler, many
simulated agents speaking the real agent protocol over real connections
(bench/scale_agents.c), jobs submitted through the real API.

  BENCH_SCALE_AGENTS=10000   simulated agents
  BENCH_SCALE_TASKS=100000   tasks of the big run (jobs of 1,000 instances)
  BENCH_SCALE_PHASES=...     comma list, default all: small,big,get,loss,restart,mix,churn
  BENCH_SCALE_CHURN_S=20     how long the churn phase changes things
  BENCH_SCALE_IDLE_S=3       how long the agents idle after registering (the
                             scheduler's CPU meanwhile is printed)
  BENCH_SCALE_MAX=50000      then the most agents one scheduler takes: that many
                             start at once (open file limits raised for both
                             processes), the run stops when all registered or
                             none more for 30 s; /health is timed meanwhile
  BENCH_BIN=DIR              where borealis is (default build/bin); the harness
                             is BENCH_SCALE_HARNESS (default DIR/../bench/scale_agents)

Phases (each figure printed in the table at the end):
  register   N agents connect and sync: time, scheduler RSS idle
  small      N tasks (jobs of 1,000) on N agents: submit -> all RUNNING
  big        TASKS tasks: submit -> all RUNNING, scheduler RSS and CPU
  get        GET of one 1,000-instance job, 100 times: p50/p99
  loss       a tenth of the agents die: until every task runs again
             (scheduler --agent-timeout 6s, --reschedule-rate 0)
  restart    kill -9 the scheduler with TASKS tasks: until the API serves,
             and until every agent synced again
  mix        jobs with a rack constraint, limit:1 per host and three shapes
  churn      jobs of 100 instances (one per 200 agents, 2 to 50) while, for
             BENCH_SCALE_CHURN_S, one thing after another changes: rolling
             updates, rolling restarts, instances killed and started again,
             jobs killed and created, 1% of the agents dying and coming back
             as fresh machines; then until every churn job runs all its
             instances on its newest config with no update active, and the
             simulated agents run exactly the tasks the scheduler counts

"All RUNNING" is counted by the scheduler (/metrics, borealis_tasks
RUNNING: it applies an update when it gets it), then, untimed, by the
simulated agents: every RUNNING update acked (held acks come with the
scheduler's next answer to the agent, a heartbeat later at most). The
harness checks every launch fits its agent (no
overcommit); it reports its own CPU apart from the scheduler's. Timing is
never a failure; the run exits 1 only when the cluster could not be set
up, a phase never completed, or an agent was overcommitted.

Also the smoke test (tests/integration/test_scale.py) drives this module
with a few agents and tasks.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class ScaleError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_ms(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0


def wait_for(what, pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise ScaleError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Api:
    def __init__(self, port, token_file):
        self.port = port
        self.token_file = token_file
        self.conn = None

    def request(self, method, path, body=None, timeout=60):
        with open(self.token_file) as f:
            headers = {"Authorization": "Bearer " + f.read().strip()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, raw
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def job_body(name, instances, cpu=0.1, ram=16 << 20, disk=0, constraints=None, cmdline="sleep 100000",
             update=None):
    task = {"resources": {"cpu": cpu, "ram": ram, "disk": disk},
            "processes": [{"name": "p", "cmdline": cmdline}]}
    job = {"cluster": "local", "role": "www-data", "environment": "devel", "name": name,
           "instances": instances, "service": True, "task": task}
    if constraints:
        job["constraints"] = constraints
    if update:
        job["update"] = update
    return job


class Cluster:
    """One scheduler and one harness process, both stopped by PID."""

    def __init__(self, bin_dir, harness, n_agents, sched_args=(), agent_args=(), say=print, nofile=None):
        self.bin = os.path.join(bin_dir, "borealis")
        self.harness_bin = harness
        self.n = n_agents
        self.sched_args = list(sched_args)
        self.agent_args = list(agent_args)
        self.say = say
        self.tmp = tempfile.mkdtemp(prefix="borealis-scale-")
        self.data = os.path.join(self.tmp, "s")
        self.port = free_port()
        self.sched = None
        self.harness = None
        self.api = Api(self.port, os.path.join(self.data, "admin.token"))
        self.sched_log_n = 0
        self.nofile = nofile  # raise RLIMIT_NOFILE of both processes to this (root)

    def _limits(self):
        if self.nofile:
            import resource
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
            except (ValueError, OSError):
                pass  # no CAP_SYS_RESOURCE: the hard limit bounds the run (printed)

    # -- scheduler
    def start_scheduler(self):
        self.sched_log_n += 1
        log = open(os.path.join(self.tmp, f"scheduler.{self.sched_log_n}.log"), "w")
        args = [self.bin, "scheduler", "--data-dir", self.data, "--port", str(self.port),
                "--insecure-listen-without-tls", "--sync", "normal",
                "--max-agents", str(max(self.n * 2, 100)),
                "--max-connections", str(max(self.n * 2 + 1000, 2000))] + self.sched_args
        self.sched = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      preexec_fn=self._limits)
        log.close()
        t0 = time.monotonic()
        wait_for("the scheduler's API", self.serving, 120, 0.01)
        return time.monotonic() - t0

    def serving(self):
        if self.sched.poll() is not None:
            raise ScaleError(f"scheduler exited {self.sched.returncode}: {self.log_tail()}")
        if not os.path.exists(self.api.token_file):
            return False
        try:
            st, _ = self.api.request("GET", "/api/v1/jobs?limit=1", timeout=5)
            return st == 200
        except (OSError, http.client.HTTPException):
            return False

    def startup_figures(self):
        """The restarted scheduler's own account of its start (its log line
        "serving N ms after start: store opened in N ms, loaded in N ms, the
        rest N ms"), or None."""
        try:
            with open(os.path.join(self.tmp, f"scheduler.{self.sched_log_n}.log"), errors="replace") as f:
                m = re.search(r"serving (\d+) ms after start: store opened in (\d+) ms, loaded in (\d+) ms, "
                              r"the rest (\d+) ms", f.read())
        except OSError:
            return None
        return tuple(int(x) for x in m.groups()) if m else None

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.tmp, f"scheduler.{self.sched_log_n}.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def sched_log(self):
        out = ""
        for i in range(1, self.sched_log_n + 1):
            try:
                with open(os.path.join(self.tmp, f"scheduler.{i}.log"), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def kill9_scheduler(self):
        self.api.close()
        self.sched.kill()
        self.sched.wait()

    # -- harness
    def start_harness(self):
        args = [self.harness_bin, "--port", str(self.port), "--agents", str(self.n)] + self.agent_args
        self.harness_err = open(os.path.join(self.tmp, "harness.err"), "w")
        self.harness = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.harness_err, text=True, bufsize=1, preexec_fn=self._limits)

    def cmd(self, line):
        if self.harness.poll() is not None:
            raise ScaleError(f"the harness exited {self.harness.returncode}: {self.harness_errors()}")
        self.harness.stdin.write(line + "\n")
        self.harness.stdin.flush()
        out = self.harness.stdout.readline()
        if not out:
            raise ScaleError(f"the harness stopped answering: {self.harness_errors()}")
        return json.loads(out)

    def stats(self):
        return self.cmd("stats")

    def harness_errors(self):
        try:
            with open(os.path.join(self.tmp, "harness.err"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.harness is not None and self.harness.poll() is None:
            try:
                self.harness.stdin.write("quit\n")
                self.harness.stdin.close()
                self.harness.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.harness.kill()
                self.harness.wait()
        if self.sched is not None and self.sched.poll() is None:
            self.sched.send_signal(signal.SIGTERM)
            try:
                self.sched.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.sched.kill()
                self.sched.wait()
        self.api.close()

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- workload helpers
    def submit(self, prefix, n_tasks, per_job=1000, **kw):
        """Jobs of per_job instances (the last one smaller) until n_tasks."""
        keys = []
        i = 0
        left = n_tasks
        while left > 0:
            k = min(per_job, left)
            name = f"{prefix}{i:04d}"
            st, raw = self.api.request("POST", "/api/v1/jobs", job_body(name, k, **kw))
            if st != 201:
                raise ScaleError(f"job create {name}: HTTP {st}: {raw[:300]!r}")
            keys.append(f"local/www-data/devel/{name}")
            left -= k
            i += 1
        return keys

    def metrics(self):
        """The scheduler's /metrics samples: {'name{labels}': value}."""
        st, raw = self.api.request("GET", "/metrics")
        if st != 200:
            raise ScaleError(f"GET /metrics: HTTP {st}")
        got = {}
        for line in raw.decode().splitlines():
            name, _, value = line.rpartition(" ")
            if name and not line.startswith("#"):
                got[name] = int(value)
        return got

    def metric(self, name):
        """One sample, e.g. 'borealis_tasks{state="RUNNING"}' (0 if absent)."""
        return self.metrics().get(name, 0)

    def store_counts(self):
        """(commits, puts) of the scheduler's store so far."""
        m = self.metrics()
        return m.get("borealis_store_commits_total", 0), m.get("borealis_store_puts_total", 0)

    def kill_jobs(self, keys):
        for k in keys:
            st, raw = self.api.request("POST", f"/api/v1/jobs/{k}/kill", {})
            if st != 200:
                raise ScaleError(f"job kill {k}: HTTP {st}: {raw[:300]!r}")

    def wait_running(self, n, timeout):
        """Until the scheduler counts n tasks RUNNING; then, untimed (the
        caller reads the clock before), until the agents had every ack."""
        wait_for(f"{n} tasks RUNNING at the scheduler",
                 lambda: self.metric('borealis_tasks{state="RUNNING"}') >= n, timeout, 0.02)
        t = time.monotonic()
        wait_for(f"{n} RUNNING updates acked to the simulated agents",
                 lambda: self.stats()["running_acked"] >= n, timeout, 0.05)
        return t


def run(bin_dir, harness, n_agents, n_tasks, phases, say=print, sched_args=(), agent_args=(), churn_s=20):
    """The phases in order; returns (figures dict, cluster log problems)."""
    fig = {}
    c = Cluster(bin_dir, harness, n_agents,
                sched_args=["--agent-timeout", "6s", "--reschedule-rate", "0"] + list(sched_args),
                agent_args=list(agent_args), say=say)
    try:
        c.start_scheduler()
        base_rss = proc_kib(c.sched.pid)
        t0 = time.monotonic()
        c.start_harness()
        wait_for(f"{n_agents} agents registered",
                 lambda: c.stats()["registered"] >= n_agents, 300, 0.05)
        fig["register_s"] = time.monotonic() - t0
        fig["register_sched_cpu_s"] = proc_cpu_ms(c.sched.pid) / 1000
        say(f"  {n_agents} agents registered in {fig['register_s']:.2f} s")
        # Idle: a few heartbeats with nothing to do.
        cpu0, i0 = proc_cpu_ms(c.sched.pid), time.monotonic()
        time.sleep(env_int("BENCH_SCALE_IDLE_S", 3))
        fig["idle_sched_cpu_pct"] = (proc_cpu_ms(c.sched.pid) - cpu0) / 10 / (time.monotonic() - i0)
        fig["rss_empty_mib"] = base_rss / 1024
        fig["rss_idle_agents_mib"] = proc_kib(c.sched.pid) / 1024
        if "small" in phases:
            n = n_agents
            cpu0, h0 = proc_cpu_ms(c.sched.pid), c.stats()
            t0 = time.monotonic()
            keys = c.submit("small", n)
            fig["small_submit_s"] = time.monotonic() - t0
            fig["small_running_s"] = c.wait_running(n, 600) - t0
            say(f"  {n} tasks RUNNING in {fig['small_running_s']:.2f} s")
            h1 = c.stats()
            fig["small_sched_cpu_s"] = (proc_cpu_ms(c.sched.pid) - cpu0) / 1000
            fig["small_harness_cpu_s"] = (h1["cpu_user_ms"] + h1["cpu_sys_ms"] - h0["cpu_user_ms"] - h0["cpu_sys_ms"]) / 1000
            c.kill_jobs(keys)
            wait_for("the small jobs' tasks killed", lambda: c.stats()["live_tasks"] == 0, 600, 0.05)
        if "big" in phases or "get" in phases or "loss" in phases or "restart" in phases:
            n = n_tasks
            cpu0, h0 = proc_cpu_ms(c.sched.pid), c.stats()
            store0 = c.store_counts()
            t0 = time.monotonic()
            keys = c.submit("big", n)
            fig["big_submit_s"] = time.monotonic() - t0
            fig["big_running_s"] = c.wait_running(n, 1800) - t0
            say(f"  {n} tasks RUNNING in {fig['big_running_s']:.2f} s")
            h1 = c.stats()
            fig["big_sched_cpu_s"] = (proc_cpu_ms(c.sched.pid) - cpu0) / 1000
            fig["big_harness_cpu_s"] = (h1["cpu_user_ms"] + h1["cpu_sys_ms"] - h0["cpu_user_ms"] - h0["cpu_sys_ms"]) / 1000
            store1 = c.store_counts()
            fig["big_store_commits"] = store1[0] - store0[0]
            fig["big_store_puts"] = store1[1] - store0[1]
            time.sleep(3)
            fig["rss_tasks_mib"] = proc_kib(c.sched.pid) / 1024
            if "get" in phases:
                times = []
                key = keys[len(keys) // 2]
                for _ in range(100):
                    g0 = time.monotonic()
                    st, raw = c.api.request("GET", f"/api/v1/jobs/{key}")
                    times.append((time.monotonic() - g0) * 1000)
                    if st != 200:
                        raise ScaleError(f"GET {key}: HTTP {st}")
                times.sort()
                fig["get_p50_ms"] = times[49]
                fig["get_p99_ms"] = times[98]
                fig["get_kib"] = len(raw) / 1024
            if "loss" in phases:
                lost = max(1, n_agents // 10)
                t0 = time.monotonic()
                c.cmd(f"stop 0 {lost}")
                # The scheduler notices, and replaces their tasks on the others.
                wait_for(f"{lost} agents lost", lambda: c.metric('borealis_agents{state="lost"}') >= lost, 600, 0.05)
                fig["loss_agents"] = lost
                fig["loss_replaced_s"] = c.wait_running(n, 600) - t0
                say(f"  {lost} agents lost, their tasks replaced in {fig['loss_replaced_s']:.2f} s")
                c.cmd(f"start 0 {lost}")
                wait_for("the lost agents back", lambda: c.stats()["registered"] >= n_agents, 300, 0.05)
            if "restart" in phases:
                c.kill9_scheduler()
                c.cmd("mark")
                t0 = time.monotonic()
                c.start_scheduler()
                fig["restart_serving_s"] = time.monotonic() - t0
                fig["restart_startup"] = c.startup_figures()
                wait_for("every agent synced with the restarted scheduler",
                         lambda: c.stats()["answered_since_mark"] >= n_agents, 600, 0.05)
                fig["restart_agents_s"] = time.monotonic() - t0
                # All of the new process's CPU: its start and the re-syncs.
                fig["restart_sched_cpu_s"] = proc_cpu_ms(c.sched.pid) / 1000
                say(f"  restarted: serving in {fig['restart_serving_s']:.2f} s, every agent synced in "
                    f"{fig['restart_agents_s']:.2f} s")
        if "mix" in phases:
            # Leave room: the big jobs go first.
            if "big" in phases:
                c.kill_jobs(keys)
                wait_for("the big jobs' tasks killed", lambda: c.stats()["live_tasks"] == 0, 600, 0.05)
            racks = {"attribute": "rack", "value": "r1,r2,r3,r4,r5"}
            one = {"attribute": "host", "value": "limit:1"}
            shapes = [(0.5, 1 << 30), (2.0, 4 << 30), (0.05, 64 << 20)]
            n_mix = min(n_agents, max(3, n_tasks // 10))
            per = n_mix // 3
            t0 = time.monotonic()
            mix_keys = []
            for i, (cpu, ram) in enumerate(shapes):
                cons = [one] if i == 0 else [racks] if i == 1 else None
                mix_keys += c.submit(f"mix{i}-", per, per_job=min(1000, per), cpu=cpu, ram=ram, constraints=cons)
            fig["mix_tasks"] = 3 * per
            fig["mix_running_s"] = c.wait_running(3 * per, 600) - t0
        if "churn" in phases:
            fig["churn"] = churn(c, n_agents, churn_s)
            say(f"  churn: {sum(fig['churn']['ops'].values())} changes in {fig['churn']['seconds']:.0f} s, "
                f"settled {fig['churn']['settle_s']:.2f} s after")
        fig["harness"] = c.stats()
        fig["sched_log"] = c.sched_log()
        return fig, c
    finally:
        c.stop()
        c.remove()  # also on errors: the messages carry the log's tail

ACTIVE_UPDATE = {"ROLLING_FORWARD", "ROLL_FORWARD_PAUSED", "ROLL_FORWARD_AWAITING_PULSE", "ROLLING_BACK",
                 "ROLL_BACK_PAUSED", "ROLL_BACK_AWAITING_PULSE"}


def churn(c, n_agents, seconds, seed=11, settle_timeout=600):
    """Change one thing after another for `seconds`, then wait until the
    cluster has settled; returns the figures. A refusal the API documents
    for a busy job (409: an update is active) is counted, not an error."""
    import random
    rnd = random.Random(seed)
    n_jobs = max(2, min(50, n_agents // 200))
    per = 100 if n_agents >= 200 else 10
    upd = {"batch_size": max(1, per // 5), "watch_secs": 0}
    jobs = {}  # name -> {"version": n, "instances": n}
    serial = 0

    def create():
        nonlocal serial
        name = f"churn{serial:04d}"
        serial += 1
        st, raw = c.api.request("POST", "/api/v1/jobs", job_body(name, per, update=upd, cmdline="sleep 100000 # v0"))
        if st != 201:
            raise ScaleError(f"job create {name}: HTTP {st}: {raw[:300]!r}")
        jobs[name] = {"version": 0}

    def post(name, what, body):
        st, raw = c.api.request("POST", f"/api/v1/jobs/local/www-data/devel/{name}/{what}", body)
        if st == 409:
            return False
        if st not in (200, 201):
            raise ScaleError(f"{what} of job {name}: HTTP {st}: {raw[:300]!r}")
        return True

    def some_instances():
        return sorted(rnd.sample(range(per), max(1, per // 10)))

    for _ in range(n_jobs):
        create()
    ops = {"update": 0, "restart": 0, "kill+start": 0, "job kill+create": 0, "agents die+return": 0, "refused": 0}
    dead = None  # (first, last) of the agents stopped now
    to_start = []  # (job, instances) killed, to start again
    cpu0 = proc_cpu_ms(c.sched.pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        op = rnd.choice(list(ops)[:5])
        name = rnd.choice(sorted(jobs))
        ok = True
        if op == "update":
            v = jobs[name]["version"] + 1
            ok = post(name, "updates", {"config": job_body(name, per, update=upd, cmdline=f"sleep 100000 # v{v}")})
            if ok:
                jobs[name]["version"] = v
        elif op == "restart":
            ok = post(name, "restart", {"batch_size": upd["batch_size"], "watch_secs": 0})
        elif op == "kill+start":
            inst = some_instances()
            ok = post(name, "kill", {"instances": inst})
            if ok:
                to_start.append((name, inst))
        elif op == "job kill+create":
            ok = post(name, "kill", {})
            if ok:
                del jobs[name]
                create()
        elif dead:
            c.cmd(f"start {dead[0]} {dead[1]}")
            dead = None
        else:
            k = max(1, n_agents // 100)
            first = rnd.randrange(0, n_agents - k + 1)
            dead = (first, first + k)
            c.cmd(f"stop {dead[0]} {dead[1]}")
        ops[op if ok else "refused"] += 1
        # Killed instances start again (an update of their own: refused
        # while another update of the job is active, so retried).
        to_start[:] = [(n, i) for n, i in to_start if n in jobs and not post(n, "start", {"instances": i})]
        time.sleep(0.05)
    if dead:
        c.cmd(f"start {dead[0]} {dead[1]}")
    while to_start:
        to_start[:] = [(n, i) for n, i in to_start if n in jobs and not post(n, "start", {"instances": i})]
        time.sleep(0.1)
    t1 = time.monotonic()

    def settled():
        for name, j in jobs.items():
            key = f"local/www-data/devel/{name}"
            st, raw = c.api.request("GET", f"/api/v1/jobs/{key}")
            if st != 200:
                return False
            d = json.loads(raw)
            want = f"sleep 100000 # v{j['version']}"
            if len(d["tasks"]) != per or any(t["state"] != "RUNNING" for t in d["tasks"]):
                return False
            if d["config"]["task"]["processes"][0]["cmdline"] != want:
                return False
            st, raw = c.api.request("GET", f"/api/v1/jobs/{key}/updates/latest")
            if st == 200 and json.loads(raw)["update"]["status"] in ACTIVE_UPDATE:
                return False
        return True

    wait_for("the churn jobs settled", settled, settle_timeout, 0.2)
    fig = {"jobs": len(jobs), "instances": per, "ops": ops, "seconds": t1 - t0,
           "settle_s": time.monotonic() - t1, "sched_cpu_s": (proc_cpu_ms(c.sched.pid) - cpu0) / 1000,
           "rss_mib": proc_kib(c.sched.pid) / 1024}

    # Nothing leaked: the agents run exactly the tasks the scheduler has
    # live (a killed task the agents kept, or one launched twice, shows).
    def counted():
        n, after = 0, None
        while True:
            st, raw = c.api.request("GET", "/api/v1/jobs?limit=5000" + (f"&after={after}" if after else ""))
            if st != 200:
                raise ScaleError(f"GET /api/v1/jobs: HTTP {st}")
            d = json.loads(raw)
            n += sum(v for j in d["jobs"] for s, v in j["task_counts"].items()
                     if s in ("RUNNING", "STARTING", "ASSIGNED", "KILLING"))
            after = d.get("next")
            if not after:
                return n
    wait_for("the agents to run exactly the tasks the scheduler counts",
             lambda: c.stats()["live_tasks"] == counted(), settle_timeout, 0.2)
    fig["live_tasks"] = c.stats()["live_tasks"]
    return fig


def max_agents(bin_dir, harness, target, say=print):
    """Start `target` agents at once against one scheduler; returns the
    figures of how far it got."""
    fig = {"target": target}
    c = Cluster(bin_dir, harness, target, say=say, nofile=target * 2 + 8192)
    try:
        c.start_scheduler()
        t0 = time.monotonic()
        c.start_harness()
        best, best_at, health = 0, time.monotonic(), []
        while True:
            s = c.stats()
            if s["registered"] > best:
                best, best_at = s["registered"], time.monotonic()
            h0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
            health.append((time.monotonic() - h0) * 1000 if ok else None)
            if best >= target or time.monotonic() - best_at > 30:
                break
            time.sleep(1)
        with open(f"/proc/{c.sched.pid}/limits") as f:
            fig["nofile"] = next(l.split()[3] for l in f if l.startswith("Max open files"))
        fig["registered"] = best
        fig["seconds"] = best_at - t0
        fig["rss_mib"] = proc_kib(c.sched.pid) / 1024
        answered = [h for h in health if h is not None]
        fig["health_failed"] = len(health) - len(answered)
        fig["health_max_ms"] = max(answered) if answered else float("nan")
        fig["budget_lines"] = c.sched_log().count("connection budget reached")
        fig["harness"] = c.stats()
        return fig
    finally:
        c.stop()
        c.remove()


def env_int(name, default):
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        print(f"bench-scale: {name}={raw!r} is not an integer", file=sys.stderr)
        sys.exit(2)


def machine(bin_dir):
    # The commit of the checkout the binaries were built in (not of the
    # one this script runs from), "-dirty" if it has uncommitted changes.
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=bin_dir).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return (f"commit {sh('git', 'describe', '--always', '--abbrev=12', '--dirty')}, {os.cpu_count()} CPUs ({cpu}), "
            f"kernel {os.uname().release}, load {load} at start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main():
    bin_dir = os.path.abspath(os.environ.get("BENCH_BIN", os.path.join(ROOT, "build", "bin")))
    harness = os.environ.get("BENCH_SCALE_HARNESS", os.path.join(os.path.dirname(bin_dir), "bench", "scale_agents"))
    n_agents = env_int("BENCH_SCALE_AGENTS", 10000)
    n_tasks = env_int("BENCH_SCALE_TASKS", 100000)
    phases = set(os.environ.get("BENCH_SCALE_PHASES", "small,big,get,loss,restart,mix,churn").split(","))
    churn_s = env_int("BENCH_SCALE_CHURN_S", 20)
    print(f"bench-scale: {n_agents} simulated agents, {n_tasks} tasks; {machine(bin_dir)}", flush=True)
    try:
        fig, c = run(bin_dir, harness, n_agents, n_tasks, phases,
                     say=lambda m: print(m, flush=True), churn_s=churn_s)
    except ScaleError as e:
        print(f"bench-scale: {e}", file=sys.stderr)
        return 1
    h = fig["harness"]
    rows = [
        ("register", f"{n_agents} agents", f"{fig['register_s']:.2f} s (CPU scheduler {fig['register_sched_cpu_s']:.1f} s)"),
        ("idle agents", f"{n_agents} agents", f"scheduler CPU {fig['idle_sched_cpu_pct']:.0f}% of a core"),
        ("scheduler RSS", "empty / idle agents", f"{fig['rss_empty_mib']:.0f} / {fig['rss_idle_agents_mib']:.0f} MiB"),
    ]
    if "small_running_s" in fig:
        rows.append(("submit -> all RUNNING", f"{n_agents} tasks",
                     f"{fig['small_running_s']:.2f} s (create {fig['small_submit_s']:.2f} s; CPU scheduler "
                     f"{fig['small_sched_cpu_s']:.1f} s, harness {fig['small_harness_cpu_s']:.1f} s)"))
    if "big_running_s" in fig:
        rows.append(("submit -> all RUNNING", f"{n_tasks} tasks",
                     f"{fig['big_running_s']:.2f} s = {n_tasks / fig['big_running_s']:.0f}/s (create "
                     f"{fig['big_submit_s']:.2f} s; CPU scheduler {fig['big_sched_cpu_s']:.1f} s, harness "
                     f"{fig['big_harness_cpu_s']:.1f} s)"))
        rows.append(("store writes", f"{n_tasks} tasks",
                     f"{fig['big_store_puts']} puts = {fig['big_store_puts'] / n_tasks:.2f}/task, "
                     f"{fig['big_store_commits']} commits"))
        rows.append(("scheduler RSS", f"{n_tasks} tasks", f"{fig['rss_tasks_mib']:.0f} MiB"))
    if "get_p99_ms" in fig:
        rows.append(("GET 1,000-instance job", f"at {n_tasks} tasks",
                     f"p50 {fig['get_p50_ms']:.1f} ms, p99 {fig['get_p99_ms']:.1f} ms ({fig['get_kib']:.0f} KiB)"))
    if "loss_replaced_s" in fig:
        rows.append(("agents lost -> replaced", f"{fig['loss_agents']} of {n_agents}",
                     f"{fig['loss_replaced_s']:.2f} s (--agent-timeout 6s, --reschedule-rate 0)"))
    if "restart_serving_s" in fig:
        su = fig.get("restart_startup")
        rows.append(("kill -9 -> API serving", f"{n_tasks} tasks", f"{fig['restart_serving_s']:.2f} s" + (
            f" (scheduler: serving {su[0]} ms after its start; store opened {su[1]} ms, loaded {su[2]} ms, "
            f"the rest {su[3]} ms)" if su else "")))
        rows.append(("kill -9 -> agents synced", f"{n_agents} agents", f"{fig['restart_agents_s']:.2f} s (CPU of the "
                     f"restarted scheduler until then {fig['restart_sched_cpu_s']:.1f} s)"))
    if "mix_running_s" in fig:
        rows.append(("mix -> all RUNNING", f"{fig['mix_tasks']} tasks",
                     f"{fig['mix_running_s']:.2f} s (limit:1 per host, rack constraint, 3 shapes)"))
    if "churn" in fig:
        ch = fig["churn"]
        done = ", ".join(f"{v} {k}" for k, v in ch["ops"].items() if k != "refused")
        rows.append(("churn -> settled", f"{ch['jobs']} jobs x {ch['instances']}",
                     f"{ch['settle_s']:.2f} s after {ch['seconds']:.0f} s of changes ({done}; {ch['ops']['refused']} "
                     f"refused: update active); CPU scheduler {ch['sched_cpu_s']:.1f} s, RSS {ch['rss_mib']:.0f} MiB, "
                     f"{ch['live_tasks']} tasks on the agents = the scheduler's count"))
    rows.append(("harness", "own CPU / RSS",
                 f"{(h['cpu_user_ms'] + h['cpu_sys_ms']) / 1000:.1f} s / {h['rss_kib'] / 1024:.0f} MiB, "
                 f"{h['requests']} syncs, {h['http_errors']} HTTP errors, {h['conn_errors']} connection errors"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print()
    for r in rows:
        print(f"  {r[0].ljust(w0)}  {r[1].ljust(w1)}  {r[2]}")
    target = env_int("BENCH_SCALE_MAX", 0)
    if target > 0:
        try:
            m = max_agents(bin_dir, harness, target, say=lambda msg: print(msg, flush=True))
        except ScaleError as e:
            print(f"bench-scale: max agents: {e}", file=sys.stderr)
            return 1
        print(f"  {'most agents'.ljust(w0)}  {('of ' + str(target)).ljust(w1)}  {m['registered']} registered in "
              f"{m['seconds']:.1f} s, scheduler RSS {m['rss_mib']:.0f} MiB, /health max {m['health_max_ms']:.0f} ms "
              f"({m['health_failed']} failed), {m['budget_lines']} budget log lines, {m['harness']['http_errors']} "
              f"syncs refused; open file limit {m['nofile']}")
    if h["overcommits"]:
        print(f"bench-scale: {h['overcommits']} launches overcommitted an agent", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
