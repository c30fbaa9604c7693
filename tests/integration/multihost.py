"""A multi-host harness: one scheduler and N agents, each agent in its own
network namespace with its own address, joined by a bridge, so scheduler
and agent traffic crosses a real network boundary.

    with Hosts(n=3) as h:
        h.start_scheduler()
        h.start_agents()
        h.cut(1)        # the host's link goes down: it is partitioned
        h.restore(1)
        h.kill9(2)      # the machine dies with its agent
        h.restart(2)

Layout (X is a free subnet picked per harness, 10.231.X.0/24):

    host namespace: bridge borbr<id> 10.231.X.1   <- scheduler listens here
      veth borv<id>h<k>  ==  eth0 in netns bor-<id>-h<k>  10.231.X.(10+k)
                                   agent k: nsenter --net=... borealis agent

Each namespace is held by a process (`unshare --net sleep`, killed with
the harness, by PDEATHSIG if the harness dies) and named by its
/proc/PID/ns/net, never by `ip netns add`: that mounts a file under
/run/netns, and `ip -n` / `ip netns exec` remount / and /sys, which fails
in a chroot and would leak mounts to the host from one. Agents and
commands enter only the network namespace (nsenter --net), so they keep
the host's mounts and see the cgroup hierarchy. Every namespace, link,
process and cgroup made here is removed on exit, also when a test fails;
names carry the creating pid so a sweep can find leftovers of a harness
whose process died.
"""
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import ssl
import urllib.request

from conftest import BOREALIS, EXECUTOR, cgroups_left, pid_alive, typical_fd_limit, wait_for


def every_cgroup(root_name):
    """Directories named root_name, and all below them, in every mounted
    cgroup hierarchy (v1 controllers, the hybrid's unified one, or v2)."""
    found = []
    bases = ["/sys/fs/cgroup"] + [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")
                                  if os.path.isdir(os.path.join("/sys/fs/cgroup", d))
                                  and not os.path.islink(os.path.join("/sys/fs/cgroup", d))]
    for base in bases:
        top = os.path.join(base, root_name)
        for dirpath, _, _ in os.walk(top):
            found.append(dirpath)
    return found

PREFIX = "bor"


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def die_with_parent():
    """preexec_fn: SIGKILL this process when the harness's process dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def used_subnets():
    out = sh("ip", "-o", "-4", "addr", "show").stdout
    nets = set()
    for line in out.splitlines():
        for word in line.split():
            if "/" in word and word[0].isdigit():
                nets.add(ipaddress.ip_interface(word).network)
    return nets


def sweep_stale():
    """Remove links of harnesses whose process is gone (their namespaces'
    holders died with them)."""
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX + "br") or name.startswith(PREFIX + "v"):
            pid = "".join(ch for ch in name[len(PREFIX) + 2:] if ch.isdigit()) if name.startswith(PREFIX + "br") \
                else name[len(PREFIX) + 1:].split("h")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                sh("ip", "link", "del", name, check=False)


class Host:
    def __init__(self, harness, k):
        self.k = k
        self.name = f"h{k}"
        self.holder = None  # the process that holds the network namespace
        self.veth = f"{PREFIX}v{harness.id}h{k}"
        self.addr = str(harness.net.network_address + 10 + k)
        self.data_dir = os.path.join(harness.root, self.name)
        self.cgroup_root = f"borealis-mh-{harness.id}-{self.name}"
        self.port_lo = 30000 + k * 100
        self.proc = None
        self.extra_args = []  # set_agent_args
        self.log_path = os.path.join(harness.root, f"agent-{self.name}.log")

    @property
    def netns(self):
        return f"/proc/{self.holder.pid}/ns/net"

    def run(self, *args):
        """argv run in this host's network namespace only."""
        return ["nsenter", f"--net={self.netns}"] + list(args)


class Hosts:
    def __init__(self, n=3, scheduler_args=(), agent_args=()):
        self.id = os.getpid() % 100000
        self.n = n
        self.root = tempfile.mkdtemp(prefix="borealis-mh-")
        self.scheduler_args = list(scheduler_args)
        self.agent_args = list(agent_args)
        self.bridge = f"{PREFIX}br{self.id}"
        self.sched = None
        self.hosts = []
        self.net = None
        self.port = 8081

    # -- network ----------------------------------------------------------
    def __enter__(self):
        sweep_stale()
        try:
            self._make_network()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close(failed=exc[0] is not None)
        return False

    def _make_network(self):
        used = used_subnets()
        for x in range(1, 255):
            net = ipaddress.ip_network(f"10.231.{x}.0/24")
            if not any(net.overlaps(u) for u in used):
                self.net = net
                break
        else:
            raise RuntimeError("no free 10.231.X.0/24 subnet for the harness")
        self.sched_addr = str(self.net.network_address + 1)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.sched_addr}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for k in range(1, self.n + 1):
            h = Host(self, k)
            self.hosts.append(h)
            h.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"], stdin=subprocess.DEVNULL,
                                        preexec_fn=die_with_parent)
            wait_for(f"{h.name}'s network namespace",
                     lambda: os.readlink(h.netns) != os.readlink("/proc/self/ns/net"), timeout=10)
            sh("ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", str(h.holder.pid))
            sh("ip", "link", "set", h.veth, "master", self.bridge)
            sh("ip", "link", "set", h.veth, "up")
            sh(*h.run("ip", "addr", "add", f"{h.addr}/24", "dev", "eth0"))
            sh(*h.run("ip", "link", "set", "eth0", "up"))
            sh(*h.run("ip", "link", "set", "lo", "up"))

    @property
    def url(self):
        return f"https://{self.sched_addr}:{self.port}"

    @property
    def ca(self):
        return os.path.join(self.root, "scheduler", "tls", "ca.pem")

    def host(self, k):
        return self.hosts[k - 1]

    # -- daemons ----------------------------------------------------------
    def start_scheduler(self, keep_port=False):
        from conftest import free_port
        if not keep_port:
            self.port = free_port()
        log = open(os.path.join(self.root, "scheduler.log"), "ab")
        self.sched = subprocess.Popen(
            [BOREALIS, "scheduler", "--data-dir", os.path.join(self.root, "scheduler"),
             "--listen", self.sched_addr, "--port", str(self.port), "--sync", "normal"]
            + self.scheduler_args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_for("scheduler /health", lambda: self._health(), timeout=20)

    def _health(self):
        r = self.cli("job", "list", check=False)
        return r.returncode == 0

    def start_agent(self, k):
        h = self.host(k)
        log = open(h.log_path, "ab")
        h.proc = subprocess.Popen(
            h.run(BOREALIS, "agent", "--data-dir", h.data_dir, "--scheduler", self.url,
             "--executor", EXECUTOR, "--hostname", h.name, "--cgroup-root", h.cgroup_root,
             # Joins over the bridge: the CA is fetched and checked against
             # the fingerprint in the token, then mutual TLS.
             "--join-token-file", os.path.join(self.root, "scheduler", "tls", "join-token"),
             "--cleanup-on-exit", "--port-range", f"{h.port_lo}-{h.port_lo + 99}",
             "--cpu", "4", "--ram", "4GiB", "--disk", "4GiB") + self.agent_args + h.extra_args,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=typical_fd_limit)

    def start_agents(self):
        for h in self.hosts:
            self.start_agent(h.k)
        wait_for(f"{self.n} agents up", lambda: len(self.agents_up()) == self.n, timeout=30)

    def agents(self):
        return self.api("/api/v1/agents")["agents"]

    def agents_up(self):
        return sorted(a["hostname"] for a in self.agents() if a["state"] == "up")

    def kill9(self, k):
        """The machine dies: its agent and every task it started."""
        h = self.host(k)
        h.proc.send_signal(signal.SIGKILL)
        h.proc.wait(timeout=10)
        for pid in self._task_pids(h):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop_agent(self, k, timeout=60):
        h = self.host(k)
        if h.proc and h.proc.poll() is None:
            h.proc.send_signal(signal.SIGTERM)
            try:
                h.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                h.proc.kill()
                h.proc.wait()
                raise AssertionError(f"agent {h.name} ignored SIGTERM for {timeout}s")
        return h.proc.returncode if h.proc else None

    def cut(self, k):
        """The host's link goes down: the machine keeps running, unreachable."""
        sh("ip", "link", "set", self.host(k).veth, "down")

    def restore(self, k):
        sh("ip", "link", "set", self.host(k).veth, "up")

    def _task_pids(self, h):
        """Every process in the host's task cgroups."""
        pids = set()
        for d in cgroups_left(h.cgroup_root):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        return pids

    # -- faults of the scheduler and agents (chaos, failover) ----------------
    def kill9_scheduler(self):
        """The scheduler's machine dies: SIGKILL, no goodbye."""
        self.sched.send_signal(signal.SIGKILL)
        self.sched.wait(timeout=10)

    def restart_scheduler(self):
        """Start the scheduler again on its data dir and port (the agents
        keep their URL)."""
        self.start_scheduler(keep_port=True)

    def scheduler_alive(self):
        return self.sched is not None and self.sched.poll() is None

    def restart_agent(self, k):
        """A clean agent restart (SIGTERM, then start): its tasks are
        killed and rescheduled without penalty."""
        self.stop_agent(k)
        self.start_agent(k)

    def revive(self, k):
        """Start the agent of a host killed with kill9 again (same data dir:
        its journal tells it what it ran)."""
        self.start_agent(k)

    def set_agent_args(self, k, args):
        """More flags for host k's agent (e.g. its --attribute), from its
        next start on."""
        self.host(k).extra_args = list(args)

    def agent_state(self, name):
        return {a["hostname"]: a["state"] for a in self.agents()}.get(name)

    def write_job(self, key, text):
        path = os.path.join(self.root, key.replace("/", "_") + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def log(self, name="scheduler"):
        with open(os.path.join(self.root, name + ".log"), errors="replace") as f:
            return f.read()

    # -- API and CLI -------------------------------------------------------
    @property
    def token_file(self):
        """The admin token the scheduler writes on its first start."""
        return os.path.join(self.root, "scheduler", "admin.token")

    def cli(self, *args, check=True, timeout=120):
        r = subprocess.run([BOREALIS, "--scheduler", self.url] + list(args), capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, BOREALIS_TOKEN_FILE=self.token_file, BOREALIS_CA=self.ca))
        if check and r.returncode != 0:
            raise AssertionError(f"borealis {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def api(self, path):
        with open(self.token_file) as f:
            token = f.read().strip()
        req = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer " + token})
        ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return json.loads(r.read())

    def tasks(self, key):
        return {t["instance"]: t for t in self.api("/api/v1/jobs/" + key)["tasks"]}

    def live_copies(self, key):
        """instance -> number of hosts where a process of that instance of
        job `key` is alive, read from the machines' task cgroups (named by
        task id, ROLE-ENV-NAME-INSTANCE-UUID), not from the scheduler."""
        role, env, name = key.split("/")[1:]
        prefix = f"{role}-{env}-{name}-"
        counts = {}
        for h in self.hosts:
            for d in cgroups_left(h.cgroup_root):
                task_id = os.path.basename(d)
                if not task_id.startswith(prefix):
                    continue
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        alive = any(pid_alive(int(p)) for p in f.read().split())
                except OSError:
                    continue
                if alive:
                    inst = int(task_id[len(prefix):].split("-")[0])
                    counts.setdefault(inst, set()).add(h.name)
        return {i: len(hs) for i, hs in counts.items()}

    # -- teardown -----------------------------------------------------------
    def close(self, failed=False):
        problems = []
        for h in self.hosts:
            try:
                self.restore(h.k)
            except Exception:
                pass
            try:
                rc = self.stop_agent(h.k)
                if rc not in (0, None, -9):
                    problems.append(f"agent {h.name} exited {rc}")
            except AssertionError as e:
                problems.append(str(e))
            for pid in self._task_pids(h):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            # A host killed with SIGKILL cleaned nothing: its root is in
            # every hierarchy the runtime made it in (blkio, cpuset,
            # devices, the hybrid's unified one...), not only those the
            # agent checks, so sweep them all.
            for d in sorted(every_cgroup(h.cgroup_root), key=len, reverse=True):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        if self.sched and self.sched.poll() is None:
            self.sched.send_signal(signal.SIGTERM)
            try:
                self.sched.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.sched.kill()
                self.sched.wait()
                problems.append("scheduler ignored SIGTERM")
        for h in self.hosts:
            if h.holder:
                h.holder.kill()
                h.holder.wait()
            sh("ip", "link", "del", h.veth, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        if failed or problems:
            for name in sorted(os.listdir(self.root)):
                if name.endswith(".log"):
                    with open(os.path.join(self.root, name), errors="replace") as f:
                        print(f"==== {name} ====\n" + f.read()[-4000:])
        shutil.rmtree(self.root, ignore_errors=True)
        if problems and not failed:
            raise AssertionError("; ".join(problems))
