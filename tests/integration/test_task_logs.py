"""`borealis task logs` and `job logs`: a task's output read through the
scheduler from the agent that runs (or ran) it, with --tail, --follow
(across a rotation), instance prefixes, permissions and clear errors."""
import os
import select
import subprocess
import time

from conftest import BOREALIS, wait_for

BATCH = "local/www-data/devel/batch"
SERVICE = "local/www-data/devel/svc"


def job(name, cmdline, instances=1, service=False, processes=None):
    procs = processes or [("main", cmdline)]
    lines = "".join(f"""
        - name: {n}
          cmdline: "{cmd}"
""" for n, cmd in procs)
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: devel
    name: {name}
    instances: {instances}
    service: {"true" if service else "false"}
    task:
      resources: {{cpu: 0.05, ram: 16MiB, disk: 0}}
      processes:{lines}"""


def create(c, key, text, until="RUNNING"):
    r = c.cli("job", "create", key, c.job_file(text, key.split("/")[-1] + ".yaml"), "--wait-until", until)
    assert r.rc == 0, r


def sandbox(c, key, instance=0):
    return os.path.join(c.root, "agent", "sandboxes", c.tasks(key)[instance]["id"])


class Follower:
    """`task logs --follow` (or any CLI command) running, its output read
    as it comes."""

    def __init__(self, c, *args):
        env = dict(os.environ, BOREALIS_TOKEN_FILE=c.token_file, BOREALIS_CA=c.ca)
        self.p = subprocess.Popen([BOREALIS, "--scheduler", c.url] + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        self.out = b""

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {self.out!r}"
            ready, _, _ = select.select([self.p.stdout], [], [], left)
            if ready:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                assert chunk, f"the command ended before {text!r}: {self.out!r} {self.p.stderr.read()!r}"
                self.out += chunk
        return self.out.decode()

    def finish(self, timeout=60):
        out, err = self.p.communicate(timeout=timeout)
        self.out += out
        return self.p.returncode, self.out.decode(), err.decode()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


def test_logs_of_a_finished_task_with_tail_and_stderr(running):
    c = running
    create(c, BATCH, job("batch", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2"), "FINISHED")
    r = c.cli("task", "logs", BATCH + "/0")
    assert r.rc == 0, r
    assert r.out == "".join(f"line {i}\n" for i in range(1, 6)), r
    r = c.cli("task", "logs", BATCH + "/0", "--tail", "2")
    assert r.rc == 0 and r.out == "line 4\nline 5\n", r
    r = c.cli("task", "logs", BATCH + "/0", "main", "--stderr")
    assert r.rc == 0 and r.out == "oops\n", r
    r = c.cli("task", "logs", BATCH + "/0", "--tail", "0")
    assert r.rc == 0 and r.out == "", r
    # --follow of an ended task prints its log and stops.
    r = c.cli("task", "logs", BATCH + "/0", "--follow", "--tail", "1", timeout=60)
    assert r.rc == 0 and r.out == "line 5\n", r


def test_logs_of_a_running_task_and_follow_sees_new_lines(running):
    c = running
    create(c, SERVICE, job("svc", "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; "
                                  "exec sleep 600", service=True))
    r = c.cli("task", "logs", SERVICE + "/0")
    assert r.rc == 0 and r.out == "first\n", r
    f = Follower(c, "task", "logs", SERVICE + "/0", "--follow")
    try:
        f.wait_for("first\n")
        open(os.path.join(sandbox(c, SERVICE), "go"), "w").close()
        assert f.wait_for("second\n") == "first\nsecond\n"
        assert f.p.poll() is None  # still following the running task
    finally:
        f.stop()


def test_follow_goes_on_across_a_rotation(running):
    c = running
    # The process rotates its own log as a rotating logger would: rename,
    # then write to a new file of the same name; a pause between the two
    # makes the follower meet the moment with no log file (it waits).
    create(c, SERVICE, job("svc", "echo before; while [ ! -e go ]; do sleep 0.05; done; "
                                  "echo late-in-old; mv .logs/main/stdout .logs/main/stdout.1; sleep 0.3; "
                                  "exec >.logs/main/stdout; echo after; exec sleep 600", service=True))
    f = Follower(c, "task", "logs", SERVICE + "/0", "-f")
    try:
        f.wait_for("before\n")
        open(os.path.join(sandbox(c, SERVICE), "go"), "w").close()
        assert f.wait_for("after\n") == "before\nlate-in-old\nafter\n"
    finally:
        f.stop()


def test_job_logs_prefix_each_line_with_its_instance(running):
    c = running
    create(c, BATCH, job("batch", "echo hello {{instance}}; echo bye {{instance}}", instances=2), "FINISHED")
    r = c.cli("job", "logs", BATCH)
    assert r.rc == 0, r
    assert r.out == "0 | hello 0\n0 | bye 0\n1 | hello 1\n1 | bye 1\n", r
    r = c.cli("job", "logs", BATCH + "/1", "--tail", "1")
    assert r.rc == 0 and r.out == "1 | bye 1\n", r
    # A line that never ends is cut (64 KiB), every piece prefixed.
    create(c, "local/www-data/devel/long", job("long", "head -c 200000 /dev/zero | tr '\\\\0' x"), "FINISHED")
    r = c.cli("job", "logs", "local/www-data/devel/long")
    assert r.rc == 0, r
    lines = r.out.split("\n")
    assert lines[-1] == "" and all(line.startswith("0 | ") for line in lines[:-1]), r.out[:200]
    assert sum(len(line) - 4 for line in lines[:-1]) == 200000 and len(lines) > 3
    # Followed: interleaved as written, every line whole and prefixed.
    r = c.cli("job", "logs", BATCH, "--follow", timeout=60)
    assert r.rc == 0, r
    assert sorted(r.out.splitlines()) == ["0 | bye 0", "0 | hello 0", "1 | bye 1", "1 | hello 1"], r


def test_clear_errors_and_exit_codes(running):
    c = running
    create(c, BATCH, job("batch", "", processes=[("a", "echo a"), ("b", "echo b")]), "FINISHED")
    r = c.cli("task", "logs", BATCH + "/0")
    assert r.rc == 6 and "2 processes (a, b)" in r.err, r
    r = c.cli("task", "logs", BATCH + "/0", "b")
    assert r.rc == 0 and r.out == "b\n", r
    r = c.cli("task", "logs", BATCH + "/0", "nope")
    assert r.rc == 10 and "no process `nope`" in r.err, r
    r = c.cli("task", "logs", BATCH + "/0", "../a")
    assert r.rc == 6, r
    r = c.cli("task", "logs", BATCH + "/7")
    assert r.rc == 10 and "no instance 7" in r.err, r
    r = c.cli("task", "logs", BATCH)
    assert r.rc == 6 and "KEY/INSTANCE" in r.err, r
    r = c.cli("task", "logs", "local/www-data/devel/none/0")
    assert r.rc == 10 and "not found" in r.err, r
    # A task whose agent is down: said so, exit 4.
    c.stop(c.agent)
    r = c.cli("task", "logs", BATCH + "/0", "a")
    assert r.rc == 4 and "down" in r.err, r


def test_a_principal_without_the_role_cannot_read_logs(running):
    c = running
    create(c, BATCH, job("batch", "echo secret"), "FINISHED")
    r = c.cli("token", "create", "eve", "--role", "nobody")
    assert r.rc == 0, r
    path = os.path.join(c.root, "eve.token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(r.out.strip() + "\n")
    env = dict(os.environ, BOREALIS_TOKEN_FILE=path)
    for args in (["task", "logs", BATCH + "/0"], ["job", "logs", BATCH]):
        r = c.cli(*args, env=env)
        assert r.rc == 30 and "role `www-data`" in r.err and "secret" not in r.out, (args, r)
