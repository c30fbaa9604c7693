"""A task's processes as Thermos runs them, through the CLI with the real
scheduler, agent and executor: ordering (`after`, cycles refused at
create), reruns (max_failures, min_duration, daemon), ephemeral and final
processes (docs/jobs.md "Processes")."""
import os

from conftest import wait_for


def job(name, processes, extra="", service=False):
    return f"""
jobs:
  - cluster: local
    role: www-data
    environment: test
    name: {name}
    service: {'true' if service else 'false'}
    task:
      resources: {{cpu: 0.1, ram: 16MiB, disk: 0}}
{extra}      processes:
{processes}
"""


def sandbox_of(c, key):
    task = wait_for("the task", lambda: c.tasks(key).get(0))
    return os.path.join(c.root, "agent", "sandboxes", task["id"])


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_b_after_a_sees_its_output(running):
    c = running
    key = "local/www-data/test/order"
    procs = """        - name: b
          cmdline: "cat a.out > b.out"
          after: [a]
        - name: a
          cmdline: "sleep 0.3; echo from-a > a.out"
"""
    r = c.cli("job", "create", key, c.job_file(job("order", procs)), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    assert read(os.path.join(sandbox_of(c, key), "b.out")) == "from-a\n"


def test_a_cycle_is_refused_at_create_with_the_cycle_named(running):
    c = running
    key = "local/www-data/test/cycle"
    procs = """        - name: a
          cmdline: "true"
          after: [b]
        - name: b
          cmdline: "true"
          after: [a]
"""
    r = c.cli("job", "create", key, c.job_file(job("cycle", procs)))
    assert r.rc != 0, r
    assert "task.processes: a cycle a -> b -> a" in r.err, r
    unknown = """        - name: a
          cmdline: "true"
          after: [nosuch]
"""
    r = c.cli("job", "create", key, c.job_file(job("cycle", unknown)))
    assert r.rc != 0, r
    assert "task.processes[0].after[0]: unknown process `nosuch`" in r.err, r
    # Sequential ordering is a chain of `after`: going back closes a cycle.
    backwards = """        - name: a
          cmdline: "true"
          after: [b]
        - name: b
          cmdline: "true"
"""
    r = c.cli("job", "create", key, c.job_file(job("cycle", backwards, extra="      ordering: sequential\n")))
    assert r.rc != 0, r
    assert "a cycle" in r.err, r


def test_max_failures_reruns_then_fails_the_task(running):
    c = running
    key = "local/www-data/test/reruns"
    procs = """        - name: flaky
          cmdline: "echo run >> runs; exit 3"
          max_failures: 3
          min_duration: 200ms
"""
    r = c.cli("job", "create", key, c.job_file(job("reruns", procs)), "--wait-until", "FINISHED")
    assert r.rc == 4, r  # ended, not FINISHED
    task = c.all_tasks(job=key)[0]
    assert task["state"] == "FAILED"
    assert "process `flaky` exited with status 3" in task["message"]
    sandbox = os.path.join(c.root, "agent", "sandboxes", task["id"])
    assert read(os.path.join(sandbox, "runs")) == "run\n" * 3


def test_a_failing_process_reruns_until_it_succeeds_no_sooner_than_min_duration(running):
    c = running
    key = "local/www-data/test/retry"
    # Each run records when it started; the third succeeds.
    procs = """        - name: retry
          cmdline: "date +%s%N >> starts; [ $(wc -l < starts) -ge 3 ]"
          max_failures: 0
          min_duration: 1s
"""
    r = c.cli("job", "create", key, c.job_file(job("retry", procs)), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    starts = [int(x) for x in read(os.path.join(sandbox_of(c, key), "starts")).split()]
    assert len(starts) == 3
    # min_duration is a lower bound the executor guarantees from one start to
    # the next (less what fork and exec take before `date` runs).
    assert all(b - a >= 900_000_000 for a, b in zip(starts, starts[1:])), starts


def test_a_daemon_reruns_after_success(running):
    c = running
    key = "local/www-data/test/daemon"
    procs = """        - name: tick
          cmdline: "echo tick >> ticks"
          daemon: true
          min_duration: 100ms
"""
    r = c.cli("job", "create", key, c.job_file(job("daemon", procs, service=True)), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    ticks = os.path.join(sandbox_of(c, key), "ticks")
    wait_for("three runs of the daemon", lambda: (read(ticks) or "").count("tick") >= 3)
    assert c.tasks(key)[0]["state"] == "RUNNING"
    r = c.cli("job", "killall", key)
    assert r.rc == 0, r
    wait_for("job killed", lambda: c.job(key)["job"]["state"] == "killed")


def test_an_ephemeral_process_does_not_keep_the_task_alive(running):
    c = running
    key = "local/www-data/test/ephemeral"
    procs = """        - name: main
          cmdline: "echo done > main.out"
        - name: sidecar
          cmdline: "exec sleep 100000"
          ephemeral: true
"""
    r = c.cli("job", "create", key, c.job_file(job("ephemeral", procs)), "--wait-until", "FINISHED")
    assert r.rc == 0, r
    task = c.all_tasks(job=key)[0]
    assert task["state"] == "FINISHED"
    states = {p["name"]: p["state"] for p in task["processes"]}
    assert states == {"main": "SUCCESS", "sidecar": "KILLED"}, task


def test_a_final_process_runs_after_job_kill(running):
    c = running
    key = "local/www-data/test/final"
    procs = """        - name: main
          cmdline: "touch lock; echo started > started; exec sleep 100000"
        - name: cleanup
          cmdline: "test -e lock && rm lock && echo cleaned > cleaned"
          final: true
"""
    r = c.cli("job", "create", key, c.job_file(job("final", procs, service=True)), "--wait-until", "RUNNING")
    assert r.rc == 0, r
    sandbox = sandbox_of(c, key)
    wait_for("main to start", lambda: read(os.path.join(sandbox, "started")))
    assert os.path.exists(os.path.join(sandbox, "lock"))
    r = c.cli("job", "kill", key + "/0")
    assert r.rc == 0, r
    wait_for("job killed", lambda: c.job(key)["job"]["state"] == "killed")
    task = c.all_tasks(job=key)[0]
    assert task["state"] == "KILLED"
    assert read(os.path.join(sandbox, "cleaned")) == "cleaned\n"
    assert not os.path.exists(os.path.join(sandbox, "lock"))
    states = {p["name"]: p["state"] for p in task["processes"]}
    assert states == {"main": "KILLED", "cleanup": "SUCCESS"}, task


def test_max_concurrency_runs_one_process_at_a_time(running):
    c = running
    key = "local/www-data/test/concurrency"
    # Each process fails if it ever sees another one running.
    one = ("mkdir running.lock || exit 7; echo {n} >> order; sleep 0.2; rmdir running.lock")
    procs = "".join(f"""        - name: p{n}
          cmdline: "{one.format(n=n)}"
""" for n in range(3))
    r = c.cli("job", "create", key, c.job_file(job("concurrency", procs, extra="      max_concurrency: 1\n")),
              "--wait-until", "FINISHED")
    assert r.rc == 0, r
    assert sorted(read(os.path.join(sandbox_of(c, key), "order")).split()) == ["0", "1", "2"]


def test_task_max_failures_tolerates_a_failed_process(running):
    c = running
    key = "local/www-data/test/tolerant"
    procs = """        - name: bad
          cmdline: "exit 1"
        - name: after-bad
          cmdline: "touch never"
          after: [bad]
        - name: good
          cmdline: "touch good"
"""
    r = c.cli("job", "create", key, c.job_file(job("tolerant", procs, extra="      max_failures: 2\n")),
              "--wait-until", "FINISHED")
    assert r.rc == 0, r
    task = c.all_tasks(job=key)[0]
    states = {p["name"]: p["state"] for p in task["processes"]}
    assert states == {"bad": "FAILED", "after-bad": "WAITING", "good": "SUCCESS"}, task
    sandbox = sandbox_of(c, key)
    assert os.path.exists(os.path.join(sandbox, "good"))
    assert not os.path.exists(os.path.join(sandbox, "never"))


def test_job_inspect_shows_each_process_role(running):
    c = running
    procs = """        - name: a
          cmdline: "true"
          max_failures: 0
          min_duration: 2s
        - name: b
          cmdline: "true"
          after: [a]
          daemon: true
        - name: f
          cmdline: "true"
          final: true
"""
    r = c.cli("job", "inspect", "local/www-data/test/roles", c.job_file(job("roles", procs)))
    assert r.rc == 0, r
    assert "    a: true\n      max_failures 0, min_duration 2s\n" in r.out, r.out
    assert "    b: true\n      daemon, min_duration 5s, after a\n" in r.out, r.out
    assert "    f: true\n      final\n" in r.out, r.out
